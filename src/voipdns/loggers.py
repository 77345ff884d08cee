"""Loggers that continue an interrupted run in place."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger


class ResumableCSVLogger(CSVLogger):
    """A CSVLogger that keeps the metrics an interrupted run already wrote.

    Lightning's CSV writer deletes ``metrics.csv`` when it starts, so a run resumed with ``ckpt_path=last`` in its
    own folder would lose its history; this one reads it back first and appends.
    """

    @property
    def experiment(self):
        if self._experiment is not None:
            return self._experiment
        path = Path(self.log_dir) / "metrics.csv"
        kept = path.read_bytes() if path.is_file() else None
        experiment = super().experiment  # the writer's constructor removes metrics.csv
        if kept:
            path.write_bytes(kept)
            with path.open(newline="") as handle:
                experiment.metrics_keys = sorted(next(csv.reader(handle), []))
        return experiment
