"""Chunked, streamed enhancement of long files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voipdns.chunking import AudioStreamError, ChunkedEnhancer, crossfade, enhance_file, stream_audio

RATE = 16000


def _blocks(signal: np.ndarray, size: int):
    for start in range(0, len(signal), size):
        yield signal[start : start + size]


@pytest.mark.parametrize("length", [1000, 16000, 16000 * 3 + 17, 16000 * 5])
def test_identity_through_chunks_is_exact(length):
    signal = np.random.default_rng(0).standard_normal(length).astype(np.float32)
    chunker = ChunkedEnhancer(lambda x: x.copy(), chunk_samples=8000, overlap_samples=1600)
    out = np.concatenate(list(chunker.process(_blocks(signal, 3000))))
    assert out.shape == signal.shape
    np.testing.assert_allclose(out, signal, atol=1e-6)


def test_crossfade_blends_from_previous_to_next():
    faded = crossfade(np.zeros(100), np.ones(100))
    assert faded[0] < 0.01 and faded[-1] > 0.99
    assert np.all(np.diff(faded) > 0)


def test_chunks_bound_memory_and_gain_applies_everywhere():
    signal = np.ones(16000 * 10, dtype=np.float32)
    seen = []

    def halve(chunk):
        seen.append(len(chunk))
        return chunk * 0.5

    chunker = ChunkedEnhancer(halve, chunk_samples=16000, overlap_samples=1600)
    out = np.concatenate(list(chunker.process(_blocks(signal, 4096))))
    assert max(seen) == 16000  # never more than one chunk in the model at a time
    assert chunker.chunks_processed == len(seen) >= 10
    np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_enhance_file_resamples_stereo_44k1_to_16k_and_writes_atomically(tmp_path):
    seconds = 3.5
    t = np.arange(int(44100 * seconds)) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.3
    source = tmp_path / "in.flac"
    sf.write(source, stereo, 44100)
    target = tmp_path / "out" / "in.wav"
    samples = enhance_file(lambda x: x.copy(), source, target, RATE, chunk_seconds=1.0, overlap_seconds=0.25)
    data, rate = sf.read(target)
    assert rate == RATE and data.ndim == 1
    assert abs(len(data) - seconds * RATE) <= 2 and samples == len(data)
    assert not list(target.parent.glob(".*partial"))
    # a 440 Hz tone survives: its peak frequency is still 440 Hz
    spectrum = np.abs(np.fft.rfft(data))
    assert abs(np.argmax(spectrum) * RATE / len(data) - 440) < 2


def test_bad_files_name_the_file_and_problem(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), RATE)
    with pytest.raises(AudioStreamError, match="empty.wav.*empty"):
        list(stream_audio(empty, RATE))
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(AudioStreamError, match="notes.wav.*cannot read"):
        list(stream_audio(text, RATE))
    broken = tmp_path / "nan.wav"
    sf.write(broken, np.array([0.0, np.nan, 0.1], dtype=np.float32), RATE, subtype="FLOAT")
    with pytest.raises(AudioStreamError, match="nan.wav.*NaN"):
        enhance_file(lambda x: x, broken, tmp_path / "o.wav", RATE)
    assert not (tmp_path / "o.wav").exists()
