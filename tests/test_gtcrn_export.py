"""GTCRN ONNX export: offline (spectrum) and streaming (one frame + state) graphs, parity, INT8, the CLI."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from tests.hydra_helpers import compose_config
from tests.test_gtcrn_streaming import random_gtcrn, speechlike

from voipdns.enhancers import onnx_enhancer
from voipdns.export import check_parity, export_onnx, read_metadata
from voipdns.export.graphs.base import KEEP_FLOAT_KEY
from voipdns.export.quantize import calibration_audio, int8_quality, output_snr_db, quality_clips, quantize_int8
from voipdns.export.runtime import OnnxNet
from voipdns.export.source import load_model
from voipdns.export.stream_graph import check_stream_parity, export_stream_onnx, load_onnx_streamer
from voipdns.streaming import streamer_for

CONFIG = {"_target_": "voipdns.models.gtcrn.GTCRN"}


@pytest.fixture(scope="module")
def net():
    return random_gtcrn()


@pytest.fixture(scope="module")
def offline_onnx(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("gtcrn") / "gtcrn.onnx"
    export_onnx(net, path, "gtcrn", CONFIG, example_seconds=0.5)
    return path


@pytest.fixture(scope="module")
def stream_onnx(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("gtcrn_stream") / "gtcrn_stream.onnx"
    export_stream_onnx(streamer_for(net), path, "gtcrn", CONFIG)
    return path


def test_offline_graph_parity_over_lengths_and_batch(net, offline_onnx):
    values = read_metadata(offline_onnx)
    assert values["graph"] == "gtcrn_spectrum" and values["latency_samples"] == "512" and values[KEEP_FLOAT_KEY]
    # one file, several frame counts (0.01 s: shorter than half a window, zero-padded as in PyTorch)
    report = check_parity(net, offline_onnx, (0.01, 0.37, 1.3), tolerance=1e-5)
    assert report.passed, report.lines()
    noisy = torch.from_numpy(np.stack([speechlike(5000, seed) for seed in (1, 2)])).view(2, 1, -1)
    with torch.no_grad():
        assert float((OnnxNet(offline_onnx).enhance(noisy) - net(noisy)).abs().max()) < 1e-5


def test_streaming_graph_parity_and_latency(net, stream_onnx):
    values = read_metadata(stream_onnx)
    assert values["graph"] == "stream_gtcrn" and values["latency_samples"] == "512"
    report = check_stream_parity(streamer_for(net), stream_onnx, seconds=1.0, tolerance=1e-5)
    assert report.passed, report.lines()
    loaded = load_onnx_streamer(stream_onnx)
    assert (loaded.latency_samples, loaded.hop_samples) == (512, 256)
    inputs = onnx.load(str(stream_onnx)).graph.input  # batch 1 fixed: ONNX Runtime folds the shape arithmetic
    assert len(inputs) == 15 and all(d.dim_value > 0 for i in inputs for d in i.type.tensor_type.shape.dim)
    enhancer = onnx_enhancer(stream_onnx)  # voipdns-enhance / voipdns-eval run the streaming file too
    chunk = speechlike(3000, seed=4)
    assert enhancer.enhance(chunk).shape == chunk.shape and "streaming" in enhancer.name


def test_int8_offline_dynamic_and_static_stay_close(offline_onnx, tmp_path):
    noisy = speechlike(16000, seed=7)
    fp32 = onnx_enhancer(offline_onnx).enhance(noisy)
    calibration = calibration_audio(2, 1.0, 16000)
    for mode, minimum_snr in (("dynamic", 30.0), ("static", 20.0)):
        options = {"calibration": calibration} if mode == "static" else {}
        quantized = quantize_int8(offline_onnx, tmp_path / f"{mode}.onnx", mode=mode, **options)
        assert read_metadata(quantized)["quantization"] == f"int8_{mode}"
        out = onnx_enhancer(quantized).enhance(noisy)
        assert out.shape == noisy.shape and np.isfinite(out).all()
        snr = output_snr_db(fp32, out)
        assert minimum_snr < snr < float("inf"), f"{mode}: INT8 vs FP32 SNR {snr:.1f} dB"


def test_int8_streaming_dynamic_stays_close(net, stream_onnx, tmp_path):
    quantized = quantize_int8(stream_onnx, tmp_path / "stream.int8.onnx")
    audio = speechlike(16000, seed=8)
    fp32 = load_onnx_streamer(stream_onnx).process(audio)
    int8 = load_onnx_streamer(quantized).process(audio)
    assert int8.shape == audio.shape
    snr = output_snr_db(fp32, int8)
    assert 25.0 < snr < float("inf"), f"streaming INT8 vs FP32 SNR {snr:.1f} dB"


def test_official_weights_parity_and_int8_quality(gtcrn_pretrained, shared_data, tmp_path):
    source = load_model(gtcrn_pretrained / "model_trained_on_dns3.tar")
    path = tmp_path / "dns3.onnx"
    export_onnx(source.net, path, source.name, source.config)
    assert check_parity(source.net, path, (0.7,), tolerance=1e-5).passed
    static = quantize_int8(path, mode="static", calibration=calibration_audio(3, 1.5, 16000))
    report = int8_quality(path, static, quality_clips(2, 3.0, 16000, shared_data))
    # measured on all 6 VoiceBank-DEMAND pairs: PESQ-WB +0.013, INT8-vs-FP32 SNR 27.9 dB
    assert report.mean("pesq_int8") > report.mean("pesq_fp32") - 0.05, report.lines()
    assert report.mean("snr_db") > 20.0, report.lines()


def official_layout_checkpoint(net, folder):
    """``net``'s weights as the official trainer saves them (``{epoch, optimizer, model}``)."""
    checkpoint = folder / "gtcrn_ft.tar"
    torch.save({"epoch": 3, "optimizer": {}, "model": net.state_dict()}, checkpoint)
    return checkpoint


def test_cli_exports_a_gtcrn_checkpoint_with_static_int8(net, tmp_path):
    from voipdns.cli.export import run_export

    overrides = [
        f"checkpoint={official_layout_checkpoint(net, tmp_path)}", f"output={tmp_path / 'g.onnx'}",
        "quantize=static", "int8.calibration_clips=2", "int8.calibration_seconds=1.0", "quality.clips=1",
        "quality.seconds=1.5", "parity.lengths_seconds=[0.3,0.9]", "parity.tolerance=1e-5", "example_seconds=0.5",
    ]  # fmt: skip
    written = run_export(compose_config("export", overrides, tmp_path))
    assert [p.name for p in written] == ["g.onnx", "g.int8.onnx"]
    assert read_metadata(written[0])["model_name"] == "gtcrn_ft"
    assert read_metadata(written[1])["quantization"] == "int8_static"
    noisy = speechlike(4000, seed=9)
    with torch.no_grad():
        expected = net(torch.from_numpy(noisy).view(1, 1, -1)).view(-1).numpy()
    np.testing.assert_allclose(onnx_enhancer(written[0]).enhance(noisy), expected, atol=1e-5)


def test_cli_exports_a_gtcrn_checkpoint_streaming_with_dynamic_int8(net, tmp_path):
    from voipdns.cli.export import run_export

    overrides = [
        f"checkpoint={official_layout_checkpoint(net, tmp_path)}", f"output={tmp_path / 's.onnx'}", "stream=true",
        "quantize=dynamic", "parity.tolerance=1e-5",
    ]  # fmt: skip
    written = run_export(compose_config("export", overrides, tmp_path))
    assert [p.name for p in written] == ["s.onnx", "s.int8.onnx"]
    assert read_metadata(written[0])["graph"] == "stream_gtcrn"
    assert read_metadata(written[1])["quantization"] == "int8_dynamic"
