"""Digital silence: a signal no metric can score. Shared so every scorer calls the same thing silent.

A clip is silent when, after removing its mean (a DC offset carries no sound), no sample reaches
``SILENT_PEAK``: below one step of 16-bit PCM (1 / 32768 = 3.05e-5), so any 16-bit file with a single
non-zero sample after DC removal counts as sound. A silent reference leaves STOI, PESQ and SI-SDR undefined
(pystoi returns 0, which would pull a mean down as if the model had failed); a silent clip gives DNSMOS and
PLCMOS nothing to rate.
"""

from __future__ import annotations

import numpy as np

from voipdns.metrics.scoring import MetricFailure

SILENT_PEAK = 1e-5  # linear full scale, -100 dBFS


def is_silent(wav: np.ndarray) -> bool:
    wav = np.asarray(wav, dtype=np.float64)
    return wav.size == 0 or float(np.max(np.abs(wav - wav.mean()))) < SILENT_PEAK


def require_sound(wav: np.ndarray, what: str) -> None:
    """Raise ``MetricFailure("<what> is silent ...")`` when ``wav`` is digital silence."""
    if is_silent(wav):
        raise MetricFailure(f"{what} is silent (no sample above -100 dBFS after removing DC)")


def require_seconds(wav: np.ndarray, sample_rate: int, min_seconds: float, metric: str) -> None:
    """Raise ``MetricFailure`` naming the clip length when ``wav`` is shorter than ``min_seconds``."""
    if wav.size < min_seconds * sample_rate:
        raise MetricFailure(f"clip is {wav.size / sample_rate:.3f} s; {metric} needs at least {min_seconds} s")
