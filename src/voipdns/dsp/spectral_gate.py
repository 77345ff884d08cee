"""Per-band soft noise gate (downward expander) whose knobs are plain numbers in dB and ms.

For each band and frame: ``over_db = level_db - (floor_db + threshold_db)``; the gate is open (0 dB) well
above the threshold and closed (``-reduction_db``) well below it, with a logistic knee ``knee_db`` wide:
``gain_db = -reduction_db * (1 - sigmoid(over_db / knee_db))``. ``reduction_db = 0`` is a bypass.
"""

from __future__ import annotations

import torch

#: Power added before taking dB so digital silence stays finite (-100 dB re full scale).
POWER_FLOOR = 1e-10


def power_to_db(power: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(power + POWER_FLOOR)


def db_to_amplitude(gain_db: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, gain_db / 20)


def gate_gain_db(
    level_db: torch.Tensor,
    floor_db: torch.Tensor,
    threshold_db: torch.Tensor,
    reduction_db: torch.Tensor,
    knee_db: float = 3.0,
) -> torch.Tensor:
    """Gain in dB (<= 0) per band and frame; all inputs broadcast to ``[B, bands, frames]``."""
    if knee_db <= 0:
        raise ValueError(f"gate_gain_db: knee_db must be > 0, got {knee_db}")
    openness = torch.sigmoid((level_db - floor_db - threshold_db) / knee_db)
    return -reduction_db * (1 - openness)
