"""Benchmark: scoring a test set with PESQ + STOI + SI-SDR + DNSMOS, 2 worker processes vs a sequential loop.

    .venv/bin/python bench/bench_scoring.py [--clips 24] [--seconds 10] [--workers 2]

Clips: LibriSpeech utterances from ../shared/data (cropped to --seconds, mixed with real noise at 10 dB as
the "estimate") when present, else synthetic speech-like clips. Both runs go through
`voipdns.reports.score_items` (num_workers=0 is the plain sequential loop), writing their per-file CSVs to a
temporary folder; the parallel time includes starting the workers. Prints both times, the speed-up (goal
>= 1.8x with 2 workers on 2 free cores), how many times faster than real time each run scores and the
CPU seconds each used (the pool's start-up and hand-over cost is the difference).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from machine import machine_info

from voipdns.reports import ScoreItem, score_items

METRICS = ["pesq_wb", "stoi", "si_sdr", "dnsmos"]
SAMPLE_RATE = 16000
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic_clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(110 + 40 * rng.random() + 20 * np.sin(2 * np.pi * 0.5 * t)) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 15))
    envelope = np.clip(np.sin(2 * np.pi * (2.5 + rng.random()) * t), 0, None) ** 2
    return (0.3 * voiced * envelope).astype(np.float32)


def _shared_clips(count: int, seconds: float) -> list[np.ndarray] | None:
    speech_dir, noise_dir = SHARED / "speech/librispeech-train-clean-100", SHARED / "noise/household"
    if not speech_dir.is_dir() or not noise_dir.is_dir():
        return None
    samples = int(seconds * SAMPLE_RATE)
    clips = []
    for path in sorted(speech_dir.iterdir()):
        if sf.info(str(path)).frames >= samples and sf.info(str(path)).samplerate == SAMPLE_RATE:
            clips.append(sf.read(str(path), frames=samples, dtype="float32")[0])
        if len(clips) == count:
            return clips
    return None


def make_items(count: int, seconds: float) -> tuple[list[ScoreItem], str]:
    clean_clips = _shared_clips(count, seconds)
    source = "LibriSpeech (../shared/data) + household noise at 10 dB"
    noises = sorted((SHARED / "noise/household").glob("*")) if clean_clips else []
    if clean_clips is None:
        clean_clips = [synthetic_clip(seconds, seed) for seed in range(count)]
        source = "synthetic speech-like clips + white noise at 10 dB"
    items = []
    rng = np.random.default_rng(0)
    for index, clean in enumerate(clean_clips):
        if noises:
            noise = sf.read(str(noises[index % len(noises)]), dtype="float32")[0]
            noise = np.resize(noise, clean.size)
        else:
            noise = rng.standard_normal(clean.size).astype(np.float32)
        gain = np.sqrt(np.mean(clean**2) / (np.mean(noise**2) * 10 ** (10 / 10) + 1e-12))
        estimate = np.clip(clean + gain * noise, -1, 1).astype(np.float32)
        items.append(ScoreItem(f"clip{index:03d}", estimate, clean=clean, condition="bench"))
    return items, source


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the scoring workers, once shut down)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items, source = make_items(args.clips, args.seconds)
    audio_seconds = sum(item.estimate.size for item in items) / SAMPLE_RATE
    print(machine_info(("numpy", "onnxruntime", "pesq", "pystoi")))
    print(f"test set: {len(items)} clips, {audio_seconds:.0f} s of audio ({source}); metrics {METRICS}")
    timings = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, workers in (("sequential", 0), (f"parallel ({args.workers} workers)", args.workers)):
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            rows = score_items(
                items,
                Path(folder) / f"{workers}.csv",
                metrics=METRICS,
                num_workers=workers,
                with_input=False,
                progress=False,
            )
            timings[label] = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_start
            checked = ("pesq_wb", "stoi", "si_sdr", "dnsmos_ovrl")
            failed = sum(row[m] == "nan" for row in rows for m in checked)
            print(
                f"{label:>24}: {timings[label]:7.2f} s  = {audio_seconds / timings[label]:6.1f}x real time"
                f"  CPU {cpu:6.1f} s  ({len(rows)} clips, {failed} NaN values)"
            )
    sequential, parallel = timings.values()
    print(
        f"speed-up: {sequential / parallel:.2f}x (goal >= 1.8x with 2 workers on 2 free cores; a loaded "
        "machine, see the load average above, gives the workers less than 2 cores)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
