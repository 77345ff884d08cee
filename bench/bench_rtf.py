"""Offline real-time factor on one thread: PyTorch eager vs ONNX Runtime FP32 vs INT8, for every model.

RTF = processing seconds / audio seconds (lower is faster). Each model is built from its ``conf/net`` config
(untrained weights: speed does not depend on the values), exported to a temporary folder, and timed on the
same synthetic noisy clip; the best of ``--repeats`` runs is kept. For Demucs the ONNX Runtime graph
optimisation levels are compared too.

    nice .venv/bin/python bench/bench_rtf.py --seconds 4 --repeats 3
    nice .venv/bin/python bench/bench_rtf.py --models demucs --levels disable basic extended all
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import yaml
from machine import machine_info

CONF_NET = Path(__file__).resolve().parents[1] / "conf" / "net"
MODELS = {
    "demucs": "demucs.yaml",
    "demucs_dns64": "demucs_dns64.yaml",
    "fullsubnet": "fullsubnet.yaml",
    "unet": "unet.yaml",
    "percepnet": "percepnet.yaml",
    "ppn": "ppn.yaml",
    "upn": "upn.yaml",
    "dsp_denoiser": "dsp_denoiser.yaml",
}


def best_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def noisy_clip(seconds: float) -> torch.Tensor:
    from voipdns.data.synthetic import SyntheticSpeechDataset

    item = SyntheticSpeechDataset(num_items=1, segment_seconds=seconds, seed=7)[0]
    return item["noisy"].view(1, 1, -1)


def with_embedding(net, embedding_dim: int):
    if getattr(net, "embedding_dim", 0):
        net.set_speaker_embedding(torch.randn(embedding_dim))
    return net


def onnx_model(path: Path, level: str, net):
    """The exported file in ONNX Runtime; PPN/UPN get the same kind of speaker embedding as ``net``."""
    from voipdns.export.runtime import OnnxNet

    model = OnnxNet(path, threads=1, optimization=level)
    if model.net is not None:
        with_embedding(model.net, getattr(net, "embedding_dim", 0))
    return model


def bench_model(name: str, noisy: torch.Tensor, folder: Path, repeats: int, levels: list[str]) -> list[str]:
    from voipdns.export.onnx_export import export_onnx
    from voipdns.export.quantize import quantize_int8
    from voipdns.export.source import model_from_config

    source = model_from_config(yaml.safe_load((CONF_NET / MODELS[name]).read_text()), name)
    net = with_embedding(source.net, getattr(source.net, "embedding_dim", 0))
    seconds = noisy.shape[-1] / net.sample_rate
    path = folder / f"{name}.onnx"
    export_onnx(net, path, name, source.config)
    quantized = quantize_int8(path)
    with torch.inference_mode():
        eager = best_seconds(lambda: net(noisy), repeats) / seconds
    results = {}
    for level in levels:
        model = onnx_model(path, level, net)
        results[f"onnx[{level}]"] = best_seconds(lambda m=model: m.enhance(noisy), repeats) / seconds
    int8 = onnx_model(quantized, "all", net)
    results["int8"] = best_seconds(lambda: int8.enhance(noisy), repeats) / seconds
    best_onnx = min(value for key, value in results.items() if key.startswith("onnx"))
    cells = "  ".join(f"{key} {value:.4f}" for key, value in results.items())
    return [
        f"{name:13s} eager {eager:.4f}  {cells}  | eager/onnx {eager / best_onnx:.2f}x  eager/int8 "
        f"{eager / results['int8']:.2f}x"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--levels",
        nargs="+",
        default=["all"],
        choices=["disable", "basic", "extended", "all"],
        help="ONNX Runtime graph optimisation levels to time",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    noisy = noisy_clip(args.seconds)
    print(f"machine: {machine_info(('torch', 'onnxruntime'), 1)}")
    print(
        f"real-time factor on {args.seconds:g} s of audio, 1 thread, best of {args.repeats} (lower is faster)"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            for line in bench_model(name, noisy, Path(folder), args.repeats, args.levels):
                print(line, flush=True)


if __name__ == "__main__":
    main()
