"""Causal per-frame pitch estimate by normalised cross-correlation (vectorised, FFT-based).

For the frame layout of :mod:`voipdns.dsp.percepnet_frames` (frame t = input ``[(t-1) hop, (t+1) hop)``), the
frame's samples ``a[n]`` are correlated with the same span ``tau`` samples earlier (past input only, so it can
stream). ``r(tau) = <a, a_tau> / sqrt(|a|^2 |a_tau|^2)`` for ``tau`` in ``[sr / max_hz, sr / min_hz]``.
To avoid octave-down errors (``r(2T) ~ r(T)`` for periodic input) the chosen period is the *smallest* local
maximum within ``threshold`` of the best correlation; parabolic interpolation refines it below one sample.
A peak must also rise ``prominence`` above the lowest correlation at shorter lags: a low-pass (non-periodic)
frame has a slowly decaying ``r(tau)`` whose small ripples would otherwise pass as a high-pitched "peak".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-9


def remove_slow_drift(wave: torch.Tensor, sample_rate: int, cutoff_hz: float = 50.0) -> torch.Tensor:
    """Subtract a causal moving average of ``1 / cutoff_hz`` seconds: DC and rumble below ~``cutoff_hz``
    would otherwise correlate at every lag and read as "voiced" with a period at the search boundary."""
    length = max(1, int(round(sample_rate / cutoff_hz)))
    sums = F.pad(wave, (length, 0)).cumsum(-1)
    return wave - (sums[..., length:] - sums[..., :-length]) / length


def period_range_samples(sample_rate: int, min_hz: float, max_hz: float) -> tuple[int, int]:
    if not 0 < min_hz < max_hz < sample_rate / 2:
        raise ValueError(f"pitch range must satisfy 0 < min_hz < max_hz < Nyquist, got {min_hz}..{max_hz} Hz")
    return int(math.floor(sample_rate / max_hz)), int(math.ceil(sample_rate / min_hz))


def _frames_with_history(wave: torch.Tensor, hop_samples: int, history: int) -> torch.Tensor:
    """``[B, F, history + 2 hop]``: each frame's span preceded by ``history`` past samples."""
    frames = -(-wave.shape[-1] // hop_samples) + 1
    total = (frames + 1) * hop_samples + history
    padded = F.pad(wave, (hop_samples + history, total - hop_samples - history - wave.shape[-1]))
    return padded.unfold(-1, history + 2 * hop_samples, hop_samples)


def normalized_correlation(wave: torch.Tensor, hop_samples: int, max_period: int) -> torch.Tensor:
    """``r[B, F, max_period + 1]``: correlation of each frame with itself ``tau`` samples earlier."""
    span = 2 * hop_samples
    context = _frames_with_history(wave, hop_samples, max_period)  # [B, F, max_period + span]
    target = context[..., max_period:]
    n_fft = 1 << (context.shape[-1] + span - 1).bit_length()
    spec = torch.fft.rfft(context, n=n_fft) * torch.conj(torch.fft.rfft(target, n=n_fft))
    cross = torch.fft.irfft(spec, n=n_fft)[..., : max_period + 1]  # cross[k] = <target, context[k:k+span]>
    cross = cross.flip(-1)  # index tau = max_period - k
    sq = F.pad(context.square().cumsum(-1), (1, 0))
    lagged_energy = (sq[..., span:] - sq[..., :-span])[..., : max_period + 1].flip(-1)
    target_energy = target.square().sum(-1, keepdim=True)
    return cross / torch.sqrt(target_energy * lagged_energy + EPS)


def pick_period(
    corr: torch.Tensor, min_period: int, max_period: int, threshold: float = 0.85, prominence: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Smallest local maximum of ``corr`` within ``threshold * best``; -> (fractional period, correlation)."""
    lags = torch.arange(corr.shape[-1], device=corr.device)
    left = F.pad(corr[..., :-1], (1, 0), value=-2.0)
    right = F.pad(corr[..., 1:], (0, 1), value=-2.0)
    in_range = (lags >= min_period) & (lags <= max_period)
    searched = torch.where(in_range, corr, torch.full_like(corr, -2.0))
    best = searched.amax(-1, keepdim=True)
    peak = in_range & (corr >= left) & (corr >= right) & (corr >= threshold * best) & (lags > min_period)
    dip_before = corr.cummin(-1).values  # lowest r over lags 0..tau
    peak = peak & (lags < max_period) & (corr - dip_before >= prominence)
    # First peak lag; frames without an interior peak fall back to the arg-max.
    first_peak = torch.where(peak, lags, torch.full_like(lags, corr.shape[-1])).amin(-1)
    has_peak = first_peak < corr.shape[-1]
    period = torch.where(has_peak, first_peak, searched.argmax(-1))
    centre = corr.gather(-1, period.unsqueeze(-1)).squeeze(-1)
    before = corr.gather(-1, (period - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)
    after = corr.gather(-1, (period + 1).clamp(max=corr.shape[-1] - 1).unsqueeze(-1)).squeeze(-1)
    curvature = before - 2.0 * centre + after
    offset = torch.where(curvature < -EPS, 0.5 * (before - after) / curvature.clamp(max=-EPS), 0.0 * curvature)
    offset = offset.clamp(-0.5, 0.5)
    fractional = (period.to(corr.dtype) + offset).clamp(float(min_period), float(max_period))
    # A maximum on the search boundary is no pitch (trend or out-of-range f0): report it as unvoiced.
    return fractional, torch.where(has_peak, centre.clamp(0.0, 1.0), torch.zeros_like(centre))


def estimate_pitch(
    wave: torch.Tensor,
    sample_rate: int,
    hop_samples: int,
    min_hz: float = 62.5,
    max_hz: float = 800.0,
    threshold: float = 0.85,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch period (samples, fractional) and pitch correlation in [0, 1] per frame, each ``[B, F]``.

    ``wave`` is ``[B, T]``. Silent or unvoiced frames give a low correlation; their period is meaningless.
    """
    if wave.dim() != 2:
        raise ValueError(f"estimate_pitch expects [batch, samples], got shape {tuple(wave.shape)}")
    min_period, max_period = period_range_samples(sample_rate, min_hz, max_hz)
    wave = remove_slow_drift(wave, sample_rate, 0.8 * min_hz)
    corr = normalized_correlation(wave, hop_samples, max_period + 1)
    return pick_period(corr, min_period, max_period, threshold)
