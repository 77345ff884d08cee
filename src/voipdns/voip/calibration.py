"""Codec delay measured once per codec configuration, so every decoded signal comes back sample-aligned.

Codecs add look-ahead and filter delay (Opus 6.5 ms, AMR-NB 5 ms, G.722's QMF 22 samples); what a given
encoder/decoder pair adds is measured by round-tripping a synthetic voiced signal through it (no loss) and
cross-correlating with the input (`voipdns.data.alignment.estimate_delay`). Speech-like input matters: CELP
codecs (AMR, Opus SILK) do not reproduce white noise or pure tones sample by sample, but they do keep the
phase of voiced speech.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
from scipy import signal

from voipdns.data.alignment import estimate_delay

CALIBRATION_SECONDS = 1.5
#: (centre Hz, bandwidth Hz) of the three formant resonators of the synthetic vowel
FORMANTS = ((700.0, 130.0), (1220.0, 170.0), (2600.0, 250.0))


def calibration_signal(sample_rate: int, seconds: float = CALIBRATION_SECONDS) -> np.ndarray:
    """A deterministic synthetic vowel: glottal pulses gliding 110 -> 230 Hz through three formants, with a
    4 Hz syllable envelope and 30 ms pauses; peak 0.5."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0_hz = 110.0 + 120.0 * t / seconds
    phase = np.cumsum(f0_hz) / sample_rate
    pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per pitch period
    voiced = signal.lfilter([1.0], [1.0, -0.95], pulses)  # glottal roll-off
    for centre_hz, bandwidth_hz in FORMANTS:
        if centre_hz < sample_rate / 2:
            radius = np.exp(-np.pi * bandwidth_hz / sample_rate)
            theta = 2 * np.pi * centre_hz / sample_rate
            voiced = signal.lfilter([1.0 - radius], [1.0, -2 * radius * np.cos(theta), radius**2], voiced)
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5
    out = voiced * syllables
    return (0.5 * out / (np.abs(out).max() + 1e-12)).astype(np.float32)


_DELAYS: dict[Hashable, int] = {}


def measure_codec_delay(key: Hashable, sample_rate: int, round_trip: Callable[[np.ndarray], np.ndarray]) -> int:
    """Delay in samples that `round_trip` (encode + decode without loss, at `sample_rate`) adds; cached by
    `key`
    (the codec's configuration) for the life of the process (each worker measures once, ~10 ms)."""
    if key not in _DELAYS:
        reference = calibration_signal(sample_rate)
        decoded = round_trip(reference)
        estimate = estimate_delay(
            reference,
            decoded,
            sample_rate,
            max_delay_seconds=0.25,
            min_correlation=0.3,
            name=f"codec calibration {key}",
        )
        _DELAYS[key] = estimate.delay_samples
    return _DELAYS[key]
