"""Intrusive metrics, failure handling, the scorer registry and the scoring pool."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pesq
import pytest
import soundfile as sf
import soxr
import torch
from pystoi import stoi as pystoi_stoi

from voipdns.metrics import (
    DEFAULT_METRICS,
    ClipScores,
    MetricFailure,
    ScoringPool,
    get_scorer,
    register_scorer,
    score_clip,
    score_many,
    si_sdr,
    summarize,
)

SR = 16000


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic 'voiced' signal with a 3 Hz syllable envelope: PESQ and STOI detect it as speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0_hz = 120 + 30 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0_hz) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    return (0.3 * voiced * envelope).astype(np.float32)


def noise_at_snr(clean: np.ndarray, snr_db: float, seed: int = 1, orthogonal: bool = False) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.size)
    noise -= noise.mean()
    if orthogonal:  # remove the component along the zero-mean clean signal: SI-SDR then equals the SNR exactly
        reference = clean - clean.mean()
        noise -= np.dot(noise, reference) / np.dot(reference, reference) * reference
    signal_power = np.mean((clean - clean.mean()) ** 2)
    return noise * np.sqrt(signal_power / np.mean(noise**2) / 10 ** (snr_db / 10))


@register_scorer("test_energy_db", outputs=("test_energy_db", "test_peak"), needs_clean=False)
def _energy_scorer(clean, estimate, noisy, sample_rate):
    if not np.any(estimate):
        raise MetricFailure("estimate is silent")
    return {
        "test_energy_db": 10 * np.log10(np.mean(estimate**2)),
        "test_peak": float(np.max(np.abs(estimate))),
    }


@register_scorer("test_broken", outputs=("test_inf", "test_missing"), needs_clean=False)
def _broken_scorer(clean, estimate, noisy, sample_rate):
    return {"test_inf": math.inf}


# ---- known values --------------------------------------------------------------------------------
def test_identical_signals_reach_the_metric_ceilings():
    clean = speech_like(2.0)
    scores = score_clip(clean, clean, SR)
    assert list(scores) == list(DEFAULT_METRICS)
    assert scores["pesq_wb"] == pytest.approx(4.644, abs=0.01)
    assert scores["pesq_nb"] == pytest.approx(4.549, abs=0.01)
    assert scores["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["si_sdr"] > 100
    assert scores.failures == {}


@pytest.mark.shared_data
def test_voicebank_pairs_match_the_reference_libraries(shared_data):
    folder = shared_data / "pairs" / "voicebank-demand-debug"
    names = sorted(p.name for p in (folder / "clean").glob("*.wav"))
    assert len(names) == 6
    for name in names:
        clean, rate = sf.read(folder / "clean" / name, dtype="float32")
        noisy, _ = sf.read(folder / "noisy" / name, dtype="float32")
        assert rate == SR
        scores = score_clip(torch.from_numpy(clean)[None], torch.from_numpy(noisy)[None], SR)
        assert scores.failures == {}, name
        assert scores["pesq_wb"] == pytest.approx(pesq.pesq(SR, clean, noisy, "wb"), abs=1e-6), name
        clean_8k, noisy_8k = soxr.resample(clean, SR, 8000), soxr.resample(noisy, SR, 8000)
        assert scores["pesq_nb"] == pytest.approx(pesq.pesq(8000, clean_8k, noisy_8k, "nb"), abs=0.02), name
        assert scores["stoi"] == pytest.approx(pystoi_stoi(clean, noisy, SR), abs=1e-6), name
        assert scores["estoi"] == pytest.approx(pystoi_stoi(clean, noisy, SR, extended=True), abs=1e-6), name
        assert 1.0 < scores["pesq_wb"] < 4.0 and 0.5 < scores["stoi"] < 1.0, name


def test_si_sdr_equals_the_snr_of_an_orthogonal_noise_mix():
    clean = speech_like(3.0).astype(np.float64)
    for snr_db in (-5.0, 0.0, 10.0, 25.0):
        noisy = clean + noise_at_snr(clean, snr_db, orthogonal=True)
        assert si_sdr(clean, noisy) == pytest.approx(snr_db, abs=1e-6)
        random_mix = clean + noise_at_snr(clean, snr_db, seed=2)
        assert si_sdr(clean, random_mix) == pytest.approx(snr_db, abs=0.1)


def test_si_sdr_is_scale_and_offset_invariant():
    clean = speech_like(1.0).astype(np.float64)
    noisy = clean + noise_at_snr(clean, 5.0)
    assert si_sdr(clean, 0.3 * noisy + 0.1) == pytest.approx(si_sdr(clean, noisy), abs=1e-9)
    assert si_sdr(clean, 2 * clean) > 100


# ---- failures are NaN with a reason ---------------------------------------------------------------
def test_short_clip_gives_nan_pesq_and_a_recorded_failure():
    clean = speech_like(0.1)
    scores = score_clip(clean, clean + 0.01, SR)
    for key in ("pesq_wb", "pesq_nb", "stoi", "estoi"):
        assert math.isnan(scores[key]), key
    assert "0.25 s" in scores.failures["pesq_wb"]
    assert "30 non-silent STFT frames" in scores.failures["stoi"]
    assert math.isfinite(scores["si_sdr"]) and "si_sdr" not in scores.failures


def test_silent_estimate_never_raises():
    clean = speech_like(1.0)
    scores = score_clip(clean, np.zeros_like(clean), SR)
    assert all(math.isnan(v) or math.isfinite(v) for v in scores.values())
    assert math.isnan(scores["pesq_wb"]) and "silent" in scores.failures["pesq_wb"]
    assert math.isnan(scores["si_sdr"]) and "silent" in scores.failures["si_sdr"]


def test_nan_samples_fail_every_metric_with_the_reason():
    clean = speech_like(1.0)
    estimate = clean.copy()
    estimate[100] = np.nan
    scores = score_clip(clean, estimate, SR)
    assert all(math.isnan(v) for v in scores.values())
    assert all("estimate has NaN/Inf samples" in r for r in scores.failures.values())


def test_torch_inputs_and_unequal_lengths_are_cropped():
    clean = speech_like(2.0)
    noisy = clean + noise_at_snr(clean, 5.0).astype(np.float32)
    reference = score_clip(clean, noisy, SR, metrics=("pesq_wb", "si_sdr"))
    longer = np.concatenate([noisy, np.ones(500, np.float32)])
    cropped = score_clip(
        torch.from_numpy(clean)[None], torch.from_numpy(longer)[None, None], SR, metrics=("pesq_wb", "si_sdr")
    )
    assert reference.failures == {} and cropped.failures == {}
    assert dict(cropped) == pytest.approx(dict(reference))


def test_bad_calls_raise_clear_errors():
    clean = speech_like(0.5)
    with pytest.raises(ValueError, match=r"estimate: expected a mono waveform .* shape \(2, 8000\)"):
        score_clip(clean, np.stack([clean, clean]), SR)
    with pytest.raises(KeyError, match="unknown metric 'pesq_xx'.*pesq_wb"):
        score_clip(clean, clean, SR, metrics=("pesq_xx",))
    with pytest.raises(ValueError, match="sample_rate must be a positive"):
        score_clip(clean, clean, 0)


# ---- scorer registry ------------------------------------------------------------------------------
def test_registered_scorer_runs_without_clean_and_intrusive_ones_fail():
    estimate = speech_like(1.0)
    scores = score_clip(None, estimate, SR, metrics=("test_energy_db", "pesq_wb"))
    assert scores["test_energy_db"] == pytest.approx(10 * np.log10(np.mean(estimate.astype(np.float64) ** 2)))
    assert scores["test_peak"] == pytest.approx(float(np.abs(estimate).max()))
    assert math.isnan(scores["pesq_wb"]) and scores.failures["pesq_wb"] == "no clean signal given"
    silent = score_clip(None, np.zeros(SR), SR, metrics=("test_energy_db",))
    assert silent.failures == {
        "test_energy_db": "test_energy_db: estimate is silent",
        "test_peak": "test_energy_db: estimate is silent",
    }


def test_scorer_outputs_that_are_non_finite_or_missing_are_failures():
    scores = score_clip(None, speech_like(0.5), SR, metrics=("test_broken",))
    assert math.isnan(scores["test_inf"]) and "non-finite" in scores.failures["test_inf"]
    assert math.isnan(scores["test_missing"]) and "returned no 'test_missing'" in scores.failures["test_missing"]


def test_scorer_from_a_module_path_registers_on_lookup(tmp_path, monkeypatch):
    (tmp_path / "my_scorers.py").write_text(
        textwrap.dedent("""
        from voipdns.metrics import register_scorer

        @register_scorer("length_seconds", needs_clean=False)
        def length_seconds(clean, estimate, noisy, sample_rate):
            return {"length_seconds": estimate.size / sample_rate}
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = get_scorer("my_scorers:length_seconds")
    assert spec.outputs == ("length_seconds",) and not spec.needs_clean
    assert score_clip(None, np.ones(8000), SR, metrics=("length_seconds",))["length_seconds"] == 0.5


# ---- aggregation and the pool ---------------------------------------------------------------------
def test_summarize_ignores_nan_and_counts_failures():
    clips = [ClipScores({"a": 1.0, "b": math.nan}), ClipScores({"a": 3.0, "b": math.nan}), {"a": math.nan}]
    summary = summarize(clips, ["a", "b"])
    assert summary.means["a"] == 2.0 and math.isnan(summary.means["b"])
    assert summary.failures == {"a": 1, "b": 3} and summary.counts == {"a": 2, "b": 0}


def _clips() -> list[tuple]:
    clean = speech_like(1.0, seed=3)
    noisy = clean + noise_at_snr(clean, 0.0).astype(np.float32)
    short = speech_like(0.1, seed=4)
    return [
        ("a", clean, noisy),
        ("b", torch.from_numpy(clean)[None], torch.from_numpy(0.5 * clean)[None]),
        ("short", short, short),
    ]


def test_pool_in_worker_processes_equals_inline_scoring():
    metrics = ("pesq_wb", "stoi", "si_sdr")
    inline = score_many(_clips(), num_workers=0, metrics=metrics)
    seen: list[tuple[int, int]] = []
    with ScoringPool(num_workers=1, metrics=metrics, sample_rate=SR) as pool:
        for key, clean, estimate in _clips():
            pool.submit(key, clean, estimate)
        assert len(pool) == 3
        pooled = pool.results(progress=lambda done, total: seen.append((done, total)))
        assert len(pool) == 0
    assert list(pooled.scores) == ["a", "b", "short"]
    for key in pooled.scores:
        assert dict(pooled.scores[key]) == pytest.approx(dict(inline.scores[key]), nan_ok=True), key
        assert pooled.scores[key].failures == inline.scores[key].failures
    assert pooled.failures == {"pesq_wb": 1, "stoi": 1, "si_sdr": 0}
    assert pooled.means["pesq_wb"] == pytest.approx((pooled.scores["a"]["pesq_wb"] + pooled.scores["b"]["pesq_wb"]) / 2)
    assert seen[-1] == (3, 3)


def test_pool_rejects_duplicate_keys_and_bad_arguments():
    pool = ScoringPool(num_workers=0, metrics=("si_sdr",))
    pool.submit("x", np.ones(100), np.ones(100))
    with pytest.raises(ValueError, match="'x' was already submitted"):
        pool.submit("x", np.ones(100), np.ones(100))
    with pytest.raises(ValueError, match="start_method must be 'spawn' or 'forkserver'"):
        ScoringPool(num_workers=1, start_method="fork")
    with pytest.raises(ValueError, match="score_many expects"):
        score_many([("k", np.ones(10))], num_workers=0)
