"""Causal per-band noise-floor tracking by minimum statistics (Martin 2001, simplified).

The band level (dB) is first averaged over a short causal window, then the noise floor at frame ``t`` is the
minimum of that smoothed level over the previous ``window`` frames (frame ``t`` included). Speech pauses and
valleys between harmonics bring the minimum down to the noise level within one window; at the start of a
clip the minimum is taken over the frames seen so far. The minimum sits a few dB under the mean noise level,
which the gate's threshold (relative to this floor) absorbs.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def causal_moving_average(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Mean of the last ``frames`` frames of ``x[B, C, T]`` (the first frame repeated before the start)."""
    if frames <= 1:
        return x
    padded = F.pad(x, (frames - 1, 0), mode="replicate")
    return F.avg_pool1d(padded, frames, stride=1)


def causal_running_min(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Minimum of the last ``frames`` frames of ``x[B, C, T]``."""
    if frames <= 1:
        return x
    padded = F.pad(x, (frames - 1, 0), mode="replicate")
    return -F.max_pool1d(-padded, frames, stride=1)


def minimum_statistics_floor_db(level_db: torch.Tensor, smooth_frames: int, window_frames: int) -> torch.Tensor:
    """Noise floor in dB of ``level_db[B, bands, frames]``, same shape."""
    return causal_running_min(causal_moving_average(level_db, smooth_frames), window_frames)
