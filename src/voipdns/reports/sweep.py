"""A Hydra multirun folder (a learning-rate or mu sweep) -> one table of its jobs (+ one per condition).

Each job folder (one with ``.hydra/overrides.yaml``) gives one row: its overrides (the swept ones first), the
best validation epoch by the checkpoint monitor (``val/loss``, min, unless the job's config says otherwise)
with every ``val/*`` metric of that epoch, and the final ``test/*`` metrics, read from the CSV logger's
``metrics.csv``. Per-condition test means come from ``test_scores_by_condition.csv`` (or are computed from the
per-clip ``test_scores.csv`` / ``scores.csv``). A job without metrics (crashed, still running) keeps its row
with its status, so a failed setting is never silently missing. ``voipdns.reports.sweep_write`` writes them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

JOB_MARKER = Path(".hydra") / "overrides.yaml"
METRICS_FILE = "metrics.csv"
BY_CONDITION_FILES = ("test_scores_by_condition.csv",)
PER_CLIP_FILES = ("test_scores.csv", "scores.csv")
# per-clip columns that are not metrics
_ID_COLUMNS = {"name", "condition", "model", "failures", "path", "checkpoint"}


def find_jobs(multirun_dir: Path) -> list[Path]:
    """Job folders below ``multirun_dir`` (Hydra writes ``.hydra/overrides.yaml`` into each)."""
    if not multirun_dir.is_dir():
        raise FileNotFoundError(f"multirun folder {multirun_dir} does not exist")
    jobs = sorted({marker.parent.parent for marker in multirun_dir.rglob(str(JOB_MARKER))}, key=_job_order)
    if not jobs:
        raise FileNotFoundError(f"{multirun_dir} holds no job folder (none has {JOB_MARKER})")
    return jobs


def _job_order(path: Path) -> tuple:
    head = path.name.split("_", 1)[0]
    return (0, int(head), path.name) if head.isdigit() else (1, 0, path.name)


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """``["optim.lr=1e-05", "+x=1"]`` -> ``{"optim.lr": "1e-05", "x": "1"}``; deletions ``~k`` are skipped."""
    overrides = {}
    for line in lines:
        key, sep, value = str(line).partition("=")
        if not sep or key.startswith("~"):
            continue
        overrides[key.lstrip("+")] = value
    return overrides


def read_overrides(job: Path) -> dict[str, str]:
    lines = yaml.safe_load((job / JOB_MARKER).read_text()) or []
    if not isinstance(lines, list):
        raise ValueError(f"{job / JOB_MARKER}: expected a list of overrides, got {type(lines).__name__}")
    return parse_overrides(lines)


def checkpoint_monitor(job: Path) -> tuple[str, str]:
    """(metric, mode) of the job's best-checkpoint callback; (val/loss, min) when the config does not say."""
    config_path = job / ".hydra" / "config.yaml"
    if config_path.is_file():
        config = yaml.safe_load(config_path.read_text()) or {}
        callback = ((config.get("callbacks") or {}).get("model_checkpoint")) or {}
        if callback.get("monitor"):
            return str(callback["monitor"]), str(callback.get("mode", "min"))
    return "val/loss", "min"


def _first(job: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = sorted(job.rglob(name))
        if found:
            return found[0]
    return None


def read_metrics(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if "epoch" not in frame.columns:
        raise ValueError(f"{path}: not a Lightning CSV logger file (no 'epoch' column)")
    return frame


def best_validation(frame: pd.DataFrame, monitor: str, mode: str) -> dict[str, float]:
    """Every ``val/*`` metric of the epoch where ``monitor`` was best (the checkpoint test/eval uses)."""
    val_columns = [c for c in frame.columns if c.startswith("val/")]
    if monitor not in frame.columns:
        return {}
    rows = frame[frame[monitor].notna()]
    finite = rows[rows[monitor].map(math.isfinite)]
    if finite.empty:
        return {monitor: math.nan}
    best = finite.loc[finite[monitor].idxmin() if mode == "min" else finite[monitor].idxmax()]
    epoch_rows = frame[(frame["epoch"] == best["epoch"])]
    values = {"best_epoch": int(best["epoch"]), "best_step": int(best["step"])}
    for column in val_columns:
        column_values = epoch_rows[column].dropna()
        if not column_values.empty:
            values[column] = float(column_values.iloc[-1])
    return values


def last_values(frame: pd.DataFrame, prefixes: tuple[str, ...]) -> dict[str, float]:
    """The last logged value of every column starting with one of ``prefixes`` (test and input metrics)."""
    values = {}
    for column in frame.columns:
        if column.startswith(prefixes):
            logged = frame[column].dropna()
            if not logged.empty:
                values[column] = float(logged.iloc[-1])
    return values


def condition_means(job: Path) -> pd.DataFrame | None:
    """Test means per condition: the callback's by-condition CSV, else computed from the per-clip CSV."""
    by_condition = _first(job, BY_CONDITION_FILES)
    if by_condition is not None:
        return pd.read_csv(by_condition)
    per_clip = _first(job, PER_CLIP_FILES)
    if per_clip is None:
        return None
    frame = pd.read_csv(per_clip)
    if "condition" not in frame.columns:
        frame["condition"] = "all"
    metrics = [c for c in frame.columns if c not in _ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]
    return frame.groupby("condition", sort=True)[metrics].mean().reset_index()


def summarize_job(job: Path) -> tuple[dict, pd.DataFrame | None]:
    """(one row of the run table, its per-condition means or None)."""
    row: dict = {"job": job.name, **read_overrides(job)}
    metrics_path = _first(job, (METRICS_FILE,))
    if metrics_path is None:
        row["status"] = "no metrics"
        return row, condition_means(job)
    frame = read_metrics(metrics_path)
    monitor, mode = checkpoint_monitor(job)
    row.update(best_validation(frame, monitor, mode))
    row.update(last_values(frame, ("test/", "input/")))
    losses = frame["train/loss_epoch"].dropna() if "train/loss_epoch" in frame.columns else pd.Series([])
    diverged = not losses.empty and not math.isfinite(float(losses.iloc[-1]))
    row["status"] = "diverged" if diverged else ("ok" if any(k.startswith("test/") for k in row) else "no test")
    return row, condition_means(job)


def swept_keys(rows: list[dict], override_keys: list[str]) -> list[str]:
    """Overrides whose value differs between jobs (the sweep's axes)."""
    return [k for k in override_keys if len({str(r.get(k)) for r in rows}) > 1]


def aggregate(multirun_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(run table, per-condition table, swept override keys) of every job in ``multirun_dir``."""
    jobs = find_jobs(Path(multirun_dir))
    rows, condition_frames, override_keys = [], [], []
    for job in jobs:
        row, conditions = summarize_job(job)
        override_keys += [k for k in read_overrides(job) if k not in override_keys]
        rows.append(row)
        if conditions is not None:
            condition_frames.append(conditions.assign(job=job.name))
    swept = swept_keys(rows, override_keys)
    fixed = [k for k in override_keys if k not in swept]
    runs = pd.DataFrame(rows)
    metric_columns = [c for c in runs.columns if c not in {"job", "status", *override_keys}]
    runs = runs[["job", *swept, "status", *metric_columns, *fixed]]
    by_condition = pd.DataFrame()
    if condition_frames:
        by_condition = pd.concat(condition_frames, ignore_index=True)
        by_condition = runs[["job", *swept]].merge(by_condition, on="job", how="right")
        leading = ["job", *swept, "condition"]
        by_condition = by_condition[leading + [c for c in by_condition.columns if c not in leading]]
    return runs, by_condition, swept
