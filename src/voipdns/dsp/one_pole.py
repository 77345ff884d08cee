"""Differentiable one-pole smoothing along time with separate attack and release time constants.

``y[t] = a * y[t-1] + (1 - a) * x[t]`` with ``a = exp(-hop / tau)``: ``tau`` is the time to cover 63 % of a
step. ``a`` is the attack coefficient while the input is above the output (a gain opening) and the release
coefficient otherwise, as in a dynamics processor. The recursion runs frame by frame (gradients flow through
the inputs and through both coefficients).
"""

from __future__ import annotations

import torch


def time_constant_coefficient(time_ms: torch.Tensor, hop_ms: float) -> torch.Tensor:
    """One-pole coefficient ``exp(-hop_ms / time_ms)`` for time constants in milliseconds (> 0)."""
    return torch.exp(-hop_ms / time_ms.clamp(min=1e-3))


def attack_release_smooth(x: torch.Tensor, attack: torch.Tensor, release: torch.Tensor) -> torch.Tensor:
    """Smooth ``x[B, C, frames]`` along the last axis; ``attack``/``release`` broadcast to ``[B, C, frames]``.

    The first output frame equals the first input frame (no ramp-in from an arbitrary start value).
    """
    frames = x.shape[-1]
    attack, release = (c.expand(*x.shape[:-1], c.shape[-1]) for c in (attack, release))
    per_frame = attack.shape[-1] == frames

    def coef(c: torch.Tensor, t: int) -> torch.Tensor:
        return c[..., t] if per_frame else c[..., 0]

    outputs = [x[..., 0]]
    for t in range(1, frames):
        previous, current = outputs[-1], x[..., t]
        a = torch.where(current > previous, coef(attack, t), coef(release, t))
        outputs.append(a * previous + (1 - a) * current)
    return torch.stack(outputs, dim=-1)
