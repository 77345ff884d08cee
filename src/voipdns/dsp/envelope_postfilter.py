"""PercepNet envelope post-filter: sharpen the gain envelope, then restore the frame energy.

Warped gains ``g_w = g sin(pi g / 2)`` attenuate weak (noisy) bands more than strong ones. The frame is then
scaled by ``sqrt((1 + beta) E_0 / (beta E_0 + E_1))``, with ``E_0`` / ``E_1`` the frame energies with the
plain / warped gains, so a frame whose energy sits in strong bands keeps its loudness (``beta = 0.02``
caps the boost at ``sqrt(51)``).
"""

from __future__ import annotations

import math

import torch

EPS = 1e-9


def warp_gains(gains: torch.Tensor) -> torch.Tensor:
    return gains * torch.sin(0.5 * math.pi * gains)


def frame_energy_scale(plain: torch.Tensor, warped: torch.Tensor, beta: float = 0.02) -> torch.Tensor:
    """Per-frame amplitude factor for complex spectra ``[B, F, K]`` -> ``[B, F, 1]``."""
    if beta <= 0:
        raise ValueError(f"envelope post-filter beta must be > 0, got {beta}")
    energy_plain = (plain.real.square() + plain.imag.square()).sum(-1, keepdim=True)
    energy_warped = (warped.real.square() + warped.imag.square()).sum(-1, keepdim=True)
    return torch.sqrt((1.0 + beta) * energy_plain / (beta * energy_plain + energy_warped + EPS) + EPS)
