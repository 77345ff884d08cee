"""The small base class every enhancement net shares (no parameters, so state_dict keys stay official)."""

from __future__ import annotations

import torch
from torch import nn


class EnhancementNet(nn.Module):
    """A waveform-in, waveform-out enhancer.

    Subclasses implement ``forward(noisy[B, 1, T]) -> estimate[B, 1, T]`` (same length) and override
    ``training_outputs`` when their loss needs more than the waveform (masks, gains, VAD logits).
    """

    sample_rate: int = 16000
    #: Samples of future input the net needs before it can emit a sample (0 for offline nets' streaming use).
    latency_samples: int = 0

    def valid_length(self, length: int) -> int:
        """Smallest input length >= ``length`` the net handles without internal padding."""
        return length

    def training_outputs(self, batch: dict) -> dict:
        return {"estimate": self(batch["noisy"])}

    @torch.no_grad()
    def enhance(self, noisy: torch.Tensor) -> torch.Tensor:
        """Inference on ``[1, T]`` or ``[B, 1, T]``; returns the same shape."""
        squeeze = noisy.dim() == 2
        estimate = self(noisy.unsqueeze(0) if squeeze else noisy)
        return estimate.squeeze(0) if squeeze else estimate
