"""Negative scale-invariant signal-to-noise ratio (SI-SNR, Le Roux et al. 2019) between estimate and clean."""

from __future__ import annotations

import torch
from torch import nn

from voipdns.dsp.scale_invariant import projection_energies, zero_mean

#: Added to both energies: silence (zero reference or estimate) gives a finite value and finite gradients.
DEFAULT_EPS = 1e-8


def si_snr_db(estimate: torch.Tensor, reference: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """SI-SNR in dB over the last axis, after removing each signal's mean; shape = input shape minus time.

    ``target = <est, ref> / (|ref|^2 + eps) * ref``;
    ``SI-SNR = 10 log10((|target|^2 + eps) / (|est - target|^2 + eps))``.
    """
    target_energy, noise_energy = projection_energies(zero_mean(estimate), zero_mean(reference), eps)
    return 10 * torch.log10((target_energy + eps) / (noise_energy + eps))


class SiSnrLoss(nn.Module):
    """``-scale * mean(SI-SNR)`` in dB between ``outputs["estimate"]`` and ``batch["clean"]`` (``[B, 1, T]``).

    ``scale=0.1`` gives GTCRN's ``-log10`` of the SI-SNR power ratio.
    """

    def __init__(self, eps: float = DEFAULT_EPS, scale: float = 1.0):
        super().__init__()
        if eps <= 0:
            raise ValueError(f"SiSnrLoss: eps must be > 0, got {eps}")
        self.eps, self.scale = float(eps), float(scale)

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        name = type(self).__name__
        if "estimate" not in outputs:
            raise KeyError(f"{name}: outputs has no 'estimate' (keys: {sorted(outputs)})")
        if "clean" not in batch:
            raise KeyError(f"{name}: batch has no 'clean' reference (keys: {sorted(batch)})")
        estimate, clean = outputs["estimate"], batch["clean"]
        if estimate.shape != clean.shape:
            raise ValueError(f"{name}: estimate {list(estimate.shape)} and clean {list(clean.shape)} differ in shape")
        return -self.scale * si_snr_db(estimate, clean, self.eps).mean()
