"""The workers of a simulated corpus: a job's sources through every channel into files and manifest rows.

Each worker process builds the channels once (``Worker``); jobs run in a process pool whose workers exit when
the parent dies, even by SIGKILL (``voipdns.worker_guard``). A job whose source file cannot be read is not
written: it comes back as a ``JobResult`` with the reason, so the run skips and counts it and a rerun retries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch

from voipdns.audio import AudioFileError, load_audio, save_audio
from voipdns.data.mixing import as_range, crop_or_pad, loop_to_length, mix, uniform
from voipdns.voip.corpus_jobs import Job, expected_paths
from voipdns.worker_guard import guarded_pool

INT16_FULL_SCALE = 32768.0  # libsndfile maps float x to int16 round(x * 32768)


@dataclass
class JobResult:
    """The manifest rows of a finished job, or why its sources could not be used (then ``rows`` is empty)."""

    job: Job
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad_source: str = ""  # the unusable file
    reason: str = ""
    seconds: float = 0.0  # audio simulated (the source clip's length), for the progress bar's real-time factor


def peak_normalised_int16(wav: np.ndarray) -> np.ndarray:
    """The VoIP-DNS ``nrm_`` normalisation: int16(0.8 * 32767 * x / max|x|) (truncation, as numpy's cast)."""
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak == 0.0:
        return np.zeros(wav.shape, dtype=np.int16)
    return (0.8 * 32767.0 * wav.astype(np.float64) / peak).astype(np.int16)


class Worker:
    """Builds the channels once per process and turns a Job into written files + manifest rows."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.sample_rate = int(cfg["sample_rate"])
        self.split_dir = Path(cfg["dataset_dir"]) / cfg["split"]
        self.channels = {c: hydra.utils.instantiate(cfg["channels"][c]) for c in cfg["conditions"]}

    def sources(self, job: Job, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, dict]:
        source, sr = self.cfg["source"], self.sample_rate
        clean = load_audio(job.clean, sr)
        seconds = source.get("segment_seconds")
        length = clean.shape[-1] if not seconds else int(round(seconds * sr))
        if job.noisy is not None:
            noisy = load_audio(job.noisy, sr)
            both = crop_or_pad(torch.cat([clean[:, : noisy.shape[-1]], noisy[:, : clean.shape[-1]]]), length, rng)
            return both[:1], both[1:], {}
        clean = crop_or_pad(clean, length, rng)
        noise = loop_to_length(load_audio(job.noise, sr), length, rng)
        snr_db = uniform(rng, as_range(source["snr_db_range"], "source.snr_db_range"))
        level = uniform(rng, as_range(source["level_dbfs_range"], "source.level_dbfs_range"))
        mixture = mix(clean, noise, snr_db, level, sr)
        return mixture.clean, mixture.noisy, {"snr_db": round(snr_db, 3), "level_dbfs": round(level, 3)}

    def __call__(self, job: Job) -> JobResult:
        seeds = np.random.SeedSequence([int(self.cfg["seed"]), job.fileid]).generate_state(len(self.channels) + 1)
        try:
            clean, noisy, mix_info = self.sources(job, np.random.default_rng(int(seeds[0])))
        except AudioFileError as error:
            return JobResult(job, bad_source=error.path, reason=error.problem)
        signals = {
            "clean": (clean[0].numpy(), {}, int(seeds[0])),
            "noisy": (noisy[0].numpy(), {}, int(seeds[0])),
        }
        for (condition, channel), seed in zip(self.channels.items(), seeds[1:], strict=True):
            relay, stats = channel.process(noisy[0].numpy(), int(seed))
            signals[condition] = (relay, {**channel.describe(), **stats}, int(seed))
        base = {
            "fileid": job.fileid,
            "clean_source": job.clean,
            "noisy_source": job.noisy or "",
            "noise_source": job.noise or "",
            **mix_info,
        }
        rows = []
        paths = expected_paths(self.split_dir, list(self.channels), job.fileid, bool(self.cfg["normalised"]))
        for (condition, nrm), path in paths.items():
            wav, params, seed = signals[condition]
            self._write(path, wav, nrm)
            rows.append(
                {
                    **base,
                    "condition": condition,
                    "partition": path.parent.name,
                    "path": str(path.relative_to(self.split_dir)),
                    "seed": seed,
                    "lost_fraction": params.pop("lost_fraction", ""),
                    "params": json.dumps(params),
                }
            )
        return JobResult(job, rows, seconds=clean.shape[-1] / self.sample_rate)

    def _write(self, path: Path, wav: np.ndarray, normalised: bool) -> None:
        if normalised:
            samples = peak_normalised_int16(wav).astype(np.float32) / INT16_FULL_SCALE
        else:
            samples = np.clip(wav, -1.0, 32767.0 / INT16_FULL_SCALE)
        save_audio(path, samples, self.sample_rate)


_WORKER: Worker | None = None


def _init_worker(cfg: dict[str, Any]) -> None:
    global _WORKER
    torch.set_num_threads(1)
    _WORKER = Worker(cfg)


def _run_job(job: Job) -> JobResult:
    assert _WORKER is not None
    return _WORKER(job)


def run_jobs(cfg: dict[str, Any], jobs: list[Job], workers: int) -> Iterator[JobResult]:
    """Results in completion order; ``workers <= 1`` runs the jobs in this process."""
    if workers <= 1:
        _init_worker(cfg)
        yield from map(_run_job, jobs)
        return
    with guarded_pool(workers, _init_worker, cfg) as pool:
        yield from pool.imap_unordered(_run_job, jobs)
