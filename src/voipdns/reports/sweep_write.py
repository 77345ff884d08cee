"""Write a sweep's tables and plot: aggregate.csv, aggregate_by_condition.csv, aggregate.md and
aggregate.{png,pdf,svg} (each metric against the swept value, the input's score as a dashed line).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from voipdns.reports.metric_labels import axis_label
from voipdns.reports.plots import add_legend, save_figure
from voipdns.reports.sweep import aggregate

DEFAULT_PLOT_METRICS = ("val/loss", "val/pesq_wb", "test/pesq_wb", "test/stoi")
# columns of the Markdown tables (the CSVs keep every logged metric)
MARKDOWN_METRICS = ("loss", "pesq_wb", "stoi", "si_sdr")


def _format(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def concise(frame: pd.DataFrame, leading: list[str]) -> pd.DataFrame:
    """Markdown view: ``leading`` columns, then the headline metrics (no loss terms), short job ids."""
    keep = [c for c in frame.columns if c in leading]
    keep += [c for c in frame.columns if c not in keep and _headline(c)]
    view = frame[keep].copy()
    if "job" in view.columns:
        view["job"] = [name.split("_", 1)[0] if name.split("_", 1)[0].isdigit() else name for name in view["job"]]
    return view


def _headline(column: str) -> bool:
    return column.split("/")[-1].removeprefix("input_") in MARKDOWN_METRICS


def markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no rows)\n"
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(_format(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def _numeric(values: pd.Series) -> pd.Series | None:
    converted = pd.to_numeric(values, errors="coerce")
    return None if converted.isna().any() else converted


def _axis_label(metric: str) -> str:
    """``test/pesq_wb`` -> ``test PESQ-WB (MOS-LQO)`` + direction; ``val/loss`` -> ``val loss`` + direction."""
    split, _, key = metric.rpartition("/")
    label = axis_label(key)
    return f"{split} {label}" if split else label


def plot(runs: pd.DataFrame, swept: list[str], metrics: list[str], path: Path, title: str | None = None) -> Path | None:
    """One panel per metric: the metric against the first swept key, one line per value of the others, the
    unprocessed input as a dashed line; saved as PNG, PDF and SVG (the PNG path is returned)."""
    metrics = [m for m in metrics if m in runs.columns and runs[m].notna().any()]
    if not swept or not metrics:
        return None
    x_key, others = swept[0], swept[1:]
    x_values = _numeric(runs[x_key])
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False, layout="constrained")
    groups = runs.groupby(others, sort=True) if others else [((), runs)]
    for axis, metric in zip(axes[0], metrics, strict=True):
        for label, group in groups:
            x = x_values[group.index] if x_values is not None else group[x_key].astype(str)
            order = x.argsort() if x_values is not None else range(len(group))
            name = ", ".join(f"{k}={v}" for k, v in zip(others, _as_tuple(label), strict=True)) or "run"
            axis.plot(list(x.iloc[order]), list(group[metric].iloc[order]), marker="o", label=name)
        baseline = metric.replace("test/", "test/input_").replace("val/", "input/")
        if baseline != metric and baseline in runs.columns and runs[baseline].notna().any():
            axis.axhline(float(runs[baseline].dropna().iloc[0]), color="gray", ls="--", label="input")
        if x_values is not None and (x_values > 0).all() and x_values.max() / x_values.min() >= 10:
            axis.set_xscale("log")
        axis.set_xlabel(x_key)
        axis.set_ylabel(_axis_label(metric))
        axis.set_title(metric, fontsize=10)
        axis.grid(alpha=0.3)
    labelled = {}
    for axis in axes[0]:  # one legend for all panels: the input line may be on some panels only
        handles, labels = axis.get_legend_handles_labels()
        labelled.update({label: handle for handle, label in zip(handles, labels, strict=True) if label not in labelled})
    add_legend(figure, (list(labelled.values()), list(labelled)))
    if title:
        figure.suptitle(title, fontsize=12)
    return save_figure(figure, path)


def _as_tuple(label: object) -> tuple:
    return label if isinstance(label, tuple) else (label,)


def write_outputs(
    multirun_dir: str | Path,
    out_dir: str | Path | None,
    metrics: list[str] = DEFAULT_PLOT_METRICS,
    title: str | None = None,
) -> dict[str, Path]:
    """Tables and plot of the sweep in ``multirun_dir`` written to ``out_dir`` (default: the sweep folder)."""
    runs, by_condition, swept = aggregate(multirun_dir)
    out = Path(out_dir or multirun_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "aggregate.csv", "md": out / "aggregate.md"}
    runs.to_csv(paths["csv"], index=False)
    fixed = [c for c in runs.columns if "/" not in c and c not in {"job", "status", *swept}]
    fixed = [f"{c}={runs[c].iloc[0]}" for c in fixed if not c.startswith("best_")]
    heading = title or f"Sweep {Path(multirun_dir).name}"
    text = f"# {heading}: {', '.join(swept) or 'no swept key'}\n\n"
    text += f"Fixed overrides: {', '.join(fixed) or 'none'}. All logged metrics: aggregate.csv.\n\n"
    text += markdown(concise(runs, ["job", *swept, "status", "best_epoch"]))
    if not by_condition.empty:
        paths["by_condition"] = out / "aggregate_by_condition.csv"
        by_condition.to_csv(paths["by_condition"], index=False)
        text += "\n## Test means per condition\n\n" + markdown(concise(by_condition, ["job", *swept, "condition"]))
    paths["md"].write_text(text)
    figure = plot(runs, swept, list(metrics), out / "aggregate.png", title or f"Sweep {Path(multirun_dir).name}")
    if figure is not None:
        paths["png"] = figure
    return paths
