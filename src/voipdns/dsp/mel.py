"""Mel scales and triangular mel filterbanks, in numpy (one implementation for DNSMOS and the speaker fbank).

Two scales, each as its reference uses it: ``slaney`` (linear below 1 kHz, 3 mels per 200 Hz, logarithmic
above; librosa's default, DNSMOS P.808) and ``htk`` (``2595 log10(1 + f / 700)``; the ECAPA front-end). Filters
are unit-peak triangles with edges equally spaced in mel; ``area_norm`` scales each to unit area (Slaney norm).
Imports no torch: scoring workers stay light.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SCALES = ("slaney", "htk")


def hz_to_mel_slaney(freq_hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    mels = freq_hz / (200.0 / 3)
    log_region = freq_hz >= 1000.0
    log_step = np.log(6.4) / 27.0
    mels[log_region] = 15.0 + np.log(freq_hz[log_region] / 1000.0) / log_step
    return mels


def mel_to_hz_slaney(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    freq_hz = mels * (200.0 / 3)
    log_region = mels >= 15.0
    log_step = np.log(6.4) / 27.0
    freq_hz[log_region] = 1000.0 * np.exp(log_step * (mels[log_region] - 15.0))
    return freq_hz


def hz_to_mel_htk(freq_hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(freq_hz, dtype=np.float64) / 700.0)


def mel_to_hz_htk(mels: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mels, dtype=np.float64) / 2595.0) - 1.0)


_SCALES = {"slaney": (hz_to_mel_slaney, mel_to_hz_slaney), "htk": (hz_to_mel_htk, mel_to_hz_htk)}


@lru_cache(maxsize=16)
def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
    scale: str = "slaney",
    area_norm: bool = True,
) -> np.ndarray:
    """``[n_mels, n_fft // 2 + 1]`` float32 triangular filters between ``f_min_hz`` and ``f_max_hz`` (Nyquist
    when None). The array is cached and shared: copy it before writing to it."""
    if scale not in _SCALES:
        raise ValueError(f"mel scale {scale!r}: choose one of {SCALES}")
    f_max_hz = sample_rate / 2.0 if f_max_hz is None else float(f_max_hz)
    if not 0 <= f_min_hz < f_max_hz <= sample_rate / 2:
        raise ValueError(f"mel range must satisfy 0 <= f_min < f_max <= Nyquist, got {f_min_hz}..{f_max_hz} Hz")
    to_mel, to_hz = _SCALES[scale]
    edges_hz = to_hz(np.linspace(to_mel(np.array([f_min_hz]))[0], to_mel(np.array([f_max_hz]))[0], n_mels + 2))
    bins_hz = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if area_norm:
        weights *= 2.0 / (upper - lower)
    return weights.astype(np.float32)
