"""Live use: source -> streamer -> post -> sink driven from files, post-processing, device backend errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf
from tests.hydra_helpers import compose_config

from voipdns.export.source import model_from_config
from voipdns.export.stream_graph import export_stream_onnx
from voipdns.live import (
    ArraySink,
    ArraySource,
    FileSink,
    FileSource,
    NoiseGate,
    PostChain,
    VoiceBandEQ,
    run_live,
)
from voipdns.live.devices import LiveDependencyError, format_devices, import_sounddevice
from voipdns.streaming import streamer_for

RATE = 16000
DEMUCS = {"_target_": "voipdns.models.demucs.Demucs", "hidden": 4, "depth": 4}  # hop 64, latency 213


def tone(hz: float, seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_file_to_file_loop_writes_the_streamed_output_with_its_latency(tmp_path):
    net = model_from_config(DEMUCS).net
    noisy = (0.05 * np.random.default_rng(0).standard_normal(3000)).astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy, RATE, subtype="FLOAT")
    streamer = streamer_for(net)
    report = run_live(FileSource(tmp_path / "in.wav", RATE, 50), streamer, FileSink(tmp_path / "out.wav", RATE))
    written, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == RATE and written.size == noisy.size == report.output_samples == report.input_samples
    # first enhanced sample written once the 213-sample latency was read, in 50-sample blocks: 250
    assert report.latency_samples == 213 and report.first_output_after_samples == 250
    expected = streamer_for(net).process(noisy)
    np.testing.assert_allclose(written, expected, atol=1 / 32768 + 1e-6)
    assert not (tmp_path / ".out.wav.partial").exists()


def test_max_seconds_stops_an_endless_source():
    net = model_from_config(DEMUCS).net
    sink = ArraySink(RATE)
    report = run_live(ArraySource(np.zeros(RATE, np.float32), RATE, 160), streamer_for(net), sink, max_seconds=0.1)
    assert report.input_samples == 1600 and report.blocks == 10
    assert report.output_samples == sink.samples().size < 1600  # the latency is still inside the streamer


def test_sample_rate_mismatch_is_refused():
    net = model_from_config(DEMUCS).net
    with pytest.raises(ValueError, match="source 8000 Hz, model 16000 Hz"):
        run_live(ArraySource(np.zeros(10, np.float32), 8000, 5), streamer_for(net), ArraySink(RATE))


def test_noise_gate_holds_then_releases():
    gate = NoiseGate(RATE, threshold_db=-40, reduction_db=20, attack_ms=1, release_ms=20, hold_ms=100)
    signal = np.concatenate([tone(500, 0.2, -20), np.zeros(int(0.4 * RATE), np.float32)])
    gains = []
    for start in range(0, signal.size, 100):
        gate(signal[start : start + 100])
        gains.append(gate.gains)
    gains = np.concatenate(gains)
    assert gains.size == signal.size
    ms = RATE // 1000
    assert gains[150 * ms] > 0.99  # open during the tone
    assert gains[200 * ms + 90 * ms] > 0.99  # still open 90 ms after the tone (hold 100 ms)
    assert gains[200 * ms + 100 * ms + 60 * ms] < 0.2  # released three time constants after the hold
    assert gains[-1] == pytest.approx(0.1, abs=0.01)  # -20 dB floor: attenuated, not muted


def test_noise_gate_opens_within_the_attack_and_is_chunk_independent():
    signal = np.concatenate([np.zeros(1600, np.float32), tone(300, 0.1, -10)])
    whole = NoiseGate(RATE, attack_ms=1)(signal)
    gate = NoiseGate(RATE, attack_ms=1)
    pieces = np.concatenate([gate(signal[i : i + 37]) for i in range(0, signal.size, 37)])
    np.testing.assert_allclose(pieces, whole, atol=1e-7)
    assert np.abs(whole[1600 + 5 * 16 :]).max() > 0.4  # open 5 ms after the onset
    assert np.abs(whole[:1600]).max() == 0.0
    with pytest.raises(ValueError, match="reduction_db must be >= 0"):
        NoiseGate(RATE, reduction_db=-3)


def test_voice_band_eq_passes_speech_band_and_cuts_outside():
    def gain(hz: float) -> float:
        eq = VoiceBandEQ(RATE, low_cut_hz=100, high_cut_hz=6000)
        x = tone(hz, 0.5, -20)
        y = eq(x)
        return float(np.sqrt(np.mean(y[4000:] ** 2) / np.mean(x[4000:] ** 2)))

    assert gain(1000) == pytest.approx(1.0, abs=0.02)
    assert gain(30) < 0.1 and gain(7800) < 0.3
    eq_a, eq_b = VoiceBandEQ(RATE, presence_db=6), VoiceBandEQ(RATE, presence_db=6)
    x = tone(3000, 0.2, -20)
    np.testing.assert_allclose(np.concatenate([eq_a(x[:999]), eq_a(x[999:])]), eq_b(x), atol=1e-6)
    with pytest.raises(ValueError, match="low_cut_hz"):
        VoiceBandEQ(RATE, low_cut_hz=9000, high_cut_hz=7000)


def test_post_chain_runs_in_the_loop():
    net = model_from_config(DEMUCS).net
    post = PostChain([VoiceBandEQ(RATE), NoiseGate(RATE, threshold_db=0.0, reduction_db=40)])  # always closed
    sink = ArraySink(RATE)
    noisy = (0.05 * np.random.default_rng(1).standard_normal(2000)).astype(np.float32)
    run_live(ArraySource(noisy, RATE, 64), streamer_for(net), sink, post)
    plain = streamer_for(net).process(noisy)
    assert sink.samples().size == plain.size
    assert np.abs(sink.samples()).max() <= 0.011 * np.abs(plain).max() + 1e-6  # -40 dB


def test_missing_sounddevice_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as if not installed
    with pytest.raises(LiveDependencyError, match=r"pip install 'voipdns\[live\]'"):
        import_sounddevice()


def test_device_listing_format():
    text = format_devices(
        [
            {
                "index": 3,
                "name": "CABLE Input",
                "hostapi": "MME",
                "inputs": 0,
                "outputs": 2,
                "default_sample_rate": 44100.0,
            }
        ]
    )
    assert "CABLE Input (MME)" in text and "44100" in text


def test_cli_runs_a_streaming_onnx_file_between_files(tmp_path):
    from voipdns.cli.live import run

    source = model_from_config(DEMUCS)
    model = export_stream_onnx(streamer_for(source.net), tmp_path / "s.onnx", "d", source.config)
    noisy = (0.05 * np.random.default_rng(2).standard_normal(2500)).astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy, RATE, subtype="FLOAT")
    overrides = [
        f"checkpoint={model}",
        f"input={tmp_path / 'in.wav'}",
        f"output={tmp_path / 'out.wav'}",
        "block_samples=64",
        "postprocess.eq=true",
    ]
    report = run(compose_config("live", overrides, tmp_path))
    assert report.output_samples == noisy.size and report.first_output_after_samples == 256
    assert sf.info(str(tmp_path / "out.wav")).frames == noisy.size
    assert compose_config("live", [], tmp_path).checkpoint == "voipdns-gtcrn"  # the shipped model by default
    with pytest.raises(ValueError, match="set checkpoint="):
        run(compose_config("live", ["checkpoint=null"], tmp_path))


class _FakeStream:
    """Stands in for sounddevice's PortAudio streams: records how it was opened."""

    opened: list = []

    def __init__(self, **kwargs):
        self.kwargs, self.started = kwargs, False
        _FakeStream.opened.append(self)

    def start(self):
        self.started = True

    def stop(self):
        pass

    def close(self):
        pass


def test_device_source_and_sink_open_resampled_streams(monkeypatch):
    import types

    from voipdns.live.devices import DeviceSink, DeviceSource

    fake = types.SimpleNamespace(InputStream=_FakeStream, OutputStream=_FakeStream)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    _FakeStream.opened = []
    source = DeviceSource(sample_rate=16000, block_samples=256, device_sample_rate=48000)
    sink = DeviceSink(sample_rate=16000, block_samples=256, device_sample_rate=16000)
    (mic, speaker) = _FakeStream.opened
    assert mic.started and speaker.started
    assert mic.kwargs["samplerate"] == 48000 and mic.kwargs["blocksize"] == 768  # 16 ms at the device rate
    assert speaker.kwargs["samplerate"] == 16000 and speaker.kwargs["blocksize"] == 256
    # a device block of 48 kHz audio comes out at 16 kHz
    status = types.SimpleNamespace(input_overflow=False)
    for _ in range(8):
        mic.kwargs["callback"](np.ones((768, 1), dtype=np.float32), 768, None, status)
    got = np.concatenate([source.read() for _ in range(8)])
    # 3:1 fewer samples, less the resampler's filter delay (well under 1000 samples); a constant stays constant
    assert 8 * 256 - 1000 <= got.size <= 8 * 256 and source.overflows == 0
    assert np.allclose(got[-512:], 1.0, atol=1e-3)
    # the sink plays what was written and fills an underrun with silence
    sink.write(np.full(100, 0.5, dtype=np.float32))
    out = np.zeros((256, 1), dtype=np.float32)
    speaker.kwargs["callback"](out, 256, None, None)
    assert np.allclose(out[:100, 0], 0.5) and np.allclose(out[100:, 0], 0.0) and sink.underruns == 1
    source.close()
    sink.close()
