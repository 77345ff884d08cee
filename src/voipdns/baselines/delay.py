"""Measures a baseline's fixed algorithmic delay: how far its raw output lags its input, in samples at its rate.

A speech clip from the embedded synthesiser (16 kHz, resampled to the engine's rate) goes through a fresh engine
without compensation; the lag comes from ``voipdns.data.alignment.estimate_delay`` (envelope then waveform
cross-correlation, sample-exact). The engines' ``DELAY_SAMPLES`` constants hold what this measured; a test
measures again and compares, so a wheel update that changes the delay fails loudly instead of skewing STOI.
"""

from __future__ import annotations

import numpy as np

from voipdns.audio import resample
from voipdns.baselines.frames import enhance_clip
from voipdns.baselines.spec import BaselineSpec
from voipdns.data.alignment import estimate_delay
from voipdns.data.speech_synth import synthesize_speech

SYNTH_RATE = 16000  # the embedded synthesiser is built for 16 kHz


def speech_probe(seconds: float = 2.0, seed: int = 0, sample_rate: int = SYNTH_RATE) -> np.ndarray:
    """A clean synthetic utterance (float32) at ``sample_rate``."""
    speech = synthesize_speech(np.random.default_rng(seed), round(seconds * SYNTH_RATE), SYNTH_RATE)
    return resample(speech.astype(np.float32), SYNTH_RATE, sample_rate).astype(np.float32)


def measure_delay(spec: BaselineSpec, seconds: float = 2.0, seed: int = 0) -> int:
    """Samples (at ``spec.sample_rate``) by which the uncompensated engine output lags its input."""
    probe = speech_probe(seconds, seed, spec.sample_rate)
    raw = enhance_clip(spec.open_engine, probe, delay_samples=0)
    return estimate_delay(probe, raw, spec.sample_rate, max_delay_seconds=0.2, name=f"{spec.name} output").delay_samples
