"""Offline real-time factor on one thread: PyTorch eager vs ONNX Runtime FP32 vs INT8, for every model.

RTF = processing seconds / audio seconds (lower is faster). Each model is built from its ``conf/net`` config
(untrained weights: speed does not depend on the values), exported to a temporary folder, and timed on the
same synthetic noisy clip; the best of ``--repeats`` runs is kept. INT8: dynamic (weights only) and static
(calibrated activations, ``voipdns.export.quantize``). ONNX Runtime graph optimisation levels: ``--levels``.

Each row also prints the net's GFLOP per second of audio and the FP32 floor: that work divided by this
core's measured FP32 matrix-product peak, the RTF no FP32 implementation can beat here (see ``flops.py``).

    nice .venv/bin/python bench/bench_rtf.py --seconds 4 --repeats 3
    nice .venv/bin/python bench/bench_rtf.py --models demucs --levels disable basic extended all
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from flops import gemm_peak_gflops, multiply_adds
from machine import machine_info

from voipdns.config import net_config

MODELS = {
    "demucs": "demucs.yaml",
    "demucs_dns64": "demucs_dns64.yaml",
    "fullsubnet": "fullsubnet.yaml",
    "unet": "unet.yaml",
    "percepnet": "percepnet.yaml",
    "ppn": "ppn.yaml",
    "upn": "upn.yaml",
    "dsp_denoiser": "dsp_denoiser.yaml",
    "gtcrn": "gtcrn.yaml",
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


def bench_model(
    name: str, noisy: torch.Tensor, folder: Path, repeats: int, levels: list[str], peak_gflops: float
) -> str:
    from voipdns.export.onnx_export import export_onnx
    from voipdns.export.quantize import calibration_audio, quantize_int8
    from voipdns.export.source import model_from_config

    source = model_from_config(net_config(MODELS[name].removesuffix(".yaml")), name)
    net = with_embedding(source.net, getattr(source.net, "embedding_dim", 0))
    seconds = noisy.shape[-1] / net.sample_rate
    gflop = 2 * multiply_adds(net, noisy) / 1e9 / seconds  # per second of audio
    path = folder / f"{name}.onnx"
    export_onnx(net, path, name, source.config)
    int8 = {
        "int8-dyn": quantize_int8(path, folder / f"{name}.dyn.onnx"),
        "int8-static": quantize_int8(
            path, folder / f"{name}.static.onnx", mode="static",
            calibration=calibration_audio(4, 4.0, net.sample_rate),
            prepare=lambda model: with_embedding(model.net, getattr(net, "embedding_dim", 0)),
        ),
    }  # fmt: skip
    with torch.inference_mode():
        results = {"eager": best_seconds(lambda: net(noisy), repeats) / seconds}
    for level in levels:
        model = onnx_model(path, level, net)
        results[f"onnx[{level}]"] = best_seconds(lambda m=model: m.enhance(noisy), repeats) / seconds
    for key, quantized in int8.items():
        model = onnx_model(quantized, "all", net)
        results[key] = best_seconds(lambda m=model: m.enhance(noisy), repeats) / seconds
    best_onnx = min(value for key, value in results.items() if key.startswith("onnx"))
    cells = "  ".join(f"{key} {value:.4f}" for key, value in results.items())
    eager = results["eager"]
    return (
        f"{name:13s} {gflop:6.2f} GFLOP/s-audio, FP32 floor {gflop / peak_gflops:.4f} | {cells} | eager/onnx "
        f"{eager / best_onnx:.2f}x  eager/int8-dyn {eager / results['int8-dyn']:.2f}x  "
        f"eager/int8-static {eager / results['int8-static']:.2f}x"
    )


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
    peak = gemm_peak_gflops()
    print(f"FP32 matrix-product peak on this thread (1024^2 torch.mm): {peak:.1f} GFLOP/s")
    print(f"real-time factor on {args.seconds:g} s of audio, 1 thread, best of {args.repeats} (lower is faster)")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            print(bench_model(name, noisy, Path(folder), args.repeats, args.levels, peak), flush=True)


if __name__ == "__main__":
    main()
