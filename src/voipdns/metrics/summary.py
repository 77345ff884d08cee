"""Aggregate clip scores: mean ignoring NaN, failure count per metric, per-condition means, CSV rows."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Summary:
    """Per metric: ``means`` ignoring NaN (NaN if none scored), ``counts`` of finite clips, ``failures``."""

    means: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    num_clips: int = 0


def summarize(clips: Iterable[Mapping[str, float]], keys: Sequence[str] | None = None) -> Summary:
    """Mean over clips of each metric, ignoring NaN; a NaN value counts as one failure of that metric."""
    clips = list(clips)
    if keys is None:
        keys = list(dict.fromkeys(key for clip in clips for key in clip))
    totals = dict.fromkeys(keys, 0.0)
    summary = Summary(counts=dict.fromkeys(keys, 0), failures=dict.fromkeys(keys, 0), num_clips=len(clips))
    for clip in clips:
        for key in keys:
            value = float(clip.get(key, math.nan))
            if math.isfinite(value):
                totals[key] += value
                summary.counts[key] += 1
            else:
                summary.failures[key] += 1
    summary.means = {k: totals[k] / summary.counts[k] if summary.counts[k] else math.nan for k in keys}
    return summary


def condition_means(
    rows: Iterable[Mapping[str, object]], keys: Sequence[str], by: str = "condition"
) -> dict[str, dict[str, float]]:
    """``{condition: {metric: NaN-ignoring mean}}``, plus ``"all"`` over every row."""
    groups: dict[str, list[Mapping[str, float]]] = {}
    rows = list(rows)
    for row in rows:
        groups.setdefault(str(row.get(by, "")), []).append(row)  # type: ignore[arg-type]
    result = {name: summarize(group, keys).means for name, group in sorted(groups.items())}
    result["all"] = summarize(rows, keys).means  # type: ignore[arg-type]
    return result


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> Path:
    """Write ``rows`` atomically (temp file + rename) so a reader never sees half a table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k, "")) for k in columns})
    os.replace(temporary, path)
    return path


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return value
