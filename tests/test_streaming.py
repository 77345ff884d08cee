"""Streaming: stateful streamers equal the offline causal nets; their ONNX graphs equal the PyTorch ones."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from voipdns.enhancers import load_streamer
from voipdns.export.source import model_from_config
from voipdns.export.stream_graph import check_stream_parity, export_stream_onnx, load_onnx_streamer
from voipdns.streaming import stream_file, streamer_for
from voipdns.streaming.demucs import EXACT_LOOKAHEAD_SAMPLES, DemucsStreamer
from voipdns.streaming.demucs_layout import demucs_stream_layout
from voipdns.streaming.factory import NotStreamableError
from voipdns.streaming.fullsubnet import FullSubNetStreamer
from voipdns.streaming.percepnet import PercepNetStreamer

M = "voipdns.models."
DEMUCS = {"_target_": M + "demucs.Demucs", "hidden": 4, "depth": 4}  # 64-sample hop, 149-sample frame
FULLSUBNET = {
    "_target_": M + "fullsubnet.FullSubNet", "fb_hidden_size": 12, "sb_hidden_size": 6,
    "fb_norm": "cumulative_laplace", "sb_norm": "cumulative_laplace",
}  # fmt: skip
PERCEPNET = {"fc_size": 12, "conv_channels": 12, "gru_sizes": [12, 12], "strength_gru_size": 6}


def speechlike(samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    envelope = 0.02 + 0.1 * np.abs(np.sin(2 * np.pi * 2.5 * t))
    return (envelope * (rng.standard_normal(samples) + 2 * np.sin(2 * np.pi * 160 * t))).astype(np.float32)


def demucs(**overrides):
    return model_from_config({**DEMUCS, **overrides}).net


def offline(net, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x).view(1, 1, -1)).view(-1).numpy()


def test_demucs_layout_of_dns48_matches_the_reference_facts():
    layout = demucs_stream_layout(demucs(hidden=4, depth=5))
    assert (layout.total_stride, layout.frame_samples, layout.prefix, layout.lag) == (256, 597, 171, 2)
    streamer = DemucsStreamer(demucs(hidden=4, depth=5))
    assert streamer.latency_samples == 661 and streamer.hop_samples == 256


def test_demucs_rejects_non_causal():
    with pytest.raises(ValueError, match="causal=False"):
        DemucsStreamer(demucs(causal=False))


@pytest.mark.parametrize("chunk", [64, 1000, 37])
def test_demucs_exact_mode_equals_offline(chunk):
    """extra_frames=1 + exact upsampler look-ahead: float32 rounding only, at any chunk size."""
    net = demucs(normalize=False)
    x = speechlike(3000)
    streamer = DemucsStreamer(net, lookahead_samples=EXACT_LOOKAHEAD_SAMPLES, extra_frames=1)
    out = streamer.process(x, chunk)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, offline(net, x), atol=1e-6)


def test_demucs_default_latency_is_close_to_offline():
    """Default latency: the downsampler's taps past the newest frame see the decoder preview (documented)."""
    net = demucs(normalize=False)
    x = speechlike(3000, seed=1)
    expected = offline(net, x)
    out = DemucsStreamer(net).process(x)
    assert np.abs(out - expected).max() <= 1e-3 * np.abs(expected).max() + 1e-6


def test_demucs_matches_the_reference_streamer_with_normalisation():
    """Running-variance normalisation: compared with denoiser 0.1.5's own DemucsStreamer (behaviour)."""
    reference = pytest.importorskip("denoiser.demucs")
    net = demucs(hidden=4, depth=5)
    ref_net = reference.Demucs(hidden=4, depth=5)
    ref_net.load_state_dict(net.state_dict())
    x = speechlike(16000, seed=2)
    ref_streamer = reference.DemucsStreamer(ref_net.eval())
    with torch.no_grad():
        parts = [ref_streamer.feed(torch.from_numpy(x[None, i : i + 256])) for i in range(0, x.size, 256)]
        parts.append(ref_streamer.flush())
    ref_out = torch.cat(parts, 1).view(-1).numpy()[: x.size]
    out = DemucsStreamer(net).process(x)
    relative = np.sqrt(np.mean((out - ref_out) ** 2) / np.mean(ref_out**2))
    assert relative < 0.05  # both normalise by a running RMS; their exact running estimates differ


def test_demucs_first_output_after_latency_samples():
    streamer = DemucsStreamer(demucs())
    streamer.reset()
    assert streamer.feed(np.zeros(streamer.latency_samples - 1, np.float32)).size == 0
    assert streamer.feed(np.zeros(1, np.float32)).size == streamer.hop_samples


def test_fullsubnet_equals_offline_cumulative_norm():
    net = model_from_config(FULLSUBNET).net
    for samples in (4000, 300):
        x = speechlike(samples, seed=samples)
        out = FullSubNetStreamer(net).process(x, 999)
        np.testing.assert_allclose(out, offline(net, x), atol=2e-6)


def test_fullsubnet_latency_and_offline_norm_refused():
    streamer = FullSubNetStreamer(model_from_config(FULLSUBNET).net)
    streamer.reset()
    assert streamer.latency_samples == 1024
    assert streamer.feed(np.zeros(1023, np.float32)).size == 0
    assert streamer.feed(np.zeros(1, np.float32)).size == 256
    with pytest.raises(ValueError, match="cumulative_laplace"):
        FullSubNetStreamer(model_from_config({**FULLSUBNET, "fb_norm": "offline_laplace"}).net)


@pytest.mark.parametrize("variant", ["PercepNet", "UnifiedPercepNet"])
def test_percepnet_equals_offline(variant):
    extra = {"embedding_dim": 6} if variant != "PercepNet" else {}
    net = model_from_config({"_target_": M + f"percepnet.{variant}", **PERCEPNET, **extra}).net
    embedding = torch.randn(6) if extra else None
    x = speechlike(4000, seed=3)
    streamer = PercepNetStreamer(net)
    streamer.set_speaker_embedding(embedding)
    out = streamer.process(x, 333)
    # Offline in float64: its comb filter indexes absolute sample positions in the signal's dtype, which
    # float32 rounds (1e-4 errors); the stream's positions are short, so it matches the float64 result.
    net64 = copy.deepcopy(net).double()
    with torch.no_grad():
        expected = net64(torch.from_numpy(x).double().view(1, 1, -1), embedding=embedding)
    expected = expected.view(-1).numpy()
    body = x.size - 2 * streamer.hop_samples
    np.testing.assert_allclose(out[:body], expected[:body], atol=3e-5)
    # The last frames see the zero padding, where the pitch picker's parabolic refinement is ill-conditioned
    # (flat correlation peak): ulp-level differences between the batched offline frames and the stream's
    # move the period by ~0.01 sample, so the final 20 ms agree only to ~1 % of the peak.
    assert np.abs(out[body:] - expected[body:]).max() < 0.02 * np.abs(expected).max()
    assert streamer.latency_samples == 320


def test_unsupported_net_and_options():
    with pytest.raises(NotStreamableError, match="no streamer for MaskUNet"):
        streamer_for(model_from_config({"_target_": M + "unet.MaskUNet", "base_channels": 2}).net)
    with pytest.raises(ValueError, match="only apply to Demucs"):
        streamer_for(model_from_config(FULLSUBNET).net, extra_frames=1)


@pytest.mark.parametrize("name", ["demucs", "fullsubnet", "upn"])
def test_onnx_stream_graph_equals_pytorch_streamer(tmp_path, name):
    config = {
        "demucs": DEMUCS,
        "fullsubnet": FULLSUBNET,
        "upn": {"_target_": M + "percepnet.UnifiedPercepNet", "embedding_dim": 6, **PERCEPNET},
    }[name]
    source = model_from_config(config)
    streamer = streamer_for(source.net)
    if name == "upn":
        streamer.set_speaker_embedding(np.ones(6))
    path = export_stream_onnx(streamer, tmp_path / f"{name}.onnx", name, source.config)
    report = check_stream_parity(streamer, path, seconds=0.5, tolerance=1e-5)
    assert report.passed, report.lines()
    loaded = load_onnx_streamer(path)
    assert loaded.latency_samples == streamer.latency_samples
    assert set(loaded.core.state_names) == set(streamer.core.state_names)


def test_stream_file_reports_latency_and_frame_times(tmp_path):
    import soundfile as sf

    source = model_from_config(DEMUCS)
    x = speechlike(2000)
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    report = stream_file(streamer_for(source.net), tmp_path / "in.wav", tmp_path / "out.wav", block_samples=100)
    written, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 16000 and written.size == x.size
    assert report.latency_samples == 149 + 64 and report.frames > 0 and report.frame_mean_ms > 0
    assert report.frame_budget_ms == pytest.approx(4.0)  # 64-sample hop at 16 kHz
    expected = DemucsStreamer(source.net).process(x)
    np.testing.assert_allclose(written, expected, atol=1 / 32768 + 1e-6)  # 16-bit file


def test_load_streamer_refuses_offline_onnx(tmp_path):
    from voipdns.export.onnx_export import export_onnx

    source = model_from_config(DEMUCS)
    export_onnx(source.net, tmp_path / "offline.onnx", "d", source.config)
    with pytest.raises(ValueError, match="offline graph"):
        load_streamer(tmp_path / "offline.onnx")
