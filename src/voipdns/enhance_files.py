"""Enhancing many files: files of similar length go through the net together, long files stream in chunks.

Files up to ``chunk_seconds`` are sorted by length and grouped into batches of ``batch_size`` whose lengths differ
by at most ``max_padding`` of the longest (zero-padded to it, each output cropped back). Longer files are
enhanced one at a time in overlapping chunks (``voipdns.chunking.enhance_file``), so memory stays bounded by
``batch_size x chunk_seconds`` of audio. One progress bar counts files, audio seconds and the real-time factor.

Padding is not free for nets that normalise by the whole clip (Demucs, offline FullSubNet): a padded clip's
output differs slightly from the same clip alone. Equal-length files (DNS test sets) are not padded at all;
``batch_size=1`` gives every file exactly its own output.

``stream_files`` runs files frame by frame through a causal streamer instead (voipdns-enhance ``stream=true``),
logging each file's latency and frame-time report under the same progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voipdns.audio import AudioFileError, audio_info, load_audio, save_audio
from voipdns.chunking import AudioStreamError, enhance_file
from voipdns.progress import AudioProgress
from voipdns.streaming import Streamer, stream_file

log = logging.getLogger(__name__)

#: what a bad input raises: it is reported and skipped, the other files are still written
BAD_INPUT_ERRORS = (AudioFileError, AudioStreamError)


@dataclass(frozen=True)
class FileJob:
    source: Path
    target: Path
    seconds: float


def plan_batches(
    jobs: list[FileJob], batch_size: int, chunk_seconds: float, max_padding: float
) -> tuple[list[list[FileJob]], list[FileJob]]:
    """(batches of short files, long files to stream one by one); batches hold files of similar length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 <= max_padding < 1.0:
        raise ValueError(f"max_padding must be in [0, 1), got {max_padding}")
    short = sorted((job for job in jobs if job.seconds <= chunk_seconds), key=lambda job: job.seconds)
    batches: list[list[FileJob]] = []
    for job in short:  # ascending lengths: a batch's first file is its shortest, the new one its longest
        current = batches[-1] if batches else None
        if current and len(current) < batch_size and job.seconds - current[0].seconds <= max_padding * job.seconds:
            current.append(job)
        else:
            batches.append([job])
    return batches, [job for job in jobs if job.seconds > chunk_seconds]


def _run_batch(enhancer, batch: list[FileJob], failures: dict[Path, str]) -> list[tuple[FileJob, np.ndarray]]:
    """Enhanced audio of the batch's readable files (unreadable ones go to ``failures``)."""
    loaded = []
    for job in batch:
        try:
            loaded.append((job, load_audio(job.source, enhancer.sample_rate)[0].numpy()))
        except BAD_INPUT_ERRORS as error:
            failures[job.source] = str(error)
            log.error("%s", error)
    if not loaded:
        return []
    clips = [audio for _, audio in loaded]
    run: Callable[[list[np.ndarray]], list[np.ndarray]] = enhancer.enhance_batch or (
        lambda many: [enhancer.enhance(clip) for clip in many]
    )
    return [(job, out) for (job, _), out in zip(loaded, run(clips), strict=True)]


def _measure(sources: dict[Path, Path], failures: dict[Path, str]) -> list[FileJob]:
    jobs = []
    for source, target in sources.items():
        try:
            jobs.append(FileJob(source, target, audio_info(source).duration_seconds))
        except BAD_INPUT_ERRORS as error:
            failures[source] = str(error)
            log.error("%s", error)
    return jobs


def enhance_files(
    enhancer,
    targets: dict[Path, Path],
    *,
    batch_size: int = 8,
    chunk_seconds: float = 20.0,
    overlap_seconds: float = 1.0,
    max_padding: float = 0.1,
    progress: bool = True,
) -> tuple[list[Path], dict[Path, str]]:
    """Enhances ``{source: target}`` with an ``Enhancer``; returns (written targets, {bad source: reason})."""
    failures: dict[Path, str] = {}
    batches, long_jobs = plan_batches(_measure(targets, failures), batch_size, chunk_seconds, max_padding)
    written: list[Path] = []
    rate = enhancer.sample_rate
    with AudioProgress(sum(map(len, batches)) + len(long_jobs), "enhance", progress) as bar:
        for batch in batches:
            results = _run_batch(enhancer, batch, failures)
            for job, audio in results:
                save_audio(job.target, np.clip(audio, -1.0, 1.0), rate)
                written.append(job.target)
                bar.update(audio_seconds=len(audio) / rate)
            bar.update(files=len(batch) - len(results))  # unreadable files count as done
        for job in long_jobs:
            try:
                samples = enhance_file(enhancer.enhance, job.source, job.target, rate, chunk_seconds, overlap_seconds)
            except BAD_INPUT_ERRORS as error:
                failures[job.source] = str(error)
                log.error("%s", error)
                bar.update(audio_seconds=0.0)
                continue
            written.append(job.target)
            bar.update(audio_seconds=samples / rate)
    log.info("enhanced %d file(s), %d failed: %s", len(written), len(failures), bar.summary())
    return written, failures


def stream_files(streamer: Streamer, targets: dict[Path, Path]) -> tuple[list[Path], dict[Path, str]]:
    """Each ``{source: target}`` frame by frame; returns (written targets, {bad source: reason})."""
    written: list[Path] = []
    failures: dict[Path, str] = {}
    with AudioProgress(len(targets), "enhance (streaming)") as bar:
        for source, target in targets.items():
            try:
                report = stream_file(streamer, source, target)
            except BAD_INPUT_ERRORS as error:
                failures[source] = str(error)
                log.error("%s", error)
                bar.update()
                continue
            log.info("%s", report.line())  # latency and per-frame times: what stream=true is run for
            written.append(target)
            bar.update(audio_seconds=report.samples / report.sample_rate)
    log.info("enhanced %d file(s), %d failed: %s", len(written), len(failures), bar.summary())
    return written, failures
