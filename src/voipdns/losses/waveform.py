"""Sample-wise waveform losses between ``outputs["estimate"]`` and ``batch["clean"]`` (both ``[B, 1, T]``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _pair(outputs: dict, batch: dict, term: str) -> tuple[torch.Tensor, torch.Tensor]:
    if "estimate" not in outputs:
        raise KeyError(f"{term}: outputs has no 'estimate' (keys: {sorted(outputs)})")
    if "clean" not in batch:
        raise KeyError(f"{term}: batch has no 'clean' reference (keys: {sorted(batch)}); noisy-only data?")
    estimate, clean = outputs["estimate"], batch["clean"]
    if estimate.shape != clean.shape:
        raise ValueError(f"{term}: estimate {list(estimate.shape)} and clean {list(clean.shape)} differ in shape")
    return estimate, clean


class WaveformL1Loss(nn.Module):
    """Mean absolute error over all samples (the Demucs base loss)."""

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        return F.l1_loss(estimate, clean)


class WaveformL2Loss(nn.Module):
    """Mean squared error over all samples."""

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        return F.mse_loss(estimate, clean)
