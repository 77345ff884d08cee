"""eGeMAPS MAE: zero for identical signals, smaller for a cleaner signal, voiced frames, functionals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voipdns.metrics.egemaps_mae import (
    functional_errors,
    improvement_by_feature,
    lld_errors,
    relative_improvement,
)
from voipdns.metrics.scoring import score_clip

SR = 16000


def voiced_speechlike(seconds: float = 2.0) -> np.ndarray:
    """Harmonic voice at 110-150 Hz, syllables of 250 ms with pauses: openSMILE finds voiced frames."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(130.0 + 20.0 * np.sin(2 * np.pi * 0.7 * t)) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
    envelope = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None)
    return (0.3 * voiced * envelope).astype(np.float32)


def noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32)


@pytest.fixture(scope="module")
def signals():
    clean = voiced_speechlike()
    return {"clean": clean, "noisy": clean + 0.1 * noise(2.0, 1), "enhanced": clean + 0.01 * noise(2.0, 1)}


def test_identical_signals_have_zero_error(signals):
    errors = lld_errors(signals["clean"], signals["clean"], SR)
    assert errors["all"].shape == (25,) and np.all(errors["all"] == 0)
    assert np.all(errors["voiced"] == 0)  # the clean clip is voiced, so the voiced MAE is defined


def test_cleaner_signal_has_smaller_error_and_positive_improvement(signals):
    scores = {k: score_clip(signals["clean"], signals[k], SR, metrics=["egemaps_mae"]) for k in ("noisy", "enhanced")}
    assert not scores["noisy"].failures and len(scores["noisy"]) == 50
    for frames in (False, True):
        improvement = improvement_by_feature(scores["noisy"], scores["enhanced"], voiced=frames)
        assert len(improvement) == 25
        assert improvement["Loudness"] > 0 and improvement["mfcc1"] > 0
        assert np.nanmedian(list(improvement.values())) > 0
    assert scores["enhanced"]["egemaps_mae_Loudness"] < scores["noisy"]["egemaps_mae_Loudness"]


def test_voiced_variant_fails_without_voiced_clean_frames():
    clean = 0.1 * noise(1.0, 3)  # white noise: no F0
    scores = score_clip(clean, clean + 0.05 * noise(1.0, 4), SR, metrics=["egemaps_mae"])
    assert math.isfinite(scores["egemaps_mae_Loudness"])
    assert math.isnan(scores["egemaps_mae_voiced_Loudness"])
    assert "no voiced frame" in scores.failures["egemaps_mae_voiced_Loudness"]


def test_relative_improvement_math():
    assert relative_improvement(2.0, 1.0) == pytest.approx(50.0)
    assert relative_improvement(1.0, 1.5) == pytest.approx(-50.0)
    assert np.isnan(relative_improvement(0.0, 1.0))


def test_functional_errors(signals):
    same = functional_errors(signals["clean"], signals["clean"], SR)
    assert len(same) == 88 and all(v == 0 for v in same.values())
    noisy = functional_errors(signals["clean"], signals["noisy"], SR)
    assert noisy["loudness_sma3_amean"] > 0
