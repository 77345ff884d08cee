"""voipdns.audio: loading checks (each bad file names itself and its problem), resampling, atomic saving."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voipdns.audio import AudioFileError, audio_info, list_audio_files, load_audio, resample, save_audio


def _sine(freq_hz: float, seconds: float, sample_rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    wav = 0.5 * np.sin(2 * np.pi * freq_hz * t)
    return np.stack([wav * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


def _peak_hz(wav: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(wav.shape[-1])))
    return float(np.fft.rfftfreq(wav.shape[-1], 1 / sample_rate)[spectrum.argmax()])


def test_text_file_renamed_wav_is_unreadable(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 10)
    with pytest.raises(AudioFileError, match=r"notes\.wav: unreadable audio file"):
        load_audio(path, 16000)


def test_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"empty\.wav: is empty \(0 samples\)"):
        load_audio(path, 16000)


def test_too_short_wav(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, _sine(440, 0.01, 16000), 16000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"blip\.wav: is too short: 0\.010 s < min_seconds=0\.500 s"):
        load_audio(path, 16000, min_seconds=0.5)
    assert load_audio(path, 16000).shape == (1, 160)  # fine without a minimum


@pytest.mark.parametrize("bad_value, kind", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_non_finite_float_wav(tmp_path, bad_value, kind):
    wav = _sine(440, 0.1, 16000)
    wav[10:13] = bad_value
    path = tmp_path / f"broken_{kind}.wav"
    sf.write(path, wav, 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=rf"broken_{kind}\.wav: contains non-finite samples: 3 {kind}"):
        load_audio(path, 16000)


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileError, match=r"absent\.wav: no such file"):
        load_audio(tmp_path / "absent.wav", 16000)


def test_audio_file_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        audio_info(tmp_path / "absent.wav")


@pytest.mark.parametrize("file_rate", [8000, 44100])
def test_stereo_file_becomes_mono_16k_with_correct_length(tmp_path, file_rate):
    stereo = _sine(1000, 0.5, file_rate, channels=2)  # right channel is twice the left
    path = tmp_path / f"stereo_{file_rate}.wav"
    sf.write(path, stereo, file_rate, subtype="PCM_16")
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32
    assert wav.shape == (1, round(stereo.shape[0] * 16000 / file_rate)) == (1, 8000)
    assert _peak_hz(wav[0].numpy(), 16000) == pytest.approx(1000, abs=3)
    # mono = channel mean: amplitude (0.25 + 0.5) / 2 in the middle of the clip
    assert wav[0, 2000:6000].abs().max().item() == pytest.approx(0.375, abs=0.01)
    both = load_audio(path, 16000, mono=False)
    assert both.shape == (2, 8000)


def test_partial_read_counts_file_frames(tmp_path):
    path = tmp_path / "ramp.wav"
    ramp = (np.arange(16000) / 16000 - 0.5).astype(np.float32)
    sf.write(path, ramp, 16000, subtype="FLOAT")
    part = load_audio(path, 16000, start_frame=1000, num_frames=500)
    assert torch.allclose(part[0], torch.from_numpy(ramp[1000:1500]))


def test_resample_any_leading_dims():
    wav = torch.randn(2, 3, 4410)
    out = resample(wav, 44100, 16000)
    assert out.shape == (2, 3, 1600)
    assert resample(wav, 16000, 16000) is wav
    with pytest.raises(ValueError, match="sample rates must be positive"):
        resample(wav, 0, 16000)


def test_resample_keeps_a_tone():
    tone = torch.from_numpy(_sine(440, 1.0, 48000)[:, 0])
    out = resample(tone, 48000, 16000)
    assert out.shape == (16000,)
    assert _peak_hz(out.numpy(), 16000) == pytest.approx(440, abs=2)


def test_audio_info_reads_header(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, _sine(440, 0.25, 22050, channels=2), 22050)
    info = audio_info(path)
    assert (info.frames, info.sample_rate, info.channels) == (5512, 22050, 2)
    assert info.duration_seconds == pytest.approx(0.25, abs=1e-3)


def test_save_audio_round_trip_atomic_and_pcm16(tmp_path):
    wav = torch.from_numpy(_sine(300, 0.2, 16000)[:, 0])[None]
    path = save_audio(tmp_path / "deep" / "dir" / "out.wav", wav, 16000)
    info = sf.info(str(path))
    assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", 16000, 3200)
    assert torch.allclose(load_audio(path, 16000), wav, atol=1 / 32768 + 1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["out.wav"]  # no temp file left behind


def test_save_audio_clips_with_warning(tmp_path):
    wav = torch.tensor([[0.0, 1.5, -2.0, 0.5]])
    with pytest.warns(UserWarning, match=r"loud\.wav: clipping 2 samples \(peak 2\.000"):
        save_audio(tmp_path / "loud.wav", wav, 16000)
    back = load_audio(tmp_path / "loud.wav", 16000)
    assert back.abs().max() <= 1.0


def test_save_audio_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="does not end in .wav"):
        save_audio(tmp_path / "x.flac", torch.zeros(1, 10), 16000)
    with pytest.raises(ValueError, match="NaN or Inf"):
        save_audio(tmp_path / "x.wav", torch.tensor([0.0, float("nan")]), 16000)
    assert not list(tmp_path.iterdir())


def test_list_audio_files_sorted_recursive_and_errors(tmp_path):
    for rel in ["b/2.wav", "a/1.flac", "c.wav", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    names = [p.relative_to(tmp_path).as_posix() for p in list_audio_files(tmp_path)]
    assert names == ["a/1.flac", "b/2.wav", "c.wav"]
    assert [p.name for p in list_audio_files(tmp_path, [".wav"], recursive=False)] == ["c.wav"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_audio_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no files"):
        list_audio_files(tmp_path / "empty")
