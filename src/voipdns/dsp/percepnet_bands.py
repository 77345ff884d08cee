"""PercepNet band layout: ERB-spaced triangular bands computed from the sample rate.

``n_bands`` inner bands plus two edge bands (DC and Nyquist half-triangles): ``n_bands + 2`` band centres from
0 Hz to Nyquist, equally spaced on the ERB-rate scale ``E(f) = 21.4 log10(1 + 0.00437 f)`` except that no two
centres are closer than ``min_band_hz`` (low ERB bands are narrower than an FFT bin). Each band is a triangle
from the previous centre to the next one, so the weights of every bin sum to 1: ``gains @ weights``
interpolates band values linearly to bins. (``voipdns.dsp.erb_bands`` is a separate layout used by
the DSP denoiser.)
"""

from __future__ import annotations

import math

import torch


def hz_to_erb_rate(freq_hz: float) -> float:
    return 21.4 * math.log10(1.0 + 0.00437 * freq_hz)


def erb_rate_to_hz(erb: float) -> float:
    return (10.0 ** (erb / 21.4) - 1.0) / 0.00437


def _centres_for_step(step_erb: float, count: int, min_band_hz: float) -> list[float]:
    centres = [0.0]
    for _ in range(count - 1):
        prev = centres[-1]
        centres.append(max(erb_rate_to_hz(hz_to_erb_rate(prev) + step_erb), prev + min_band_hz))
    return centres


def band_centres_hz(sample_rate: int, n_bands: int = 32, min_band_hz: float = 50.0) -> list[float]:
    """``n_bands + 2`` centres from 0 Hz to ``sample_rate / 2`` (ERB-uniform with a minimum spacing)."""
    nyquist = sample_rate / 2.0
    count = n_bands + 2
    if n_bands < 1:
        raise ValueError(f"n_bands must be >= 1, got {n_bands}")
    if min_band_hz * (count - 1) > nyquist:
        raise ValueError(
            f"{n_bands} bands with min_band_hz={min_band_hz} do not fit below Nyquist {nyquist} Hz; "
            "use fewer bands or a smaller min_band_hz"
        )
    # Bisection on the ERB step so the last centre lands on Nyquist.
    low, high = 0.0, hz_to_erb_rate(nyquist)
    for _ in range(100):
        mid = 0.5 * (low + high)
        if _centres_for_step(mid, count, min_band_hz)[-1] > nyquist:
            high = mid
        else:
            low = mid
    centres = _centres_for_step(low, count, min_band_hz)
    centres[-1] = nyquist
    return centres


def band_centre_bins(sample_rate: int, n_fft: int, n_bands: int = 32, min_band_hz: float | None = None) -> list[int]:
    """Band centres as FFT-bin indices (strictly increasing, first 0, last ``n_fft // 2``)."""
    bin_hz = sample_rate / n_fft
    min_hz = bin_hz if min_band_hz is None else max(min_band_hz, bin_hz)
    centres = band_centres_hz(sample_rate, n_bands, min_hz)
    # floor(x + 0.5) is monotone, so centres >= 1 bin apart stay distinct after rounding.
    return [int(math.floor(c / bin_hz + 0.5)) for c in centres]


def triangular_filterbank(centre_bins: list[int], n_bins: int) -> torch.Tensor:
    """``[n_bands_total, n_bins]`` triangle weights; every column sums to 1."""
    weights = torch.zeros(len(centre_bins), n_bins)
    for band in range(len(centre_bins) - 1):
        start, stop = centre_bins[band], centre_bins[band + 1]
        for k in range(start, stop):
            frac = (k - start) / (stop - start)
            weights[band, k] = 1.0 - frac
            weights[band + 1, k] = frac
    weights[-1, centre_bins[-1]] = 1.0
    return weights


def percepnet_filterbank(
    sample_rate: int, n_fft: int, n_bands: int = 32, min_band_hz: float | None = None
) -> torch.Tensor:
    """The PercepNet band matrix ``[n_bands + 2, n_fft // 2 + 1]`` for this sample rate."""
    return triangular_filterbank(band_centre_bins(sample_rate, n_fft, n_bands, min_band_hz), n_fft // 2 + 1)
