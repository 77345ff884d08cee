"""ERB-spaced triangular band filterbank whose layout follows the sample rate and FFT size.

Band centres are spaced evenly on the ERB-number scale (Glasberg & Moore 1990) from ``min_hz`` to Nyquist and
rounded to FFT bins, at least one bin apart. Weights are triangles between neighbouring centres; below the
first and above the last centre the edge band takes the whole bin. Every bin's weights sum to 1, so band gains
spread back to bins (``bands_to_bins``) reproduce a constant gain exactly.
"""

from __future__ import annotations

import math

import torch


def hz_to_erb_number(hz: float) -> float:
    return 21.4 * math.log10(1.0 + 0.00437 * hz)


def erb_number_to_hz(erb: float) -> float:
    return (10 ** (erb / 21.4) - 1.0) / 0.00437


def erb_centre_bins(sample_rate: int, n_fft: int, num_bands: int, min_hz: float = 50.0) -> list[int]:
    """Centre bin of each band, strictly increasing, first near ``min_hz``, last at Nyquist."""
    nyquist_hz, last_bin = sample_rate / 2, n_fft // 2
    if num_bands < 2 or not 0 <= min_hz < nyquist_hz:
        raise ValueError(f"erb bands: need num_bands >= 2 and 0 <= min_hz < {nyquist_hz} Hz, got {num_bands}, {min_hz}")
    low, high = hz_to_erb_number(min_hz), hz_to_erb_number(nyquist_hz)
    centres: list[int] = []
    for band in range(num_bands):
        hz = erb_number_to_hz(low + (high - low) * band / (num_bands - 1))
        wanted = round(hz * n_fft / sample_rate)
        centres.append(max(wanted, centres[-1] + 1) if centres else wanted)
    if centres[-1] > last_bin:
        raise ValueError(
            f"erb bands: {num_bands} bands from {min_hz} Hz do not fit in {last_bin + 1} bins "
            f"(n_fft {n_fft} at {sample_rate} Hz); use fewer bands or a larger FFT"
        )
    return centres


def triangular_filterbank(centres: list[int], num_bins: int) -> torch.Tensor:
    """``[bands, bins]`` weights; columns sum to 1 (partition of unity)."""
    weights = torch.zeros(len(centres), num_bins)
    weights[0, : centres[0] + 1] = 1.0
    weights[-1, centres[-1] :] = 1.0
    for band, (left, right) in enumerate(zip(centres[:-1], centres[1:], strict=True)):
        bins = torch.arange(left, right + 1, dtype=torch.float32)
        rise = (bins - left) / (right - left)
        weights[band, left : right + 1] = 1.0 - rise
        weights[band + 1, left : right + 1] = rise
    return weights


def erb_filterbank(sample_rate: int, n_fft: int, num_bands: int, min_hz: float = 50.0) -> torch.Tensor:
    """``[num_bands, n_fft // 2 + 1]`` ERB triangular weights for this sample rate and FFT size."""
    return triangular_filterbank(erb_centre_bins(sample_rate, n_fft, num_bands, min_hz), n_fft // 2 + 1)


def band_power(power: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean power per band: ``power[B, bins, frames] -> [B, bands, frames]``."""
    return torch.einsum("kf,bft->bkt", weights / weights.sum(dim=1, keepdim=True), power)


def bands_to_bins(band_values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Interpolate per-band values to bins: ``[B, bands, frames] -> [B, bins, frames]``."""
    return torch.einsum("kf,bkt->bft", weights, band_values)
