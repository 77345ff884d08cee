"""Loggers that continue an interrupted run in place."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only


class ResumableCSVLogger(CSVLogger):
    """A CSVLogger that keeps the metrics an interrupted run already wrote, without the steps it redoes.

    Lightning's CSV writer deletes ``metrics.csv`` when it starts, so a run resumed with ``ckpt_path=last`` in its
    own folder would lose its history; this one reads it back first and appends. A killed run logged steps after
    its last checkpoint that the resumed run logs again, so the first step this attempt logs cuts the old rows
    from that step on: each step appears once and a plot of a resumed run is the plot of an uninterrupted one.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cut_pending = False  # True while the kept rows may still hold steps this attempt redoes

    @property
    def experiment(self):
        if self._experiment is not None:
            return self._experiment
        path = Path(self.log_dir) / "metrics.csv"
        kept = path.read_bytes() if path.is_file() else None
        with warnings.catch_warnings():  # its "previous log files will be deleted" is untrue here: they are kept
            warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
            experiment = super().experiment  # the writer's constructor removes metrics.csv
        if kept:
            path.write_bytes(kept)
            with path.open(newline="") as handle:
                experiment.metrics_keys = sorted(next(csv.reader(handle), []))
            self._cut_pending = True
        return experiment

    @rank_zero_only
    def log_metrics(self, metrics, step=None) -> None:
        self.experiment  # noqa: B018  (the first access reads back the kept rows)
        if self._cut_pending and step is not None:
            drop_rows_from_step(Path(self.log_dir) / "metrics.csv", int(step))
            self._cut_pending = False
        super().log_metrics(metrics, step)


def _row_step(row: dict[str, str]) -> int | None:
    value = (row.get("step") or "").strip()
    try:
        return int(float(value))
    except ValueError:
        return None  # a row without a step (none are written so) is kept


def drop_rows_from_step(path: Path, step: int) -> int:
    """Rewrite the CSV at ``path`` without its rows logged at ``step`` or later; returns how many were dropped.

    Written to a temporary file and renamed, so a kill during the rewrite leaves the old file whole.
    """
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or []), list(reader)
    kept = [row for row in rows if (row_step := _row_step(row)) is None or row_step < step]
    if len(kept) == len(rows):
        return 0
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept)
    os.replace(temporary, path)
    return len(rows) - len(kept)
