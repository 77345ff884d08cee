"""Score clips in CPU worker processes while the caller keeps training or enhancing.

``submit`` hands a clip to a ``spawn`` process pool and returns at once; ``results`` waits for every clip
submitted since the last call. Workers are spawned (not forked): forking a parent that runs torch threads
can deadlock, and the workers never import torch (clips travel as float32 numpy arrays). Workers exit when
the parent dies, even by SIGKILL (``voipdns.worker_guard``).
``num_workers=0`` scores inline in the caller, for tests and debugging.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from voipdns.metrics.intrusive import DEFAULT_METRICS
from voipdns.metrics.scoring import (
    ClipScores,
    ScorerSpec,
    output_names,
    resolve_scorers,
    score_clip,
    to_mono_numpy,
)
from voipdns.metrics.summary import Summary, summarize
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.worker_guard import exit_with_parent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (clips done, clips submitted)


@dataclass
class PoolResults:
    """Per-key clip scores (in submission order) and their aggregate."""

    scores: dict[Hashable, ClipScores]
    summary: Summary

    @property
    def means(self) -> dict[str, float]:
        return self.summary.means

    @property
    def failures(self) -> dict[str, int]:
        return self.summary.failures


def _score_job(
    specs: tuple[ScorerSpec, ...],
    sample_rate: int,
    clean: np.ndarray | None,
    estimate: np.ndarray,
    noisy: np.ndarray | None,
) -> ClipScores:
    return score_clip(clean, estimate, sample_rate, metrics=specs, noisy=noisy)


def _as_float32(wav: Any, what: str) -> np.ndarray | None:
    array = to_mono_numpy(wav, what)
    return None if array is None else array.astype(np.float32)


class ScoringPool:
    """``submit(key, clean, estimate)`` clips, then ``results()``; reusable; ``close()`` ends it."""

    def __init__(
        self,
        num_workers: int = 2,
        metrics: Sequence[str | ScorerSpec] = DEFAULT_METRICS,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        start_method: str = "spawn",
    ):
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0 (0 = score inline), got {num_workers}")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(
                f"start_method must be 'spawn' or 'forkserver' (fork is unsafe with torch threads), "
                f"got {start_method!r}"
            )
        self.num_workers = int(num_workers)
        self.specs = resolve_scorers(metrics)
        self.keys = output_names(self.specs)
        self.sample_rate = int(sample_rate)
        self.start_method = start_method
        self._executor: ProcessPoolExecutor | None = None
        self._pending: dict[Hashable, Future | ClipScores] = {}

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(cancel=exc_info[0] is not None)

    def __len__(self) -> int:
        """Clips submitted and not yet collected by :meth:`results`."""
        return len(self._pending)

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context(self.start_method)
            self._executor = ProcessPoolExecutor(self.num_workers, mp_context=context, initializer=exit_with_parent)
        return self._executor

    def submit(self, key: Hashable, clean: Any, estimate: Any, noisy: Any = None) -> None:
        """Queue one clip (numpy or torch, ``[T]`` or ``[1, T]``); returns at once unless inline."""
        if key in self._pending:
            raise ValueError(f"clip key {key!r} was already submitted; keys must be unique until results()")
        args = (
            self.specs,
            self.sample_rate,
            _as_float32(clean, f"clip {key!r} clean"),
            _as_float32(estimate, f"clip {key!r} estimate"),
            _as_float32(noisy, f"clip {key!r} noisy"),
        )
        if self.num_workers == 0:
            self._pending[key] = _score_job(*args)
        else:
            self._pending[key] = self._get_executor().submit(_score_job, *args)

    def results(self, progress: Progress | None = None) -> PoolResults:
        """Wait for every pending clip; a clip whose worker died is NaN for all metrics (with why)."""
        pending, self._pending = self._pending, {}
        futures = {item: key for key, item in pending.items() if isinstance(item, Future)}
        done = len(pending) - len(futures)
        if progress is not None:
            progress(done, len(pending))
        broken = False
        for future in as_completed(futures):
            done += 1
            broken |= isinstance(future.exception(), BrokenProcessPool)
            if progress is not None:
                progress(done, len(pending))
        if broken:
            self._restart()
        scores = {key: self._collect(key, item) for key, item in pending.items()}
        return PoolResults(scores, summarize(scores.values(), self.keys))

    def _collect(self, key: Hashable, item: Future | ClipScores) -> ClipScores:
        if isinstance(item, ClipScores):
            return item
        error = item.exception()
        if error is None:
            return item.result()
        if not isinstance(error, BrokenProcessPool):
            raise RuntimeError(f"scoring clip {key!r} failed: {error}") from error
        scores = ClipScores()
        scores.fail(self.keys, f"scoring worker process died ({error}); a metric library may have crashed")
        return scores

    def _restart(self) -> None:
        log.warning("a scoring worker process died; starting a fresh pool (its pending clips are NaN)")
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    def close(self, cancel: bool = False) -> None:
        """Stop the workers; ``cancel=True`` drops clips not yet started (e.g. after an exception)."""
        if cancel:
            self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None


def score_many(
    pairs: Iterable[tuple],
    num_workers: int = 2,
    metrics: Sequence[str | ScorerSpec] = DEFAULT_METRICS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    progress: Progress | None = None,
) -> PoolResults:
    """Score ``(key, clean, estimate[, noisy])`` tuples; calls ``progress(done, total)`` while waiting."""
    with ScoringPool(num_workers, metrics, sample_rate) as pool:
        for pair in pairs:
            if len(pair) not in (3, 4):
                raise ValueError(f"score_many expects (key, clean, estimate[, noisy]) tuples, got {len(pair)} items")
            pool.submit(*pair)
        return pool.results(progress)
