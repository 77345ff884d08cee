"""voipdns-simulate: write a VoIP-DNS-layout tree from any clean/noisy corpus through the channel simulator.

    voipdns-simulate dataset_dir=/data/sim-voipdns split=train source.clean_dir=/data/clean \\
        source.noise_dir=/data/noise source.segment_seconds=30 workers=8

Sources: paired folders (`source.noisy_dir`, paired with `source.clean_dir` by DNS ``fileid_N`` or by name)
or clean + noise folders mixed on the fly (`source.noise_dir`; SNR and level ranges, `voipdns.data.mixing`).
Output ``<dataset_dir>/<split>/``: ``src_clean``, ``src_noisy``, ``src_<platform>_<receiver>_relay_<setting>``
for each condition in `conditions` (channels from ``conf/voip/``), and with `normalised` the ``nrm_*``
copies (int16(0.8 * 32767 * x / max|x|)); files are ``<partition>_fileid_N.wav`` (``clean_fileid_N.wav``).
``manifest.csv`` has one row per written file (fileid, condition, snr_db, seed, codec parameters).
Resumable: a file id whose rows are all in the manifest and whose files all exist is skipped; partial
ones are redone (every file is written atomically). Files are processed in a worker pool (`workers`).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from voipdns.audio import list_audio_files, load_audio, save_audio
from voipdns.cli.common import log, save_run_info
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR, to_plain
from voipdns.data.mixing import as_range, crop_or_pad, loop_to_length, mix, uniform
from voipdns.data.pairs import PairedFolderDataset, pair_key
from voipdns.voip.conditions import SOURCES, partition_name

MANIFEST_COLUMNS = (
    "fileid",
    "condition",
    "partition",
    "path",
    "snr_db",
    "level_dbfs",
    "seed",
    "clean_source",
    "noisy_source",
    "noise_source",
    "lost_fraction",
    "params",
)
INT16_FULL_SCALE = 32768.0  # libsndfile maps float x to int16 round(x * 32768)


@dataclass(frozen=True)
class Job:
    fileid: int
    clean: str
    noisy: str | None
    noise: str | None


def peak_normalised_int16(wav: np.ndarray) -> np.ndarray:
    """The VoIP-DNS ``nrm_`` normalisation: int16(0.8 * 32767 * x / max|x|) (truncation, as numpy's cast)."""
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak == 0.0:
        return np.zeros(wav.shape, dtype=np.int16)
    return (0.8 * 32767.0 * wav.astype(np.float64) / peak).astype(np.int16)


def file_name(condition: str, fileid: int) -> str:
    return f"{partition_name(condition)[len('src_') :]}_fileid_{fileid}.wav"


def expected_paths(
    split_dir: Path, conditions: list[str], fileid: int, normalised: bool
) -> dict[tuple, Path]:
    """{(condition, normalised?): path} of every file written for `fileid`."""
    out = {}
    for condition in [*SOURCES, *conditions]:
        for nrm in (False, True) if normalised else (False,):
            out[(condition, nrm)] = split_dir / partition_name(condition, nrm) / file_name(condition, fileid)
    return out


def make_jobs(source: DictConfig, start_fileid: int) -> list[Job]:
    clean_dir = Path(source.clean_dir)
    if source.get("noisy_dir") and source.get("noise_dir"):
        raise ValueError(
            "voipdns-simulate: set source.noisy_dir (paired corpus) or source.noise_dir "
            "(mix on the fly), not both"
        )
    if source.get("noisy_dir"):
        pairs = PairedFolderDataset(
            source.noisy_dir,
            clean_dir,
            pair_by=source.get("pair_by", "fileid"),
            max_mismatch_seconds=float(source.get("max_mismatch_seconds", 0.01)),
        ).pairs
        jobs = [
            Job(_fileid(noisy, i + start_fileid, source), str(clean), str(noisy), None)
            for i, (noisy, clean) in enumerate(pairs)
        ]
    elif source.get("noise_dir"):
        noises = [str(p) for p in list_audio_files(source.noise_dir)]
        jobs = [
            Job(i + start_fileid, str(clean), None, noises[i % len(noises)])
            for i, clean in enumerate(list_audio_files(clean_dir))
        ]
    else:
        raise ValueError(
            "voipdns-simulate: set source.noisy_dir (paired corpus) or source.noise_dir (mix on the fly)"
        )
    if source.get("max_files"):
        jobs = jobs[: int(source.max_files)]
    return jobs


def _fileid(noisy: Path, fallback: int, source: DictConfig) -> int:
    """Keep the corpus' own DNS file id when it has one (pair_by=fileid), else number the files."""
    if source.get("pair_by", "fileid") == "fileid":
        return int(pair_key(noisy, noisy.parent, "fileid").split("_")[-1])
    return fallback


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
            both = crop_or_pad(
                torch.cat([clean[:, : noisy.shape[-1]], noisy[:, : clean.shape[-1]]]), length, rng
            )
            return both[:1], both[1:], {}
        clean = crop_or_pad(clean, length, rng)
        noise = loop_to_length(load_audio(job.noise, sr), length, rng)
        snr_db = uniform(rng, as_range(source["snr_db_range"], "source.snr_db_range"))
        level = uniform(rng, as_range(source["level_dbfs_range"], "source.level_dbfs_range"))
        mixture = mix(clean, noise, snr_db, level, sr)
        return mixture.clean, mixture.noisy, {"snr_db": round(snr_db, 3), "level_dbfs": round(level, 3)}

    def __call__(self, job: Job) -> list[dict[str, Any]]:
        seeds = np.random.SeedSequence([int(self.cfg["seed"]), job.fileid]).generate_state(
            len(self.channels) + 1
        )
        clean, noisy, mix_info = self.sources(job, np.random.default_rng(int(seeds[0])))
        signals = {
            "clean": (clean[0].numpy(), {}, int(seeds[0])),
            "noisy": (noisy[0].numpy(), {}, int(seeds[0])),
        }
        for (condition, channel), seed in zip(self.channels.items(), seeds[1:], strict=True):
            relay, stats = channel.process(noisy[0].numpy(), int(seed))
            signals[condition] = (relay, {**channel.describe(), **stats}, int(seed))
        rows = []
        base = {
            "fileid": job.fileid,
            "clean_source": job.clean,
            "noisy_source": job.noisy or "",
            "noise_source": job.noise or "",
            **mix_info,
        }
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
        return rows

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


def _run_job(job: Job) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER(job)


def read_manifest(path: Path) -> dict[int, set[str]]:
    """{fileid: partitions already recorded}."""
    done: dict[int, set[str]] = {}
    if path.is_file():
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                done.setdefault(int(row["fileid"]), set()).add(row["partition"])
    return done


def _pending(
    jobs: list[Job], split_dir: Path, conditions: list[str], normalised: bool, done: dict[int, set[str]]
) -> list[Job]:
    pending = []
    for job in jobs:
        paths = expected_paths(split_dir, conditions, job.fileid, normalised)
        recorded = done.get(job.fileid, set())
        if not all(p.parent.name in recorded and p.is_file() for p in paths.values()):
            pending.append(job)
    return pending


def _results(cfg: dict[str, Any], jobs: list[Job], workers: int) -> Iterator[list[dict[str, Any]]]:
    if workers <= 1:
        _init_worker(cfg)
        yield from map(_run_job, jobs)
        return
    with multiprocessing.get_context().Pool(workers, initializer=_init_worker, initargs=(cfg,)) as pool:
        yield from pool.imap_unordered(_run_job, jobs)


def simulate(cfg: DictConfig) -> Path:
    """Run the simulation described by `cfg` (conf/simulate.yaml); returns the manifest path."""
    plain = to_plain(cfg)
    conditions = list(plain.get("conditions") or plain["channels"])
    missing = [c for c in conditions if c not in plain["channels"]]
    if missing:
        raise ValueError(
            f"voipdns-simulate: conditions {missing} have no channel config (channels: "
            f"{sorted(plain['channels'])}; add conf/voip/<condition>.yaml)"
        )
    plain["conditions"] = conditions
    split_dir = Path(plain["dataset_dir"]) / plain["split"]
    split_dir.mkdir(parents=True, exist_ok=True)
    manifest = split_dir / "manifest.csv"
    jobs = make_jobs(cfg.source, int(plain.get("start_fileid", 0)))
    pending = _pending(jobs, split_dir, conditions, bool(plain["normalised"]), read_manifest(manifest))
    log.info(
        "voipdns-simulate: %d files, %d already done, %d to write into %s",
        len(jobs),
        len(jobs) - len(pending),
        len(pending),
        split_dir,
    )
    new_file = not manifest.is_file()
    with manifest.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        for count, rows in enumerate(_results(plain, pending, int(plain.get("workers", 1))), 1):
            writer.writerows(rows)
            handle.flush()  # rows reach the disk as files complete, so an interrupted run resumes
            if count % 50 == 0 or count == len(pending):
                log.info("voipdns-simulate: %d / %d files", count, len(pending))
    return manifest


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="simulate")
@cli_entry()
def main(cfg: DictConfig) -> None:
    save_run_info(cfg, cfg.paths.output_dir)
    print(f"manifest: {simulate(cfg)}")


if __name__ == "__main__":
    main()
