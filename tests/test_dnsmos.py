"""DNSMOS / pDNSMOS / P.808 and PLCMOS against the official algorithm, segmentation, model-file checks.

Reference values: `speechmos.dnsmos.run(clip, 16000, model_type=...)` (speechmos 0.0.1.1, the official
DNSMOS code) needs librosa, which voipdns does not install. They were produced once in a separate venv
(python 3.11, librosa 0.11.0, numpy 2.4.6, onnxruntime 1.31.1) by calling it on the float32 clips of
`synthetic_speechlike` below and on ../shared/data VoiceBank noisy/p287_001.wav, and are recorded here.
Tolerance 1e-4: P.835 values agree to 1e-8; P.808 to 5e-7 (float32 STFT/mel rounding).
PLCMOS needs no librosa, so `speechmos.plcmos` is called live as the reference.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from voipdns.dsp.mel import mel_filterbank
from voipdns.metrics import dnsmos as dnsmos_module
from voipdns.metrics.dnsmos import (
    SEGMENT_SAMPLES,
    ModelFileError,
    dnsmos,
    p808_features,
    segment_bounds,
    segments_of,
    speechmos_model_path,
    verify_model_file,
)
from voipdns.metrics.plcmos import plcmos, plcmos_features
from voipdns.metrics.scoring import score_clip

TOLERANCE = 1e-4
# {clip: (sig, bak, ovrl, p808) non-personalised, (sig, bak, ovrl) personalised}
OFFICIAL = {
    "synthetic_9.5s": (
        (2.917948761246599, 2.148387238903667, 1.6752140482412397, 2.362351417541504),
        (3.724685869143142, 1.9052074303390643, 2.1478190840113416),
    ),
    "synthetic_3s": (
        (2.891080101219648, 2.3818171887489776, 1.8051595476332933, 2.3721773624420166),
        (3.639488558866318, 1.9346414405425694, 2.112450011815741),
    ),
    "voicebank_noisy_p287_001": (
        (3.3336635724155683, 2.6183457534375782, 2.3681519633875463, 2.8204734325408936),
        None,
    ),
}


def synthetic_speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic voice (f0 100-140 Hz) with a 4 Hz syllable envelope plus white noise, peak 0.5, float32."""
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    f0_hz = 120.0 + 20.0 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0_hz) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 11))
    envelope = (0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)) ** 2
    noise = np.random.default_rng(seed).standard_normal(t.size)
    audio = voiced * envelope + 0.05 * noise
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def _check(scores: dict[str, float], expected: tuple[float, ...]) -> None:
    keys = ("sig", "bak", "ovrl", "p808")[: len(expected)]
    assert [scores[k] for k in keys] == pytest.approx(list(expected), abs=TOLERANCE)


def test_dnsmos_matches_official_on_one_segment_clip():
    clip = synthetic_speechlike(9.5)  # 9.5 s: exactly one 9.01 s segment, no repetition
    assert len(segment_bounds(clip.size)) == 1
    plain, personalised = OFFICIAL["synthetic_9.5s"]
    _check(dnsmos(clip, 16000), plain)
    _check(dnsmos(clip, 16000, personalized=True, p808=False), personalised)


def test_dnsmos_repeats_a_short_clip_like_the_official_code():
    clip = synthetic_speechlike(3.0, seed=1)
    segments = segments_of(clip)
    # 3 s doubled to 6 s then 12 s -> hops at 0, 1, 2 s
    assert segments.shape == (3, SEGMENT_SAMPLES)
    tiled = np.tile(clip, 4)
    for index, segment in enumerate(segments):
        np.testing.assert_array_equal(segment, tiled[index * 16000 : index * 16000 + SEGMENT_SAMPLES])
    plain, personalised = OFFICIAL["synthetic_3s"]
    _check(dnsmos(clip, 16000), plain)
    _check(dnsmos(clip, 16000, personalized=True, p808=False), personalised)


def test_dnsmos_on_real_voicebank_clip(shared_data):
    audio, rate = sf.read(shared_data / "pairs/voicebank-demand-debug/noisy/p287_001.wav", dtype="float32")
    _check(dnsmos(audio, rate), OFFICIAL["voicebank_noisy_p287_001"][0])


def test_segment_bounds_reproduce_the_official_float_rounding():
    # int((idx + 9.01) * 16000) rounds down to 144,159 samples for idx 7..23: the official code skips them
    bounds = segment_bounds(30 * 16000)
    assert [start // 16000 for start, _ in bounds] == list(range(7))
    assert all(end - start == SEGMENT_SAMPLES for start, end in bounds)
    assert len(segment_bounds(int(9.01 * 16000))) == 1
    assert segment_bounds(SEGMENT_SAMPLES - 1) == []


def test_p808_features_shape_and_range():
    features = p808_features(segments_of(synthetic_speechlike(9.5)))
    assert features.shape == (1, 900, 120)
    assert features.max() == pytest.approx(1.0)  # ref = max -> 0 dB -> (0 + 40) / 40
    assert features.min() >= -1.0 - 1e-6  # top_db 80 -> at least -80 dB -> -1
    bank = mel_filterbank(16000, 321, 120)
    assert bank.shape == (120, 161) and np.all(bank >= 0)
    assert np.all(bank.sum(axis=1) > 0)  # no empty filter at this resolution


def test_corrupted_model_file_is_refused(tmp_path):
    original = speechmos_model_path("dnsmos_models/model_v8.onnx")
    expected = dnsmos_module.MODEL_SHA256["dnsmos_models/model_v8.onnx"]
    assert verify_model_file(original, expected) == original
    corrupted = tmp_path / "model_v8.onnx"
    shutil.copyfile(original, corrupted)
    data = bytearray(corrupted.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model_v8.onnx has sha256 .* expected"):
        verify_model_file(corrupted, expected)
    with pytest.raises(ModelFileError, match="not found"):
        verify_model_file(tmp_path / "missing.onnx", expected)


def test_plcmos_matches_official_with_the_same_rater_embeddings():
    from speechmos.plcmos import PLCMOS

    clip = synthetic_speechlike(2.0, seed=2)
    official = PLCMOS()
    np.testing.assert_allclose(plcmos_features(clip)[0, 0], official.stft_transform(clip), atol=1e-6)
    np.random.seed(0)
    embeddings = np.random.normal(size=(15, 64))
    np.random.seed(0)  # the official code draws the same embeddings from the global state
    assert plcmos(clip, 16000, embeddings=embeddings) == pytest.approx(official.get_mos(clip), abs=1e-5)
    assert plcmos(clip, 16000) == plcmos(clip, 16000)  # seeded: reproducible, unlike the official call


def test_registered_scorers_need_no_clean_reference():
    clip = synthetic_speechlike(9.5)
    scores = score_clip(None, clip, 16000, metrics=["dnsmos", "plcmos"])
    assert not scores.failures
    assert scores["dnsmos_ovrl"] == pytest.approx(OFFICIAL["synthetic_9.5s"][0][2], abs=TOLERANCE)
    assert 1.0 <= scores["plcmos"] <= 5.0
