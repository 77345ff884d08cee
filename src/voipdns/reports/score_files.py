"""Score many clips with every requested metric in worker processes, resumable, one CSV row per clip.

``score_items`` takes an iterable of :class:`ScoreItem` (arrays, tensors, file paths, or zero-argument
callables that produce the estimate, e.g. run a model, only when the clip still needs scoring). Clips already
in the results CSV are skipped; each finished clip is appended at once (see ``results_csv``), so a crash or
Ctrl-C loses nothing already computed and a rerun continues where it stopped: when the next item fails (a bad
file, a failing model), the clips already in the workers are written before the error propagates. The parent
reads/enhances the next clips while the workers score: at most ``2 * num_workers`` clips are in flight, which
bounds memory. Workers are spawned (forking a process with torch threads can deadlock) and receive float32
numpy arrays; they exit when the parent dies, even by SIGKILL (``voipdns.worker_guard``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voipdns.metrics.intrusive import DEFAULT_METRICS
from voipdns.metrics.scoring import ClipScores, output_names, resolve_scorers, score_clip, to_mono_numpy
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.reports.results_csv import INPUT_PREFIX, ResultsCsv, results_columns, row_key
from voipdns.worker_guard import exit_with_parent

log = logging.getLogger(__name__)

SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
AudioSource = Any  # np.ndarray | torch.Tensor | str | os.PathLike | Callable[[], array] | None


@dataclass
class ScoreItem:
    """One clip to score: ``estimate`` against ``clean``; ``noisy`` (optional) is scored too, as the input."""

    name: str
    estimate: AudioSource
    clean: AudioSource = None
    noisy: AudioSource = None
    condition: str = ""


def _load(source: AudioSource, sample_rate: int, what: str) -> np.ndarray | None:
    if source is None:
        return None
    if callable(source):
        source = source()
    if isinstance(source, (str, os.PathLike)):
        from voipdns.audio import load_audio  # the project's one reading + resampling path

        source = load_audio(source, sample_rate)
    array = to_mono_numpy(source, what)
    return None if array is None else array.astype(np.float32)


def _score_job(specs, sample_rate: int, clean, estimate, noisy) -> tuple[ClipScores, ClipScores | None]:
    """Runs in a worker: the estimate's scores, and the input's when a noisy clip is given."""
    scores = score_clip(clean, estimate, sample_rate, metrics=specs)
    inputs = None if noisy is None else score_clip(clean, noisy, sample_rate, metrics=specs)
    return scores, inputs


def _row(
    item: ScoreItem,
    model: str,
    keys: Sequence[str],
    sample_rate: int,
    num_samples: int,
    scores: ClipScores,
    inputs: ClipScores | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": item.name, "condition": item.condition, "model": model}
    row.update({k: scores.get(k) for k in keys})
    reasons = [f"{k}: {r}" for k, r in scores.failures.items()]
    if inputs is not None:
        row.update({INPUT_PREFIX + k: inputs.get(k) for k in keys})
        reasons += [f"{INPUT_PREFIX}{k}: {r}" for k, r in inputs.failures.items()]
    row["duration_seconds"] = round(num_samples / sample_rate, 4)
    row["failures"] = "; ".join(reasons)
    return row


class _Progress:
    """A rich progress bar (or nothing): ``advance()`` per finished clip."""

    def __init__(self, enabled: bool, total: int | None, description: str):
        self._bar = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
            )
            self._task = self._bar.add_task(description, total=total)
            self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def score_items(
    items: Iterable[ScoreItem],
    csv_path: str | os.PathLike,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    num_workers: int = 2,
    model: str = "",
    with_input: bool = True,
    progress: bool = True,
    start_method: str = "spawn",
) -> list[dict[str, str]]:
    """Score every item not yet in ``csv_path``; returns all rows of the file (earlier runs included).

    ``num_workers=0`` scores inline (a plain sequential loop). A clip whose metric fails gets NaN with the
    reason in ``failures``; a clip whose worker crashed is not written, so the next run retries it.
    """
    specs = resolve_scorers(metrics)
    keys = output_names(specs)
    results = ResultsCsv(csv_path, results_columns(keys, with_input))
    done = results.done_keys()
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    bar = _Progress(progress, total, f"scoring {model or Path(csv_path).stem}")
    context = _Scoring(specs, keys, sample_rate, num_workers, model, with_input, results, bar, start_method)
    try:
        for item in items:
            if row_key({"model": model, "condition": item.condition, "name": item.name}) in done:
                bar.advance()
                continue
            context.submit(item)
        context.drain()
    except BaseException as error:
        context.salvage(wait_for_running=not isinstance(error, KeyboardInterrupt))
        raise
    finally:
        context.close()
        bar.close()
    if context.crashed:
        log.error(
            "%d clips were not scored because a worker crashed (%s); rerun to retry them",
            len(context.crashed),
            ", ".join(context.crashed[:5]),
        )
    return results.rows()


class _Scoring:
    """Bounded submission to the worker pool (or inline) and writing of finished rows."""

    def __init__(self, specs, keys, sample_rate, num_workers, model, with_input, results, bar, start_method):
        self.specs, self.keys, self.sample_rate = specs, keys, int(sample_rate)
        self.num_workers, self.model, self.with_input = int(num_workers), model, with_input
        self.results, self.bar, self.start_method = results, bar, start_method
        self.pending: dict[Future, tuple[ScoreItem, int]] = {}
        self.executor: ProcessPoolExecutor | None = None
        self.crashed: list[str] = []

    def submit(self, item: ScoreItem) -> None:
        estimate = _load(item.estimate, self.sample_rate, f"{item.name} estimate")
        clean = _load(item.clean, self.sample_rate, f"{item.name} clean")
        noisy = _load(item.noisy, self.sample_rate, f"{item.name} noisy") if self.with_input else None
        num_samples = min(a.size for a in (estimate, clean, noisy) if a is not None)
        args = (self.specs, self.sample_rate, clean, estimate, noisy)
        if self.num_workers == 0:
            self._write(item, num_samples, *_score_job(*args))
            return
        while len(self.pending) >= 2 * self.num_workers:
            self._collect(wait(self.pending, return_when=FIRST_COMPLETED).done)
        self.pending[self._submit_job(args)] = (item, num_samples)

    def _executor(self) -> ProcessPoolExecutor:
        if self.executor is None:
            context = multiprocessing.get_context(self.start_method)
            self.executor = ProcessPoolExecutor(self.num_workers, mp_context=context, initializer=exit_with_parent)
        return self.executor

    def _submit_job(self, args: tuple) -> Future:
        """Submit with BLAS/OpenMP limited to one thread in workers spawned now: N workers on N cores
        each running a multi-threaded numpy/onnxruntime would oversubscribe the machine."""
        saved = {name: os.environ.get(name) for name in SINGLE_THREAD_ENV}
        os.environ.update({name: "1" for name, value in saved.items() if value is None})
        try:
            return self._executor().submit(_score_job, *args)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)

    def _collect(self, finished: Iterable[Future]) -> None:
        for future in finished:
            item, num_samples = self.pending.pop(future)
            error = future.exception()
            if error is None:
                self._write(item, num_samples, *future.result())
                continue
            if isinstance(error, BrokenProcessPool):
                self.crashed.append(item.name)
                if self.executor is not None:
                    self.executor.shutdown(wait=False, cancel_futures=True)
                self.executor = None
                self.bar.advance()
            else:
                where = f"{item.name!r} ({item.condition})"
                raise RuntimeError(f"scoring clip {where} failed: {error}") from error

    def _write(self, item: ScoreItem, num_samples: int, scores: ClipScores, inputs: ClipScores | None) -> None:
        self.results.append(_row(item, self.model, self.keys, self.sample_rate, num_samples, scores, inputs))
        self.bar.advance()

    def salvage(self, wait_for_running: bool) -> None:
        """After an error: write every clip already scored (and those still running, unless interrupted), so a
        failure loses nothing finished; a second failure here is logged and the first error propagates."""
        if wait_for_running:
            wait(self.pending)
        for future in [f for f in self.pending if f.done()]:
            try:
                self._collect([future])
            except Exception as error:  # noqa: BLE001 - the error being raised already is the one to report
                log.error("%s", error)

    def drain(self) -> None:
        while self.pending:
            self._collect(wait(self.pending, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def pair_folder(
    estimate_dir: str | os.PathLike,
    clean_dir: str | os.PathLike | None = None,
    noisy_dir: str | os.PathLike | None = None,
    condition: str = "",
    extensions: Sequence[str] = (".wav", ".flac"),
) -> list[ScoreItem]:
    """Items for each audio file in ``estimate_dir``, paired by file name with ``clean_dir``/``noisy_dir``."""
    estimate_dir = Path(estimate_dir)
    files = sorted(p for p in estimate_dir.iterdir() if p.suffix.lower() in extensions) if estimate_dir.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no {'/'.join(extensions)} files in {estimate_dir}")
    items = []
    for path in files:
        partners = {}
        for role, folder in (("clean", clean_dir), ("noisy", noisy_dir)):
            if folder is None:
                continue
            partner = Path(folder) / path.name
            if not partner.is_file():
                raise FileNotFoundError(f"{path.name}: no {role} file {partner} to pair with {path}")
            partners[role] = partner
        items.append(ScoreItem(path.stem, path, condition=condition, **partners))
    return items


def score_folder(
    estimate_dir: str | os.PathLike,
    csv_path: str | os.PathLike,
    *,
    clean_dir: str | os.PathLike | None = None,
    noisy_dir: str | os.PathLike | None = None,
    condition: str = "",
    **kwargs: Any,
) -> list[dict[str, str]]:
    """``score_items`` over a folder of enhanced files (pairs by file name); see :func:`pair_folder`."""
    items = pair_folder(estimate_dir, clean_dir, noisy_dir, condition)
    return score_items(items, csv_path, **kwargs)
