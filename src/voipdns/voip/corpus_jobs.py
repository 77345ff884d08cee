"""The jobs of a simulated corpus: one per source file id, the paths each writes, and which are still to do.

A job is a clean file and either its noisy partner (paired corpus) or a noise file mixed in on the fly. Its
outputs are ``<split>/<partition>/<partition without src_>_fileid_N.wav`` for the sources and every condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from voipdns.audio import list_audio_files
from voipdns.conditions import SOURCES, partition_name
from voipdns.data.pairs import PairedFolderDataset, pair_key


@dataclass(frozen=True)
class Job:
    fileid: int
    clean: str
    noisy: str | None
    noise: str | None


def file_name(condition: str, fileid: int) -> str:
    return f"{partition_name(condition)[len('src_') :]}_fileid_{fileid}.wav"


def expected_paths(split_dir: Path, conditions: list[str], fileid: int, normalised: bool) -> dict[tuple, Path]:
    """{(condition, normalised?): path} of every file written for `fileid`."""
    out = {}
    for condition in [*SOURCES, *conditions]:
        for nrm in (False, True) if normalised else (False,):
            out[(condition, nrm)] = split_dir / partition_name(condition, nrm) / file_name(condition, fileid)
    return out


def make_jobs(source: DictConfig, start_fileid: int) -> tuple[list[Job], dict[str, str]]:
    """The jobs, and the source files left out ({file: reason}: unpaired, unreadable, length mismatch)."""
    clean_dir = Path(source.clean_dir)
    skipped: dict[str, str] = {}
    if source.get("noisy_dir") and source.get("noise_dir"):
        raise ValueError(
            "voipdns-simulate: set source.noisy_dir (paired corpus) or source.noise_dir (mix on the fly), not both"
        )
    if source.get("noisy_dir"):
        pairs = PairedFolderDataset(
            source.noisy_dir,
            clean_dir,
            pair_by=source.get("pair_by", "fileid"),
            max_mismatch_seconds=float(source.get("max_mismatch_seconds", 0.01)),
            on_bad_pair="skip",
        )
        skipped.update(pairs.skipped)
        jobs = [
            Job(_fileid(noisy, i + start_fileid, source), str(clean), str(noisy), None)
            for i, (noisy, clean) in enumerate(pairs.pairs)
        ]
    elif source.get("noise_dir"):
        noises = [str(p) for p in list_audio_files(source.noise_dir)]
        jobs = [
            Job(i + start_fileid, str(clean), None, noises[i % len(noises)])
            for i, clean in enumerate(list_audio_files(clean_dir))
        ]
    else:
        raise ValueError("voipdns-simulate: set source.noisy_dir (paired corpus) or source.noise_dir (mix on the fly)")
    if source.get("max_files"):
        jobs = jobs[: int(source.max_files)]
    return jobs, skipped


def _fileid(noisy: Path, fallback: int, source: DictConfig) -> int:
    """Keep the corpus' own DNS file id when it has one (pair_by=fileid), else number the files."""
    if source.get("pair_by", "fileid") == "fileid":
        return int(pair_key(noisy, noisy.parent, "fileid").split("_")[-1])
    return fallback


def pending_jobs(
    jobs: list[Job], split_dir: Path, conditions: list[str], normalised: bool, done: dict[int, set[str]]
) -> list[Job]:
    """Jobs whose files are not all written and recorded in the manifest (``done``: fileid -> partitions)."""
    pending = []
    for job in jobs:
        paths = expected_paths(split_dir, conditions, job.fileid, normalised)
        recorded = done.get(job.fileid, set())
        if not all(p.parent.name in recorded and p.is_file() for p in paths.values()):
            pending.append(job)
    return pending
