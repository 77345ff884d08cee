"""Benchmark: on-the-fly training data, mixing + VoIP channel simulation, in seconds of audio per second.

    .venv/bin/python bench/bench_data_pipeline.py [--clips 8] [--seconds 10] [--workers 1] [--conditions all]

Per clip: speech + noise crops mixed at a random SNR and level (`voipdns.data.mixing.mix`), then the channel
of a condition (`voipdns.voip.channel.make_preset`: platform denoiser, AGC, Opus link with loss and jitter,
for phone conditions the 8 kHz PSTN leg with G.711 and AMR-NB). Speech/noise: LibriSpeech + household noise
from ../shared/data when present, else synthetic. Codec delay calibration (once per process) is done before
timing. Reports, per stage and per condition, the real-time factor per worker (audio seconds / CPU seconds
of one process, torch single-threaded: CPU time, because wall time on a shared machine mostly measures the
other jobs) next to the goal (>= 100x), and with --workers N the wall-clock throughput of N processes.
Prints machine info (with the load average) first.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from machine import machine_info

from voipdns.conditions import CONDITIONS
from voipdns.data.mixing import mix
from voipdns.data.noise_synth import generate_noise
from voipdns.data.speech_synth import synthesize_speech
from voipdns.voip.channel import make_preset
from voipdns.voip.opus import load_libopus

SAMPLE_RATE = 16000
GOAL_X_REALTIME = 100.0
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def describe_machine() -> str:
    opus = "libopus via ctypes (PLC/FEC)" if load_libopus() else "PyAV fallback"
    return f"machine: {machine_info(('numpy', 'torch', 'av', 'soxr', 'scipy'))}; Opus decoder: {opus}"


def load_clips(count: int, seconds: float) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    samples = int(seconds * SAMPLE_RATE)
    speech_dir, noise_dir = SHARED / "speech/librispeech-train-clean-100", SHARED / "noise/household"
    if speech_dir.is_dir() and noise_dir.is_dir():
        speech = [sf.read(p, dtype="float32")[0] for p in sorted(speech_dir.iterdir())[:count]]
        noise = [sf.read(p, dtype="float32")[0] for p in sorted(noise_dir.iterdir())[:count]]
        speech = [np.resize(s, samples) for s in speech]  # np.resize repeats short files
        noise = [np.resize(n, samples) for n in noise]
        return speech, noise, "LibriSpeech + household noise (../shared/data)"
    rng = np.random.default_rng(0)
    speech = [synthesize_speech(rng, samples, SAMPLE_RATE).astype(np.float32) for _ in range(count)]
    noise = [generate_noise("babble", rng, samples, SAMPLE_RATE).astype(np.float32) for _ in range(count)]
    return speech, noise, "synthetic speech + babble"


def run_worker(args: tuple[list[str], int, float, int]) -> dict[str, float]:
    """Seconds spent per stage type and per condition for `clips` clips (one process)."""
    conditions, clips, seconds, seed = args
    torch.set_num_threads(1)
    speech, noise, _ = load_clips(clips, seconds)
    channels = {c: make_preset(c) for c in conditions}
    for channel in channels.values():  # codec delay calibration happens once per process: not timed
        channel(np.zeros(SAMPLE_RATE, np.float32), seed=0)
    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    for i in range(clips):
        for condition, channel in channels.items():
            start = time.process_time()
            mixture = mix(
                torch.from_numpy(speech[i])[None],
                torch.from_numpy(noise[i])[None],
                float(rng.uniform(-5, 20)),
                float(rng.uniform(-35, -15)),
                SAMPLE_RATE,
            )
            timings["mixing"] = timings.get("mixing", 0.0) + time.process_time() - start
            signal = mixture.noisy[0].numpy()
            stage_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(i).spawn(len(channel.stages))]
            for stage, stage_rng in zip(channel.stages, stage_rngs, strict=True):
                start = time.process_time()
                signal = stage(signal, SAMPLE_RATE, stage_rng)
                elapsed = time.process_time() - start
                name = type(stage).__name__
                timings[name] = timings.get(name, 0.0) + elapsed
                timings[condition] = timings.get(condition, 0.0) + elapsed
    return timings


def report(label: str, audio_seconds: float, wall_seconds: float) -> str:
    factor = audio_seconds / max(wall_seconds, 1e-9)
    verdict = "ok" if factor >= GOAL_X_REALTIME else "below goal"
    return f"  {label:<28} {factor:8.1f}x real time   (goal >= {GOAL_X_REALTIME:.0f}x: {verdict})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--conditions", default="all", help="comma-separated list or 'all'")
    args = parser.parse_args()
    conditions = list(CONDITIONS) if args.conditions == "all" else args.conditions.split(",")
    print(describe_machine())
    source = load_clips(1, 1.0)[2]
    print(f"data: {source}; {args.clips} clips x {args.seconds:g} s x {len(conditions)} conditions")

    timings = run_worker((conditions, args.clips, args.seconds, 0))
    per_condition_audio = args.clips * args.seconds
    total_audio = per_condition_audio * len(conditions)
    stage_time = sum(timings[c] for c in conditions)
    print("\nper worker (1 process, torch 1 thread): audio seconds per CPU second")
    print(report("mixing only", total_audio, timings["mixing"]))
    for stage in ("PlatformDenoiser", "AutomaticGainControl", "CodecLink", "PhonePath"):
        if stage in timings:
            print(
                report(
                    f"stage {stage}",
                    total_audio
                    if stage != "PhonePath"
                    else per_condition_audio * sum("phone" in c for c in conditions),
                    timings[stage],
                )
            )
    for condition in conditions:
        print(
            report(
                f"mixing + {condition}",
                per_condition_audio,
                timings[condition] + timings["mixing"] / len(conditions),
            )
        )
    print(report("mixing + channel, all", total_audio, stage_time + timings["mixing"]))

    if args.workers > 1:
        jobs = [(conditions, args.clips, args.seconds, seed) for seed in range(args.workers)]
        start = time.perf_counter()
        with multiprocessing.get_context().Pool(args.workers) as pool:
            pool.map(run_worker, jobs)
        wall = time.perf_counter() - start
        print(f"\n{args.workers} processes (start-up, loading and calibration included):")
        print(report("total throughput", total_audio * args.workers, wall))
        print(report("per worker", total_audio, wall))


if __name__ == "__main__":
    main()
