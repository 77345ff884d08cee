"""Causal pitch comb filter over ``taps`` pitch periods, and per-band pitch coherence.

``p[n] = sum_{k=0}^{taps-1} w_k x[n - k T_t]`` with the frame's fractional period ``T_t``
(linear interpolation) and a raised-cosine taper ``w_k`` that sums to 1. PercepNet centres its 2M+1 = 7
taps on the current sample; that needs ``M`` periods (up to 48 ms) of look-ahead, so here all 7 taps reach
into the past: at the harmonics ``2 pi h / T`` every tap adds in phase, so the harmonics pass with unit
gain and no phase shift, while noise between harmonics is averaged down (at the cost of smearing fast
pitch changes over the 7 periods).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-9


def comb_weights(taps: int) -> torch.Tensor:
    """Raised-cosine taper over ``taps`` periods, normalised to sum 1."""
    if taps < 1:
        raise ValueError(f"comb filter needs >= 1 tap, got {taps}")
    k = torch.arange(taps, dtype=torch.float64)
    weights = torch.sin(math.pi * (k + 1) / (taps + 1)) ** 2
    return (weights / weights.sum()).float()


def comb_filter_frames(
    wave: torch.Tensor, period_samples: torch.Tensor, hop_samples: int, max_period: int, taps: int = 7
) -> torch.Tensor:
    """Comb-filtered (unwindowed) frames ``[B, F, 2 hop]`` for ``wave[B, T]`` and periods ``[B, F]``."""
    batch, frames = period_samples.shape
    span = 2 * hop_samples
    history = (taps - 1) * (max_period + 1) + 1
    padded = F.pad(wave, (hop_samples + history, (frames + 1) * hop_samples))
    # Position in `padded` of frame t, sample n: history + t * hop + n.
    base = history + hop_samples * torch.arange(frames, device=wave.device)
    offsets = torch.arange(span, device=wave.device)
    positions = base[:, None] + offsets[None, :]  # [F, span]
    lags = torch.arange(taps, device=wave.device, dtype=wave.dtype)
    shift = period_samples.clamp(max=float(max_period))[..., None] * lags  # [B, F, taps]
    # Integer positions and the fractional shift are kept apart: a float32 position loses the sub-sample
    # fraction past 2^24 samples (17 min at 16 kHz). position - shift = (index) + frac, frac in (0, 1].
    shift_whole = shift.floor()
    index = positions[None, :, None, :] - shift_whole.long()[..., None] - 1  # [B, F, taps, span]
    frac = (1.0 - (shift - shift_whole))[..., None]
    index = index.clamp(0, padded.shape[-1] - 2)
    flat = index.reshape(batch, -1)
    lower = padded.gather(-1, flat).reshape(index.shape)
    upper = padded.gather(-1, flat + 1).reshape(index.shape)
    taps_out = lower + frac * (upper - lower)
    weights = comb_weights(taps).to(wave)
    return (taps_out * weights[:, None]).sum(-2)


def band_energy(spectra: torch.Tensor, filterbank: torch.Tensor) -> torch.Tensor:
    """``[B, F, K]`` complex -> ``[B, F, bands]`` band energies."""
    return (spectra.real.square() + spectra.imag.square()) @ filterbank.T


def band_coherence(spectra: torch.Tensor, pitch_spectra: torch.Tensor, filterbank: torch.Tensor) -> torch.Tensor:
    """Per-band normalised correlation ``Re<Y, P> / sqrt(E_Y E_P)`` in [-1, 1] (PercepNet pitch coherence)."""
    cross = (spectra.real * pitch_spectra.real + spectra.imag * pitch_spectra.imag) @ filterbank.T
    energy = band_energy(spectra, filterbank) * band_energy(pitch_spectra, filterbank)
    return (cross / torch.sqrt(energy + EPS)).clamp(-1.0, 1.0)
