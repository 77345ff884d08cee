"""PercepNet training targets from band energies and pitch coherences of clean and noisy frames.

Ideal gain (band amplitude ratio): ``g_b = clip(X_b / (1e-4 + Y_b), 0, 1)`` with ``X_b = sqrt(E_clean,b)`` and
``Y_b = sqrt(E_noisy,b)``.

Ideal pitch-filter strength. Model a noisy band as a periodic part (energy fraction ``q_y^2``, ``q_y`` = noisy
pitch coherence) plus aperiodic noise, and the comb-filtered signal as the periodic part alone. Mixing
``Z = (1 - r) Y + r P`` keeps the periodic part and scales the aperiodic part by ``(1 - r)``, so the periodic
fraction of ``Z`` is ``q_y^2 / (q_y^2 + (1 - r)^2 (1 - q_y^2))``. Setting it equal to the clean band's
``q_x^2`` gives

    r_b = 1 - sqrt( q_y^2 (1 - q_x^2) / (q_x^2 (1 - q_y^2)) ),  clipped to [0, 1]

(``r_b = 0`` when the noisy band is already as periodic as the clean one; ``r_b -> 1`` for clean harmonics).
Coherences are clamped to ``[0, 1 - 1e-3]`` first so the formula stays finite on silent or pure-tone input.
"""

from __future__ import annotations

import torch

GAIN_FLOOR = 1e-4
MAX_COHERENCE = 1.0 - 1e-3
EPS = 1e-9


def ideal_gains(clean_energy: torch.Tensor, noisy_energy: torch.Tensor) -> torch.Tensor:
    """Band energies ``[..., bands]`` -> ideal gains in [0, 1]."""
    ratio = torch.sqrt(clean_energy.clamp(min=0.0)) / (GAIN_FLOOR + torch.sqrt(noisy_energy.clamp(min=0.0)))
    return ratio.clamp(0.0, 1.0)


def ideal_strengths(clean_coherence: torch.Tensor, noisy_coherence: torch.Tensor) -> torch.Tensor:
    """Pitch coherences ``[..., bands]`` of clean and noisy frames -> ideal strengths in [0, 1]."""
    q_x2 = clean_coherence.clamp(0.0, MAX_COHERENCE).square()
    q_y2 = noisy_coherence.clamp(0.0, MAX_COHERENCE).square()
    # EPS in both terms: two aperiodic bands (q_x = q_y = 0, e.g. silence) give r = 0, not 0/0.
    residual = (q_y2 * (1.0 - q_x2) + EPS) / (q_x2 * (1.0 - q_y2) + EPS)
    strength = 1.0 - torch.sqrt(residual.clamp(0.0, 1.0))
    return strength.clamp(0.0, 1.0)
