"""ONNX export: graphs with dynamic axes and metadata, ONNX Runtime parity, INT8 quantisation, the CLI."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from tests.conftest import TINY_DEMUCS
from tests.hydra_helpers import compose_config

from voipdns.enhancers import onnx_enhancer
from voipdns.export import OnnxMetadataError, check_parity, export_onnx, read_metadata
from voipdns.export.adapters import DemucsWaveformGraph, UnsupportedExportError, graph_spec
from voipdns.export.quantize import int8_quality, output_snr_db, quality_clips, quantize_int8
from voipdns.export.runtime import OnnxNet
from voipdns.export.source import model_from_config
from voipdns.models.base import EnhancementNet

M = "voipdns.models."
PERCEPNET = {"fc_size": 12, "conv_channels": 12, "gru_sizes": [12, 12], "strength_gru_size": 6}
OTHERS = {
    "fullsubnet": {"_target_": M + "fullsubnet.FullSubNet", "fb_hidden_size": 12, "sb_hidden_size": 6},
    "fullsubnet_causal": {
        "_target_": M + "fullsubnet.FullSubNet", "fb_hidden_size": 12, "sb_hidden_size": 6,
        "fb_norm": "cumulative_laplace", "sb_norm": "cumulative_laplace",
    },
    "unet": {"_target_": M + "unet.MaskUNet", "base_channels": 2},
    "percepnet": {"_target_": M + "percepnet.PercepNet", **PERCEPNET},
    "ppn": {"_target_": M + "percepnet.PersonalizedPercepNet", "embedding_dim": 6, **PERCEPNET},
    "dsp_denoiser": {"_target_": M + "dsp_denoiser.DspDenoiser", "hidden": 6, "num_bands": 16},
}  # fmt: skip
LENGTHS = (0.23, 0.61)


def test_demucs_parity_over_two_lengths_through_one_file(tiny_demucs_onnx):
    source, path = tiny_demucs_onnx
    report = check_parity(source.net, path, LENGTHS, tolerance=1e-5)
    assert report.passed, report.lines()
    assert [row[1] for row in report.rows] == [3680, 9760]  # different lengths, neither the traced one
    assert all(np.isfinite(row[2]) for row in report.rows)


def test_metadata_is_in_the_file(tiny_demucs_onnx):
    source, path = tiny_demucs_onnx
    values = read_metadata(path)
    assert values["graph"] == "waveform" and values["model_name"] == "tiny_demucs"
    assert values["model_target"] == "voipdns.models.demucs.Demucs"
    assert (values["sample_rate"], values["hop_samples"], values["latency_samples"]) == ("16000", "64", "213")
    assert json.loads(values["net_config"]) == TINY_DEMUCS
    assert values["version"] and values["quantization"] == "none"
    graph = onnx.load(str(path)).graph
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[2] == "samples"


def test_valid_length_in_graph_matches_demucs():
    net = model_from_config({**TINY_DEMUCS, "depth": 5}).net
    graph = DemucsWaveformGraph(net)
    for length in (1, 2, 596, 597, 598, 853, 854, 16000, 16001):
        assert int(graph.valid_length(torch.tensor(length))) == net.valid_length(length)


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_models_export_with_parity(tmp_path, name):
    source = model_from_config(OTHERS[name], name)
    path = tmp_path / f"{name}.onnx"
    spec = export_onnx(source.net, path, name, source.config, example_seconds=0.5)
    if name == "ppn":  # needs a speaker embedding at run time, as in PyTorch
        source.net.set_speaker_embedding(torch.ones(6))
        model = OnnxNet(path)
        model.net.set_speaker_embedding(torch.ones(6))
        noisy = 0.1 * torch.randn(1, 1, 4000)
        with torch.no_grad():
            assert float((model.enhance(noisy) - source.net(noisy)).abs().max()) < 1e-5
        return
    report = check_parity(source.net, path, LENGTHS, tolerance=1e-5)
    assert report.passed, report.lines()
    assert read_metadata(path)["graph"] == spec.graph


def test_int8_file_runs_and_stays_close(tiny_demucs_onnx, tmp_path):
    source, path = tiny_demucs_onnx
    quantized = quantize_int8(path, tmp_path / "demucs.int8.onnx")
    assert read_metadata(quantized)["quantization"] == "int8_dynamic"
    assert quantized.stat().st_size < path.stat().st_size
    enhancer = onnx_enhancer(quantized)
    noisy = (0.1 * np.random.default_rng(0).standard_normal(5000)).astype(np.float32)
    out8 = enhancer.enhance(noisy)
    out32 = onnx_enhancer(path).enhance(noisy)
    assert enhancer.sample_rate == 16000 and out8.shape == noisy.shape
    assert output_snr_db(out32, out8) > 15.0


def test_int8_quality_report_has_pesq_per_clip(tiny_demucs_onnx, tmp_path):
    _, path = tiny_demucs_onnx
    quantized = quantize_int8(path, tmp_path / "q.onnx")
    report = int8_quality(path, quantized, quality_clips(1, 2.0, 16000))
    assert len(report.rows) == 1
    row = report.rows[0]
    assert 1.0 <= row["pesq_input"] <= 4.7 and 1.0 <= row["pesq_fp32"] <= 4.7 and row["snr_db"] > 10
    assert "change" in report.lines()[-1]


def test_errors_name_the_problem(tmp_path):
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), str(plain), dynamo=False)
    with pytest.raises(OnnxMetadataError, match="not a voipdns export"):
        read_metadata(plain)
    (tmp_path / "junk.onnx").write_text("not onnx")
    with pytest.raises(OnnxMetadataError, match="junk.onnx: not a readable ONNX file"):
        read_metadata(tmp_path / "junk.onnx")

    class Passthrough(EnhancementNet):
        def forward(self, noisy):
            return noisy

    with pytest.raises(UnsupportedExportError, match="Passthrough has no ONNX export adapter"):
        graph_spec(Passthrough())


def test_cli_exports_checks_and_quantises(tmp_path):
    from voipdns.cli.export import run_export

    overrides = [
        "net=demucs",
        "net.hidden=4",
        "net.depth=4",
        f"output={tmp_path / 'cli.onnx'}",
        "quantize=dynamic",
        "quality.clips=1",
        "quality.seconds=1.5",
        "parity.lengths_seconds=[0.3,0.5]",
        "example_seconds=0.3",
    ]
    written = run_export(compose_config("export", overrides, tmp_path))
    assert [p.name for p in written] == ["cli.onnx", "cli.int8.onnx"]
    assert read_metadata(written[0])["model_name"] == "demucs"


def test_cli_streaming_export_and_missing_model(tmp_path):
    from voipdns.cli.export import run_export

    overrides = ["net=demucs", "net.hidden=4", "net.depth=4", "stream=true", f"output={tmp_path / 's.onnx'}"]
    (path,) = run_export(compose_config("export", overrides, tmp_path))
    assert read_metadata(path)["graph"] == "stream_demucs"
    enhancer = onnx_enhancer(path)  # a streaming graph also works as a chunk enhancer (voipdns-enhance/-eval)
    chunk = (0.05 * np.random.default_rng(3).standard_normal(1000)).astype(np.float32)
    assert enhancer.enhance(chunk).shape == chunk.shape and "streaming" in enhancer.name
    with pytest.raises(ValueError, match="set checkpoint="):
        run_export(compose_config("export", [], tmp_path))
