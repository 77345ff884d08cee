"""The per-file results CSV: one row per scored clip, appended as each clip finishes, readable for resume.

Each row is written with a single ``write`` on a file opened with ``O_APPEND`` and then fsync'ed, so a crash
loses at most the clip being written; a torn last line (no newline) is cut off when the file is reopened.
The header is created atomically (temp file + rename). Columns: ``name, condition, model``, the metric
values, ``input_<metric>`` (the unprocessed input's scores, empty when no input was given),
``duration_seconds`` and ``failures`` (why each NaN is NaN). NaN is written as ``nan``, never 0.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

ID_COLUMNS = ("name", "condition", "model")
TRAILING_COLUMNS = ("duration_seconds", "failures")
INPUT_PREFIX = "input_"


def results_columns(metric_keys: Sequence[str], with_input: bool = True) -> list[str]:
    input_keys = [INPUT_PREFIX + k for k in metric_keys] if with_input else []
    return [*ID_COLUMNS, *metric_keys, *input_keys, *TRAILING_COLUMNS]


def format_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, ".7g")  # 7 significant digits
    return str(value)


def row_key(row: Mapping[str, object]) -> tuple[str, str, str]:
    """Clips are identified by (model, condition, name): the same file id recurs across VoIP conditions."""
    return (str(row.get("model", "")), str(row.get("condition", "")), str(row.get("name", "")))


class ResultsCsv:
    """Append-only per-file results table with a fixed column list (checked against an existing file)."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._repair_torn_tail()
            self._check_header()
        else:
            self._create()

    def _create(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        temporary.write_text(self._line(dict(zip(self.columns, self.columns, strict=True))))
        os.replace(temporary, self.path)

    def _check_header(self) -> None:
        with open(self.path, newline="") as handle:
            header = next(csv.reader(handle), None)
        if header is None:  # an empty file (crash before the header rename cannot leave one, a user can)
            self._create()
            return
        if header != self.columns:
            missing = [c for c in self.columns if c not in header]
            extra = [c for c in header if c not in self.columns]
            raise ValueError(
                f"{self.path}: existing results have other columns (missing {missing}, extra {extra}); "
                "resume with the same metrics or write to a new file"
            )

    def _repair_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data[: data.rfind(b"\n") + 1]
        log.warning("%s: dropping an incomplete last line (interrupted write)", self.path)
        temporary = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        temporary.write_bytes(keep)
        os.replace(temporary, self.path)

    def _line(self, row: Mapping[str, object]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([format_cell(row.get(c)) for c in self.columns])
        return buffer.getvalue()

    def append(self, row: Mapping[str, object]) -> None:
        """Write one row with a single write() + fsync (a reader or a crash never sees half a row)."""
        data = self._line(row).encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def rows(self) -> list[dict[str, str]]:
        return read_rows(self.path)

    def done_keys(self) -> set[tuple[str, str, str]]:
        return {row_key(row) for row in self.rows()}


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """A results CSV's rows as strings (``""`` = not scored, ``"nan"`` = failed); a torn last line dropped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "name" not in reader.fieldnames:
        raise ValueError(f"{path}: not a per-file results CSV (no 'name' column; got {reader.fieldnames})")
    return list(reader)


def done_keys(path: str | os.PathLike) -> set[tuple[str, str, str]]:
    """(model, condition, name) of every clip already in ``path`` (empty when the file does not exist)."""
    return {row_key(row) for row in read_rows(path)} if Path(path).is_file() else set()
