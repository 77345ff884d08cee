"""Write a whole report folder from per-file rows or merged runs.

Files: ``summary.csv`` (long: ``model,condition,metric,mean,ci_low,ci_high,n,n_failed``, every scalar metric),
``summary_delta.csv`` (each model's paired difference from the input, with its interval), ``summary.md``
(Table I with intervals and deltas, all metrics over all clips incl. the eGeMAPS MAE improvement, failures),
``bar_<metric>.{png,pdf,svg}`` per metric, and when eGeMAPS MAE was scored: ``egemaps_mae_improvement.csv``
and ``egemaps_mae_improvement[_voiced].{png,pdf,svg}`` (one panel per condition with ``egemaps_by_condition``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from voipdns.reports.egemaps import egemaps_improvement, median_improvement
from voipdns.reports.egemaps_plot import plot_egemaps_improvement
from voipdns.reports.markdown import failures_markdown, legend_markdown, overall_markdown, summary_markdown
from voipdns.reports.metric_labels import metric_label
from voipdns.reports.plots import figure_files, plot_metric_by_condition
from voipdns.reports.runs import INPUT_MODEL, LONG_COLUMNS, merge_long, rows_to_long
from voipdns.reports.table import TABLE_METRICS, delta_long, summarize_conditions, summary_long

log = logging.getLogger(__name__)
FRAME_SETS = (("all", ""), ("voiced", "_voiced"))


def as_long_table(results: pd.DataFrame | Iterable[Mapping[str, object]], model: str = "") -> pd.DataFrame:
    """A long table as is, or per-file rows converted (``model`` names rows without a model column)."""
    if isinstance(results, pd.DataFrame) and list(results.columns) == LONG_COLUMNS:
        return results
    if isinstance(results, pd.DataFrame):
        results = results.to_dict("records")
    return merge_long([rows_to_long(results, default_model=model)])


def _add_figure(paths: dict[str, Path], key: str, png: Path) -> None:
    for file in figure_files(png):
        paths[key if file.suffix == ".png" else f"{key}_{file.suffix[1:]}"] = file


def _egemaps_improvement(table: pd.DataFrame, by_condition: bool) -> pd.DataFrame:
    parts = [
        egemaps_improvement(table, voiced=frames == "voiced", by_condition=by_condition) for frames, _ in FRAME_SETS
    ]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _egemaps_table_rows(overall: pd.DataFrame, models: Sequence[str]) -> dict[str, dict[str, str]]:
    """All-metrics table rows: per frame set, each model's median % improvement over the 25 LLDs."""
    rows = {}
    for frames, _ in FRAME_SETS:
        subset = overall[overall["frames"] == frames] if not overall.empty else overall
        if subset.empty:
            continue
        label = f"eGeMAPS MAE improvement over input (%, median over LLDs, {frames} frames), higher is better"
        medians = median_improvement(subset)
        cells = {model: f"{value:+.1f}" for model, value in medians.items()}
        if INPUT_MODEL in models:
            cells[INPUT_MODEL] = "0 (reference)"
        rows[label] = cells
    return rows


def _egemaps_outputs(
    table: pd.DataFrame, out_dir: Path, title: str, by_condition: bool
) -> tuple[dict[str, Path], list[str], pd.DataFrame]:
    """(files, summary.md lines, the over-all-conditions improvement table for the all-metrics table)."""
    paths: dict[str, Path] = {}
    overall = _egemaps_improvement(table, by_condition=False)
    if overall.empty:
        return paths, [], overall
    plotted = _egemaps_improvement(table, by_condition=True) if by_condition else overall
    paths["egemaps_csv"] = out_dir / "egemaps_mae_improvement.csv"
    both = pd.concat([overall, plotted], ignore_index=True) if by_condition else overall
    both.to_csv(paths["egemaps_csv"], index=False, float_format="%.6g")
    lines = ["", "## eGeMAPS MAE improvement over the input", ""]
    for frames, suffix in FRAME_SETS:
        subset = plotted[plotted["frames"] == frames]
        if subset.empty:
            continue
        name = f"egemaps_mae_improvement{suffix}.png"
        figure_title = f"{title}\neGeMAPS MAE improvement over the input ({frames} frames)"
        _add_figure(paths, f"egemaps_plot{suffix}", plot_egemaps_improvement(subset, out_dir / name, figure_title))
        lines += [f"![eGeMAPS MAE improvement, {frames} frames]({name})", ""]
    return paths, lines, overall


def write_report(
    results: pd.DataFrame | Iterable[Mapping[str, object]],
    out_dir: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    table_metrics: Sequence[str] = TABLE_METRICS,
    models: Sequence[str] | None = None,
    model: str = "",
    title: str = "Results per condition",
    egemaps_by_condition: bool = False,
) -> dict[str, Path]:
    """Write summary.csv / summary.md / plots for ``results`` into ``out_dir``; returns the paths.

    ``results``: per-file rows (``score_items``'s return value, one run) or ``load_runs(...)`` (merged runs).
    ``metrics``: scalar metrics in summary.csv and plots (default: all but per-feature eGeMAPS);
    ``table_metrics``: the Table I column pair (falls back to the first two metrics present);
    ``title``: heads summary.md and every figure; ``egemaps_by_condition``: one Fig. 3 panel per condition.
    """
    table = as_long_table(results, model)
    if table.empty:
        raise ValueError(f"no scores to report in {out_dir}: the results are empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize_conditions(table, metrics, models)
    shown = [m for m in table_metrics if m in summary.metrics] or summary.metrics[:2]
    paths = {"summary_csv": out_dir / "summary.csv", "summary_md": out_dir / "summary.md"}
    summary_long(summary).to_csv(paths["summary_csv"], index=False, float_format="%.6g")
    deltas = delta_long(summary)
    if not deltas.empty:
        paths["summary_delta_csv"] = out_dir / "summary_delta.csv"
        deltas.to_csv(paths["summary_delta_csv"], index=False, float_format="%.6g")
    egemaps_paths, egemaps_lines, egemaps_overall = _egemaps_outputs(table, out_dir, title, egemaps_by_condition)
    paths.update(egemaps_paths)
    lines = [
        f"# {title}",
        "",
        summary_markdown(summary, shown),
        legend_markdown(),
        "## All metrics, all conditions",
        "",
        overall_markdown(summary, _egemaps_table_rows(egemaps_overall, summary.models)),
        "",
        failures_markdown(summary),
        "",
        "## Plots",
        "",
    ]
    for metric in summary.metrics:
        name = f"bar_{metric}.png"
        _add_figure(paths, f"bar_{metric}", plot_metric_by_condition(summary, metric, out_dir / name, title))
        lines += [f"![{metric_label(metric)}]({name})", ""]
    paths["summary_md"].write_text("\n".join(lines + egemaps_lines))
    log.info("report written to %s", out_dir)
    return paths
