"""Streaming per-frame time vs the real-time budget (the audio one frame consumes), PyTorch vs ONNX Runtime.

Each streamer processes ``--seconds`` of synthetic noisy speech one hop at a time, on one thread; the
mean / 95th percentile / max time per frame is printed beside the frame budget (16 ms for Demucs, FullSubNet
and GTCRN, 10 ms for PercepNet at 16 kHz) and as a real-time factor (mean frame time / budget). Backends:
PyTorch, the ONNX streaming graph, and that graph with dynamic INT8 weights (``onnx-int8``). Untrained
weights (speed does not depend on their values).

    nice .venv/bin/python bench/bench_streaming.py --seconds 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from bench_rtf import noisy_clip, with_embedding
from machine import machine_info

from voipdns.config import net_config, to_plain

CONFIGS = {
    "demucs": ("demucs.yaml", {}),
    "fullsubnet": ("fullsubnet.yaml", {"fb_norm": "cumulative_laplace", "sb_norm": "cumulative_laplace"}),
    "percepnet": ("percepnet.yaml", {}),
    "upn": ("upn.yaml", {}),
    "gtcrn": ("gtcrn.yaml", {}),
}


def run(streamer, audio) -> dict[str, float]:
    streamer.process(audio[: streamer.hop_samples * 8])  # warm-up
    streamer.process(audio)
    return streamer.timer.summary_ms()


def bench(name: str, audio, folder: Path) -> list[str]:
    from voipdns.export.quantize import quantize_int8
    from voipdns.export.source import model_from_config
    from voipdns.export.stream_graph import export_stream_onnx, load_onnx_streamer
    from voipdns.streaming import streamer_for

    file, overrides = CONFIGS[name]
    source = model_from_config({**to_plain(net_config(file.removesuffix(".yaml"))), **overrides}, name)
    net = with_embedding(source.net, getattr(source.net, "embedding_dim", 0))
    streamer = streamer_for(net)
    path = export_stream_onnx(streamer, folder / f"{name}.onnx", name, source.config)
    backends = {"pytorch": streamer, "onnx": load_onnx_streamer(path)}
    backends["onnx-int8"] = load_onnx_streamer(quantize_int8(path, folder / f"{name}.int8.onnx"))
    embedding = getattr(streamer, "embedding", None)
    for runner in backends.values():
        if embedding is not None:  # PPN/UPN: the same enrolled speaker everywhere
            runner.set_speaker_embedding(embedding)
    lines = []
    for backend, runner in backends.items():
        timing = run(runner, audio)
        budget = runner.frame_budget_ms
        lines.append(
            f"{name:10s} {backend:9s} latency {runner.latency_ms:5.1f} ms  "
            f"frame {timing['mean_ms']:6.2f} ms mean "
            f"/ {timing['p95_ms']:6.2f} p95 / {timing['max_ms']:6.2f} max  vs budget {budget:4.1f} ms "
            f"-> RTF {timing['mean_ms'] / budget:.3f}"
        )
    if name == "demucs":
        lines.append(reference_demucs_line(net, audio))
    return lines


def reference_demucs_line(net, audio) -> str:
    """denoiser 0.1.5's DemucsStreamer on the same weights and audio (side by side with ours)."""
    import time

    import numpy as np
    from denoiser.demucs import Demucs as ReferenceDemucs
    from denoiser.demucs import DemucsStreamer as ReferenceStreamer

    reference = ReferenceDemucs(hidden=net.hidden)
    reference.load_state_dict(net.state_dict())
    streamer = ReferenceStreamer(reference.eval())
    chunk, times = 256, []
    with torch.no_grad():
        for start in range(0, audio.size, chunk):
            started = time.perf_counter()
            streamer.feed(torch.from_numpy(audio[None, start : start + chunk]))
            times.append(time.perf_counter() - started)
    ms = 1000 * np.asarray(times[3:])  # after its first frame
    return (
        f"{'demucs':10s} {'denoiser':8s} latency {1000 * streamer.total_length / 16000:5.1f} ms  "
        f"frame {ms.mean():6.2f} ms mean / {np.percentile(ms, 95):6.2f} p95 / {ms.max():6.2f} max  "
        f"vs budget 16.0 ms -> {ms.mean() / 16.0:.2f} of real time (reference DemucsStreamer)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = noisy_clip(args.seconds).view(-1).numpy()
    print(f"machine: {machine_info(('torch', 'onnxruntime'), 1)}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            for line in bench(name, audio, Path(folder)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
