"""Per-file results of one or more runs -> one long table: model, condition, name, metric, value.

Only cells a run actually scored become records (an empty cell means "not scored"), so merging runs with
different metric sets never invents failures; a scored cell that is NaN is a failure and stays NaN.
The unprocessed input's scores (``input_<metric>`` columns) become the pseudo-model ``input``, each clip
once even when several runs carry it. A run is a results CSV (``voipdns-eval``'s ``scores.csv`` or the
training callback's ``test_scores.csv``) or a run folder holding one. Its model is named by the label given
as ``label=path`` (the label wins over the CSV's ``model`` column, so the names on the command line are the
names in every table and plot), else by the CSV's ``model`` column, else by the folder name. A labelled CSV
holding several models names them ``label (model)``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from voipdns.reports.results_csv import ID_COLUMNS, INPUT_PREFIX, TRAILING_COLUMNS, read_rows

log = logging.getLogger(__name__)

INPUT_MODEL = "input"
RESULT_FILE_NAMES = ("scores.csv", "test_scores.csv")
LONG_COLUMNS = ["model", "condition", "name", "metric", "value"]
_NOT_METRICS = set(ID_COLUMNS) | set(TRAILING_COLUMNS)


def find_results(path: str | os.PathLike) -> list[Path]:
    """The results CSVs of a run: ``path`` itself if a file, else every scores.csv / test_scores.csv below."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"run {path}: no such file or folder")
    found = sorted(p for name in RESULT_FILE_NAMES for p in path.rglob(name))
    if not found:
        raise FileNotFoundError(f"run folder {path} holds no {' or '.join(RESULT_FILE_NAMES)}")
    return found


def _value(cell: object) -> float | None:
    """None = not scored (empty cell), NaN = failed, else the number."""
    if cell is None:
        return None
    if isinstance(cell, float):
        return cell
    text = str(cell).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return math.nan


def rows_to_long(
    rows: Iterable[Mapping[str, object]], default_model: str = "", label: str | None = None
) -> pd.DataFrame:
    """Per-file rows (as written by ``score_items`` or the callback) -> long records incl. ``input`` rows.

    ``default_model`` names rows without a ``model`` cell; ``label`` renames every model (see module doc).
    """
    rows = list(rows)
    names = {str(row.get("model") or default_model or "model") for row in rows}
    records = []
    for row in rows:
        model = str(row.get("model") or default_model or "model")
        if label:
            model = label if len(names) == 1 else f"{label} ({model})"
        ident = (str(row.get("condition") or ""), str(row.get("name", "")))
        for column, cell in row.items():
            if column in _NOT_METRICS or column is None:
                continue
            value = _value(cell)
            if value is None:
                continue
            if column.startswith(INPUT_PREFIX):
                records.append((INPUT_MODEL, *ident, column[len(INPUT_PREFIX) :], value))
            else:
                records.append((model, *ident, column, value))
    return pd.DataFrame.from_records(records, columns=LONG_COLUMNS)


def _label_and_path(source: str | os.PathLike | tuple[str, str | os.PathLike]) -> tuple[str | None, Path]:
    """(the label given with the source or None, its path)."""
    if isinstance(source, tuple):
        return source[0], Path(source[1])
    text = str(source)
    if "=" in text and not Path(text).exists():
        label, _, path = text.partition("=")
        if not label:
            raise ValueError(f"{text!r}: empty label before '='; write label=path")
        return label, Path(path)
    return None, Path(text)


def _folder_name(path: Path) -> str:
    return path.parent.name if path.is_file() else path.name


def load_runs(sources: Sequence[str | os.PathLike | tuple[str, str | os.PathLike]]) -> pd.DataFrame:
    """Merge runs (CSVs, run folders, ``label=path`` strings or (label, path) tuples) into one long table.

    A clip scored twice for the same model (a rerun) keeps the later value; the input keeps the first.
    """
    if not sources:
        raise ValueError("no runs given: pass results CSVs or run folders")
    frames = []
    for source in sources:
        label, path = _label_and_path(source)
        for csv_path in find_results(path):
            rows = read_rows(csv_path)
            frames.append(rows_to_long(rows, default_model=_folder_name(path), label=label))
    return merge_long(frames)


def merge_long(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate long tables; duplicate (model, condition, name, metric) resolved as in load_runs."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=LONG_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    key = ["model", "condition", "name", "metric"]
    is_input = table["model"] == INPUT_MODEL
    inputs = table[is_input].drop_duplicates(key, keep="first")
    models = table[~is_input]
    duplicated = int(models.duplicated(key, keep="last").sum())
    if duplicated:
        log.warning("%d clip scores appear in more than one run of the same model; keeping the later ones", duplicated)
    models = models.drop_duplicates(key, keep="last")
    return pd.concat([inputs, models], ignore_index=True)


def model_order(table: pd.DataFrame) -> list[str]:
    """``input`` first, then models in order of appearance."""
    models = list(dict.fromkeys(table["model"]))
    return ([INPUT_MODEL] if INPUT_MODEL in models else []) + [m for m in models if m != INPUT_MODEL]
