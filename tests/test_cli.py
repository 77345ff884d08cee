"""voipdns-eval and voipdns-enhance end to end (tiny nets, synthetic data, files the tests write)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from hydra_helpers import compose_config
from voipdns.cli.enhance import enhance_all
from voipdns.enhancers import Enhancer, load_enhancer
from voipdns.evaluation import evaluate, model_label
from voipdns.models.demucs import Demucs

RATE = 16000
TINY_DEMUCS = {"_target_": "voipdns.models.demucs.Demucs", "hidden": 4, "depth": 2, "resample": 1}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A voipdns Lightning-format checkpoint of a tiny Demucs."""
    torch.manual_seed(0)
    net = Demucs(hidden=4, depth=2, resample=1)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(
        {"hyper_parameters": {"net": TINY_DEMUCS}, "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}},
        path,
    )
    return path


def _synthetic_test_set(tmp_path, items=2):
    import hydra

    cfg = compose_config(
        "eval", ["checkpoint=input", f"data.test.num_items={items}", "data.test.segment_seconds=2.0"], tmp_path
    )
    return hydra.utils.instantiate(cfg.data).datasets["test"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_eval_input_writes_scores_report_and_resumes_without_rescoring(tmp_path):
    dataset = _synthetic_test_set(tmp_path)
    calls = []
    identity = load_enhancer("input")
    counting = Enhancer("input", RATE, lambda chunk: calls.append(1) or identity.enhance(chunk))
    options = dict(
        metrics=["pesq_wb", "stoi", "si_sdr"],
        num_workers=0,
        chunk_seconds=20.0,
        overlap_seconds=1.0,
        save_enhanced=True,
        label="input",
    )
    files = evaluate(dataset, counting, tmp_path / "eval", **options).files
    rows = _rows(tmp_path / "eval" / "scores.csv")
    assert len(rows) == 2 and len(calls) == 2
    # the identity's scores are the input's scores
    for row in rows:
        assert float(row["pesq_wb"]) == pytest.approx(float(row["input_pesq_wb"]), abs=1e-6)
    assert files["summary_md"].exists() and (tmp_path / "eval" / "enhanced").exists()

    evaluate(dataset, counting, tmp_path / "eval", **options)  # resumed: nothing is enhanced again
    assert len(calls) == 2 and len(_rows(tmp_path / "eval" / "scores.csv")) == 2


def test_eval_checkpoint_improves_nothing_but_scores_it(tmp_path, tiny_checkpoint):
    dataset = _synthetic_test_set(tmp_path, items=1)
    enhancer = load_enhancer(str(tiny_checkpoint))
    evaluate(
        dataset,
        enhancer,
        tmp_path / "eval",
        metrics=["stoi", "si_sdr"],
        num_workers=0,
        chunk_seconds=1.0,
        overlap_seconds=0.25,
        save_enhanced=False,
        label=model_label(str(tiny_checkpoint)),
    )
    row = _rows(tmp_path / "eval" / "scores.csv")[0]
    assert row["model"].endswith("/last") and np.isfinite(float(row["stoi"]))


def test_eval_rejects_sample_rate_mismatch(tmp_path):
    dataset = _synthetic_test_set(tmp_path, items=1)
    wrong = Enhancer("net8k", 8000, lambda chunk: chunk)
    with pytest.raises(ValueError, match="16000 Hz but net8k expects 8000 Hz"):
        evaluate(
            dataset,
            wrong,
            tmp_path,
            metrics=["stoi"],
            num_workers=0,
            chunk_seconds=1,
            overlap_seconds=0.1,
            save_enhanced=False,
            label="net8k",
        )


def test_enhance_long_file_in_chunks_and_keeps_going_past_a_bad_file(tmp_path, tiny_checkpoint):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    long_signal = (np.random.default_rng(0).standard_normal(RATE * 65) * 0.05).astype(np.float32)
    sf.write(source / "sub" / "long.wav", long_signal, RATE)
    (source / "broken.wav").write_text("not audio")
    cfg = compose_config(
        "enhance",
        [
            f"checkpoint={tiny_checkpoint}",
            f"input={source}",
            f"output={tmp_path / 'out'}",
            "chunk_seconds=20",
            "overlap_seconds=1",
        ],
        tmp_path,
    )
    written, failures = enhance_all(cfg)
    out, rate = sf.read(tmp_path / "out" / "sub" / "long.wav")
    assert rate == RATE and len(out) == len(long_signal)
    assert written == [tmp_path / "out" / "sub" / "long.wav"]
    assert list(failures) == [source / "broken.wav"] and "unreadable audio" in failures[source / "broken.wav"]
    # whole-file vs chunked: the tiny causal Demucs agrees away from the crossfades
    whole = Demucs(hidden=4, depth=2, resample=1)
    whole.load_state_dict({k[4:]: v for k, v in torch.load(tiny_checkpoint)["state_dict"].items()})
    with torch.no_grad():
        reference = whole(torch.from_numpy(long_signal)[None, None, : 5 * RATE]).reshape(-1).numpy()
    assert np.corrcoef(reference[RATE : 4 * RATE], out[RATE : 4 * RATE])[0, 1] > 0.99


def test_console_scripts_run(tmp_path, tiny_checkpoint):
    wav = tmp_path / "noisy.wav"
    sf.write(wav, (np.random.default_rng(1).standard_normal(RATE) * 0.1).astype(np.float32), RATE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    bin_dir = Path(sys.executable).parent
    enhance = subprocess.run(
        [
            bin_dir / "voipdns-enhance",
            f"checkpoint={tiny_checkpoint}",
            f"input={wav}",
            f"output={tmp_path / 'out'}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert enhance.returncode == 0, enhance.stderr[-2000:]
    assert (tmp_path / "out" / "noisy.wav").exists()
    evaluation = subprocess.run(
        [
            bin_dir / "voipdns-eval",
            "checkpoint=input",
            "data.test.num_items=1",
            "metrics=[stoi]",
            "num_workers=0",
            f"hydra.run.dir={tmp_path / 'eval'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    assert "STOI" in evaluation.stdout or "stoi" in evaluation.stdout
    assert (tmp_path / "eval" / "scores.csv").exists()


def test_enhance_and_eval_accept_onnx_and_streaming(tmp_path, tiny_checkpoint):
    from voipdns.export.onnx_export import export_onnx
    from voipdns.pretrained import load_net

    net = load_net(str(tiny_checkpoint))
    onnx_path = tmp_path / "tiny.onnx"
    export_onnx(net, onnx_path, "tiny", TINY_DEMUCS)
    wav = tmp_path / "in" / "noisy.wav"
    wav.parent.mkdir()
    signal = (np.random.default_rng(2).standard_normal(RATE * 2) * 0.1).astype(np.float32)
    sf.write(wav, signal, RATE)
    outputs = {}
    for label, overrides in {
        "torch": [f"checkpoint={tiny_checkpoint}"],
        "onnx": [f"checkpoint={onnx_path}"],
        "stream": [f"checkpoint={tiny_checkpoint}", "stream=true"],
    }.items():
        cfg = compose_config("enhance", [*overrides, f"input={wav.parent}", f"output={tmp_path / label}"], tmp_path)
        written, failures = enhance_all(cfg)
        assert not failures and len(written) == 1
        outputs[label], _ = sf.read(written[0])
    assert len(outputs["onnx"]) == len(outputs["stream"]) == len(signal)
    np.testing.assert_allclose(outputs["onnx"], outputs["torch"], atol=2 / 32768)  # 16-bit rounding
    # the causal streamer differs from offline only by its running normalisation
    assert np.corrcoef(outputs["stream"][RATE // 2 :], outputs["torch"][RATE // 2 :])[0, 1] > 0.95
    assert load_enhancer(str(onnx_path)).sample_rate == RATE
