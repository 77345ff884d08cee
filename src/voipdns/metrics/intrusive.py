"""Intrusive metrics (need the clean reference): PESQ wide/narrow band, STOI, ESTOI, SI-SDR.

Each ``fn(clean, estimate, sample_rate) -> float`` takes float 1-D arrays of equal length and raises
:class:`MetricFailure` when the value is undefined, so a failure is NaN + a reason, never a score of 0.
:func:`score_clip` (re-exported here, the entry point of the architecture contract) runs any subset.
"""

from __future__ import annotations

import warnings

import numpy as np
import pesq as pesq_lib
from pystoi import stoi as pystoi_stoi

from voipdns.dsp.scale_invariant import projection_energies, zero_mean
from voipdns.metrics.scoring import ClipScores, MetricFailure, register_scorer, score_clip
from voipdns.metrics.silence import require_seconds, require_sound
from voipdns.resampler import resample

__all__ = [
    "DEFAULT_METRICS",
    "ClipScores",
    "MetricFailure",
    "estoi",
    "pesq_nb",
    "pesq_wb",
    "score_clip",
    "si_sdr",
    "stoi",
]

DEFAULT_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr")

PESQ_WB_RATE_HZ = 16000  # P.862.2 is defined at 16 kHz only
PESQ_NB_RATE_HZ = 8000  # P.862 narrow band, the telephone band
PESQ_MIN_SECONDS = 0.25  # the pesq library refuses shorter buffers
# Beyond this the residual is float rounding, not distortion; caps x-vs-2x at a finite "perfect" score.
SI_SDR_MAX_DB = 150.0


def _require_both_sound(clean: np.ndarray, estimate: np.ndarray) -> None:
    require_sound(clean, "clean reference")
    require_sound(estimate, "estimate")


def _pesq(clean: np.ndarray, estimate: np.ndarray, sample_rate: int, rate_hz: int, mode: str) -> float:
    require_seconds(clean, sample_rate, PESQ_MIN_SECONDS, "PESQ")
    _require_both_sound(clean, estimate)
    reference = resample(clean, sample_rate, rate_hz)
    degraded = resample(estimate, sample_rate, rate_hz)
    try:
        return float(pesq_lib.pesq(rate_hz, reference, degraded, mode))
    except pesq_lib.PesqError as error:
        message = error.args[0] if error.args else type(error).__name__
        message = message.decode() if isinstance(message, bytes) else str(message)
        raise MetricFailure(f"{type(error).__name__}: {message}") from error


@register_scorer("pesq_wb")
def _pesq_wb_scorer(clean, estimate, noisy, sample_rate):
    return {"pesq_wb": pesq_wb(clean, estimate, sample_rate)}


def pesq_wb(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.04..4.64), computed at 16 kHz (other rates resampled)."""
    return _pesq(clean, estimate, sample_rate, PESQ_WB_RATE_HZ, "wb")


@register_scorer("pesq_nb")
def _pesq_nb_scorer(clean, estimate, noisy, sample_rate):
    return {"pesq_nb": pesq_nb(clean, estimate, sample_rate)}


def pesq_nb(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Narrow-band PESQ (ITU-T P.862 MOS-LQO, up to ~4.55) on both signals resampled to 8 kHz."""
    return _pesq(clean, estimate, sample_rate, PESQ_NB_RATE_HZ, "nb")


def _stoi(clean: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool) -> float:
    _require_both_sound(clean, estimate)  # pystoi returns 0 for silence, a number that would enter the mean
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(pystoi_stoi(clean, estimate, sample_rate, extended=extended))
    # pystoi returns 1e-5 with a RuntimeWarning when < 30 frames (384 ms of speech) survive silence removal
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise MetricFailure("fewer than 30 non-silent STFT frames (about 0.4 s of speech) remain")
    return value


@register_scorer("stoi")
def _stoi_scorer(clean, estimate, noisy, sample_rate):
    return {"stoi": stoi(clean, estimate, sample_rate)}


def stoi(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Short-time objective intelligibility (Taal et al. 2011), 0..1."""
    return _stoi(clean, estimate, sample_rate, extended=False)


@register_scorer("estoi")
def _estoi_scorer(clean, estimate, noisy, sample_rate):
    return {"estoi": estoi(clean, estimate, sample_rate)}


def estoi(clean: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Extended STOI (Jensen & Taal 2016), for modulated noise; 0..1."""
    return _stoi(clean, estimate, sample_rate, extended=True)


@register_scorer("si_sdr")
def _si_sdr_scorer(clean, estimate, noisy, sample_rate):
    return {"si_sdr": si_sdr(clean, estimate, sample_rate)}


def si_sdr(clean: np.ndarray, estimate: np.ndarray, sample_rate: int | None = None) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019) of zero-mean signals; at most ``SI_SDR_MAX_DB``.

    ``sample_rate`` is unused (SI-SDR is rate-free) and only keeps the metric signature uniform.
    """
    reference = zero_mean(np.asarray(clean, dtype=np.float64))
    degraded = zero_mean(np.asarray(estimate, dtype=np.float64))
    _require_both_sound(reference, degraded)
    target_energy, residual_energy = map(float, projection_energies(degraded, reference))  # the loss's formula
    if target_energy == 0.0:
        raise MetricFailure("estimate is orthogonal to the reference (SI-SDR is -inf)")
    floor = target_energy * 10.0 ** (-SI_SDR_MAX_DB / 10.0)
    return float(10.0 * np.log10(target_energy / max(residual_energy, floor)))
