"""Static INT8: the polyphase form of transposed convs, calibrated QDQ quantisation, FP32-kept nodes, CLI."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch
from tests.hydra_helpers import compose_config

from voipdns.enhancers import onnx_enhancer
from voipdns.export import export_onnx, read_metadata
from voipdns.export.adapters import KEEP_FLOAT_KEY
from voipdns.export.polyphase import PolyphaseConvTranspose1d, with_polyphase_transposed_convs
from voipdns.export.quantize import (
    calibration_audio,
    calibration_feeds,
    keep_float_nodes,
    output_snr_db,
    quantize_int8,
)
from voipdns.export.source import model_from_config

M = "voipdns.models."


@pytest.mark.parametrize("kernel_size,stride,bias", [(8, 4, True), (4, 4, False), (6, 2, True), (3, 1, True)])
def test_polyphase_form_equals_the_transposed_conv(kernel_size, stride, bias):
    torch.manual_seed(0)
    transposed = torch.nn.ConvTranspose1d(5, 3, kernel_size, stride, bias=bias)
    x = torch.randn(2, 5, 17)
    with torch.no_grad():
        expected, got = transposed(x), PolyphaseConvTranspose1d(transposed)(x)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-5


def test_polyphase_refuses_what_it_cannot_express_and_copies_the_net():
    with pytest.raises(ValueError, match="kernel % stride"):
        PolyphaseConvTranspose1d(torch.nn.ConvTranspose1d(2, 2, 5, 4))
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.ConvTranspose1d(2, 1, 8, 4))
    copy = with_polyphase_transposed_convs(net)
    assert isinstance(net[1], torch.nn.ConvTranspose1d) and isinstance(copy[1], PolyphaseConvTranspose1d)


def test_exported_demucs_has_no_transposed_convs_and_names_its_fp32_nodes(tiny_demucs_onnx):
    _, path = tiny_demucs_onnx
    model = onnx.load(str(path))
    assert not [node for node in model.graph.node if node.op_type == "ConvTranspose"]
    kept = {name for name in keep_float_nodes(model, read_metadata(path)[KEEP_FLOAT_KEY])}
    convs = [node.name for node in model.graph.node if node.op_type == "Conv"]
    # the x4 resampler (2 up, 2 down) and the two convs of each of the 2 outermost encoder and decoder levels
    assert len(kept.intersection(convs)) == 4 + 2 * 2 * 2, sorted(kept)
    assert not [name for name in kept if "encoder.2/" in name or "decoder.1/" in name]
    assert len(convs) == 8 + 2 * 3 * 2


def test_static_int8_quantises_inner_convs_and_keeps_outer_ones(tiny_demucs_onnx, tmp_path):
    _, path = tiny_demucs_onnx
    calibration = calibration_audio(2, 1.0, 16000)
    quantized = quantize_int8(path, tmp_path / "s.onnx", mode="static", calibration=calibration)
    assert read_metadata(quantized)["quantization"] == "int8_static"
    model = onnx.load(str(quantized))
    dequantized = {out for node in model.graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    kept = set(keep_float_nodes(model, read_metadata(path)[KEEP_FLOAT_KEY]))
    for node in (n for n in model.graph.node if n.op_type == "Conv"):
        assert (node.input[1] in dequantized) == (node.name not in kept), node.name
    assert any(node.op_type == "DynamicQuantizeLSTM" for node in model.graph.node)
    noisy = calibration_audio(1, 1.5, 16000)[0][::-1].copy()  # audio the ranges were not measured on
    out8, out32 = onnx_enhancer(quantized).enhance(noisy), onnx_enhancer(path).enhance(noisy)
    assert out8.shape == noisy.shape and output_snr_db(out32, out8) > 15.0
    everything = onnx.load(str(quantize_int8(path, tmp_path / "a.onnx", mode="static", calibration=calibration,
                                             keep_float="")))  # fmt: skip
    weights = {out for node in everything.graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    assert all(node.input[1] in weights for node in everything.graph.node if node.op_type == "Conv")


def test_static_int8_of_a_core_only_graph_calibrates_on_its_features(tmp_path):
    source = model_from_config({"_target_": M + "unet.MaskUNet", "base_channels": 2}, "unet")
    path = tmp_path / "unet.onnx"
    export_onnx(source.net, path, source.name, source.config, example_seconds=0.3)
    audio = calibration_audio(2, 0.5, 16000)
    feeds = calibration_feeds(path, audio)
    assert feeds and list(feeds[0]) == ["magnitude"] and feeds[0]["magnitude"].ndim == 4
    quantized = quantize_int8(path, tmp_path / "unet.int8.onnx", mode="static", calibration=audio)
    out = onnx_enhancer(quantized).enhance(audio[0])
    assert out.shape == audio[0].shape and np.isfinite(out).all()


def test_bad_quantisation_requests_fail_clearly(tiny_demucs_onnx, tmp_path):
    _, path = tiny_demucs_onnx
    with pytest.raises(ValueError, match="needs calibration audio"):
        quantize_int8(path, tmp_path / "x.onnx", mode="static")
    with pytest.raises(ValueError, match="matches no node"):
        quantize_int8(path, tmp_path / "x.onnx", mode="static", calibration=calibration_audio(1, 0.5, 16000),
                      keep_float="^/core/no_such_layer/")  # fmt: skip
    with pytest.raises(ValueError, match="choose one of"):
        quantize_int8(path, tmp_path / "x.onnx", mode="int4")
    with pytest.raises(FileNotFoundError, match="holds no files"):
        (tmp_path / "empty").mkdir()
        calibration_audio(2, 1.0, 16000, tmp_path / "empty")


def test_calibration_audio_from_a_folder_is_cut_to_length(tmp_path):
    for index in range(3):
        sf.write(tmp_path / f"{index}.wav", 0.1 * np.ones(16000 * (index + 1), dtype=np.float32), 16000)
    clips = calibration_audio(2, 1.5, 16000, tmp_path)
    assert [len(clip) for clip in clips] == [16000, 24000]


def test_cli_static_int8_and_its_refusals(tmp_path):
    from voipdns.cli.export import run_export

    common = ["net=demucs", "net.hidden=4", "net.depth=4", "parity.lengths_seconds=[0.3]", "example_seconds=0.3"]
    overrides = [*common, f"output={tmp_path / 'm.onnx'}", "quantize=static", "int8.calibration_clips=2",
                 "int8.calibration_seconds=1.0", "quality.clips=1", "quality.seconds=1.5"]  # fmt: skip
    written = run_export(compose_config("export", overrides, tmp_path))
    assert [p.name for p in written] == ["m.onnx", "m.int8.onnx"]
    assert read_metadata(written[1])["quantization"] == "int8_static"
    refused = tmp_path / "refused.onnx"
    with pytest.raises(ValueError, match="use quantize=dynamic with stream=true"):
        run_export(compose_config("export", [*common, "stream=true", "quantize=static", f"output={refused}"], tmp_path))
    with pytest.raises(ValueError, match="choose null, dynamic or static"):
        run_export(compose_config("export", [*common, "quantize=int4", f"output={refused}"], tmp_path))
    with pytest.raises(ValueError, match="personalised"):
        run_export(compose_config("export", ["net=ppn", "quantize=static", f"output={refused}"], tmp_path))
    assert not refused.exists()  # refused before anything was exported
