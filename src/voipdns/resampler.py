"""The project's one resampler: soxr HQ along the last axis, numpy or torch in, the same type out.

soxr's HQ filter is linear-phase and delay-compensated, so resampled signals stay sample-aligned (the channel
simulator and the metrics rely on it). Output length is ``round(T * target_sr / orig_sr)``. Imports no torch:
numpy callers (scoring workers, the channel simulator) stay light; a torch tensor comes back on its own
device and dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr


def _resample_array(array: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    lead_shape, length = array.shape[:-1], array.shape[-1]
    frames = np.ascontiguousarray(array.reshape(-1, length).T)  # soxr wants [T, channels]
    out = soxr.resample(frames, orig_sr, target_sr, quality="HQ")
    return np.ascontiguousarray(out.T).reshape(*lead_shape, out.shape[0])


def resample(wav: Any, orig_sr: int, target_sr: int) -> Any:
    """Resample the last axis of ``wav`` (numpy array or torch tensor, any leading axes) from ``orig_sr`` to
    ``target_sr`` Hz; equal rates return ``wav`` itself."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got orig_sr={orig_sr}, target_sr={target_sr}")
    if orig_sr == target_sr:
        return wav
    if hasattr(wav, "detach"):  # a torch tensor: torch is loaded already
        import torch

        out = _resample_array(wav.detach().to("cpu", torch.float32).numpy(), orig_sr, target_sr)
        return torch.from_numpy(out).to(device=wav.device, dtype=wav.dtype)
    return _resample_array(np.asarray(wav), orig_sr, target_sr)


def stream_resampler(orig_sr: int, target_sr: int) -> soxr.ResampleStream | None:
    """A chunk-by-chunk mono float32 resampler (``resample_chunk(block, last=False)``) with the same filter, for
    streams (long files read in blocks, live devices); None when the rates are equal."""
    return soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32") if orig_sr != target_sr else None
