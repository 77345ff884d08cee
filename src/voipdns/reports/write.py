"""Write a whole report folder from per-file rows or merged runs.

Files: ``summary.csv`` (every scalar metric per condition and model, failure and clip counts),
``summary.md`` (Table I layout + means over all clips + failures), ``bar_<metric>.png`` per metric, and when
eGeMAPS MAE was scored: ``egemaps_mae_improvement.csv`` and ``egemaps_mae_improvement[_voiced].png``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from voipdns.reports.conditions import ALL_CONDITIONS, metric_label
from voipdns.reports.egemaps import egemaps_improvement
from voipdns.reports.plots import plot_egemaps_improvement, plot_metric_by_condition
from voipdns.reports.runs import LONG_COLUMNS, merge_long, rows_to_long
from voipdns.reports.table import (
    TABLE_METRICS,
    ConditionSummary,
    failures_markdown,
    summarize_conditions,
    summary_frame,
    summary_markdown,
)

log = logging.getLogger(__name__)


def as_long_table(results: pd.DataFrame | Iterable[Mapping[str, object]], model: str = "") -> pd.DataFrame:
    """A long table as is, or per-file rows converted (``model`` names rows without a model column)."""
    if isinstance(results, pd.DataFrame) and list(results.columns) == LONG_COLUMNS:
        return results
    if isinstance(results, pd.DataFrame):
        results = results.to_dict("records")
    return merge_long([rows_to_long(results, default_model=model)])


def _overall_markdown(summary: ConditionSummary) -> str:
    """Rows: models; columns: every scalar metric's mean over all clips (NaN counts in brackets)."""
    lines = [
        "| Model | " + " | ".join(metric_label(m) for m in summary.metrics) + " |",
        "|---|" + "---:|" * len(summary.metrics),
    ]
    for model in summary.models:
        cells = []
        for metric in summary.metrics:
            value = summary.mean.loc[ALL_CONDITIONS, (model, metric)]
            failed = int(summary.failures.loc[ALL_CONDITIONS, (model, metric)])
            text = "n/a" if np.isnan(value) else f"{value:.3f}"
            cells.append(f"{text} ({failed} NaN)" if failed else text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _egemaps_outputs(table: pd.DataFrame, out_dir: Path) -> tuple[dict[str, Path], list[str]]:
    paths: dict[str, Path] = {}
    parts = [egemaps_improvement(table, voiced=False), egemaps_improvement(table, voiced=True)]
    improvement = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else pd.DataFrame()
    )
    if improvement.empty:
        return paths, []
    paths["egemaps_csv"] = out_dir / "egemaps_mae_improvement.csv"
    improvement.to_csv(paths["egemaps_csv"], index=False, float_format="%.6g")
    lines = ["", "## eGeMAPS MAE improvement over the input", ""]
    for frames, suffix in (("all", ""), ("voiced", "_voiced")):
        subset = improvement[improvement["frames"] == frames]
        if subset.empty:
            continue
        name = f"egemaps_mae_improvement{suffix}.png"
        title = "eGeMAPS MAE improvement over the input" + (" (voiced frames)" if suffix else "")
        paths[f"egemaps_plot{suffix}"] = plot_egemaps_improvement(subset, out_dir / name, title)
        means = subset.groupby("model", sort=False)["improvement_pct"].median()
        lines += [f"![{title}]({name})", ""]
        lines += [
            f"- {model}: median improvement {value:+.1f} % ({frames} frames)"
            for model, value in means.items()
        ]
        lines.append("")
    return paths, lines


def write_report(
    results: pd.DataFrame | Iterable[Mapping[str, object]],
    out_dir: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    table_metrics: Sequence[str] = TABLE_METRICS,
    models: Sequence[str] | None = None,
    model: str = "",
    title: str = "Results per condition",
) -> dict[str, Path]:
    """Write summary.csv / summary.md / PNG plots for ``results`` into ``out_dir``; returns the paths.

    ``results``: per-file rows (``score_items``'s return value, one run) or ``load_runs(...)`` (merged runs).
    ``metrics``: scalar metrics in summary.csv and plots (default: all but per-feature eGeMAPS);
    ``table_metrics``: the Table I column pair (falls back to the first two metrics present).
    """
    table = as_long_table(results, model)
    if table.empty:
        raise ValueError(f"no scores to report in {out_dir}: the results are empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize_conditions(table, metrics, models)
    shown = [m for m in table_metrics if m in summary.metrics] or summary.metrics[:2]
    paths = {"summary_csv": out_dir / "summary.csv", "summary_md": out_dir / "summary.md"}
    summary_frame(summary).to_csv(paths["summary_csv"], index=False, float_format="%.6g")
    lines = [
        f"# {title}",
        "",
        summary_markdown(summary, shown),
        "",
        "## All metrics, all conditions",
        "",
        _overall_markdown(summary),
        "",
        failures_markdown(summary),
        "",
        "## Plots",
        "",
    ]
    for metric in summary.metrics:
        name = f"bar_{metric}.png"
        paths[f"bar_{metric}"] = plot_metric_by_condition(summary, metric, out_dir / name)
        lines += [f"![{metric_label(metric)}]({name})", ""]
    egemaps_paths, egemaps_lines = _egemaps_outputs(table, out_dir)
    paths.update(egemaps_paths)
    paths["summary_md"].write_text("\n".join(lines + egemaps_lines))
    log.info("report written to %s", out_dir)
    return paths
