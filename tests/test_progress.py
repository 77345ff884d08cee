"""Progress bars of the long-running steps: INT8 calibration (both passes) and voipdns-simulate."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from voipdns.export.quantize import _FeedReader, calibration_feeds


def test_feed_reader_counts_every_feed_it_hands_out():
    reader = _FeedReader([{"x": np.zeros(1)} for _ in range(3)])
    handed = [reader.get_next() for _ in range(4)]
    assert [feed is None for feed in handed] == [False, False, False, True]
    assert reader.bar.n == 3


def test_calibration_pass_shows_clips_audio_seconds_and_rtf(tiny_demucs_onnx, capsys):
    _, path = tiny_demucs_onnx
    waveforms = [np.random.default_rng(i).uniform(-0.3, 0.3, 8000).astype(np.float32) for i in range(2)]
    feeds = calibration_feeds(path, waveforms)
    assert len(feeds) == 2
    shown = capsys.readouterr().err
    assert "INT8 calibration: FP32 pass" in shown and "2/2" in shown
    assert "audio 1.0 s" in shown and "RTF" in shown


def test_simulate_shows_one_bar_with_file_ids_and_audio_seconds(tmp_path, capsys, caplog):
    from test_faults_runs import _simulate_config
    from voipdns.voip.corpus import simulate

    clean, noise = tmp_path / "clean", tmp_path / "noise"
    clean.mkdir()
    noise.mkdir()
    for index in range(2):
        sf.write(clean / f"utt{index}.wav", np.random.default_rng(index).uniform(-0.3, 0.3, 16000), 16000)
    sf.write(noise / "fan.wav", np.random.default_rng(9).uniform(-0.05, 0.05, 16000), 16000)
    with caplog.at_level("INFO"):
        outcome = simulate(_simulate_config(tmp_path, clean, noise))
    assert outcome.written == 2
    shown = capsys.readouterr().err
    assert "simulate" in shown and "2/2" in shown and "audio 2.0 s" in shown
    assert "voipdns-simulate: 2 processed, 2.0 s of audio" in caplog.text
