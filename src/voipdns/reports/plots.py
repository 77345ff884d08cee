"""Bar plots of a metric per condition per model, saved as PNG, PDF and SVG.

What a reader needs to trust a bar: the metric's unit and direction on the axis, a 95 % bootstrap interval
over clips as its error bar, the number of clips under each group (2 clips look as solid as 200 otherwise),
bars drawn from the bottom of the metric's scale (MOS from 1), failures written above the bar, the legend
outside the bars and the report's title on the figure. matplotlib with the Agg backend: no display needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers and worker processes have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from voipdns.reports.conditions import ALL_CONDITIONS, condition_label  # noqa: E402
from voipdns.reports.metric_labels import axis_label, metric_info, metric_label  # noqa: E402
from voipdns.reports.table import ConditionSummary  # noqa: E402

FORMATS = ("png", "pdf", "svg")
# text stays text in SVG, so a figure can be edited (Inkscape, Illustrator) and searched
matplotlib.rcParams["svg.fonttype"] = "none"
PNG_DPI = 200
# headroom above the highest error bar, as a fraction of the plotted span (room for the NaN notes)
HEADROOM = 0.15


def save_figure(figure: plt.Figure, path: str | os.PathLike) -> Path:
    """Write ``path`` as PNG and the same figure as PDF and SVG beside it; returns the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    for extension in FORMATS:
        figure.savefig(path.with_suffix(f".{extension}"), dpi=PNG_DPI)
    plt.close(figure)
    return path


def figure_files(png_path: Path) -> list[Path]:
    """The files :func:`save_figure` wrote for ``png_path``."""
    return [png_path.with_suffix(f".{extension}") for extension in FORMATS]


def add_legend(figure: plt.Figure, handles_and_labels: tuple[list, list]) -> None:
    """The models' legend in one row below the axes: outside every bar, clear of the title."""
    handles, labels = handles_and_labels
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=9, frameon=False)


def _clip_count_label(summary: ConditionSummary, condition: str) -> str:
    counts = summary.clips.loc[condition]
    low, high = int(counts.min()), int(counts.max())
    return f"n={high}" if low == high else f"n={low}-{high}"


def _value_limits(metric: str, low: float, high: float) -> tuple[float, float]:
    """y range: from the bars' base (the scale's bottom, 0 for unbounded metrics; lower when values are
    negative) up to the data plus headroom, capped at the scale's top; MOS axes show their whole 1-5 scale."""
    info = metric_info(metric)
    if info.scale is not None and info.full_scale_axis:
        return info.scale
    floor = info.scale[0] if info.scale is not None else 0.0
    low = min(floor, low) if np.isfinite(low) else floor
    high = max(floor, high) if np.isfinite(high) else floor + 1.0
    span = max(high - low, 1e-6)
    top = high + HEADROOM * span
    if info.scale is not None:
        top = min(top, info.scale[1])
    bottom = low - HEADROOM * span if low < floor else low
    return bottom, top


def _finite_min(arrays: list[np.ndarray]) -> float:
    values = np.concatenate(arrays)
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else np.nan


def _finite_max(arrays: list[np.ndarray]) -> float:
    return -_finite_min([-a for a in arrays])


def _bar_errors(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[2, bars] distances below/above the mean; NaN (nothing drawn, not even a cap) where there is no
    interval (fewer than 2 clips)."""
    return np.stack([mean - low, high - mean])


def plot_metric_by_condition(
    summary: ConditionSummary, metric: str, path: str | os.PathLike, title: str | None = None
) -> Path:
    """:func:`metric_figure` saved as PNG, PDF and SVG; returns the PNG path."""
    return save_figure(metric_figure(summary, metric, title), path)


def metric_figure(summary: ConditionSummary, metric: str, title: str | None = None) -> plt.Figure:
    """Grouped bars with 95 % intervals: one group per condition (n clips below it), one bar per model.
    Conditions where a model failed on every clip have no bar; failure counts > 0 are written above."""
    conditions = list(summary.mean.index)
    models = summary.models
    width = 0.8 / max(len(models), 1)
    positions = np.arange(len(conditions))
    info = metric_info(metric)
    floor = info.scale[0] if info.scale is not None else 0.0
    figure, axes = plt.subplots(
        figsize=(max(6.0, (0.35 + 0.25 * len(models)) * len(conditions) + 2.5), 4.6), layout="constrained"
    )
    tops, bottoms = [], []
    hatched = False
    for index, model in enumerate(models):
        mean = summary.mean[(model, metric)].to_numpy(dtype=float)
        low = summary.ci_low[(model, metric)].to_numpy(dtype=float)
        high = summary.ci_high[(model, metric)].to_numpy(dtype=float)
        failed = summary.failures[(model, metric)].to_numpy()
        shown = ~np.isnan(mean)
        offsets = positions - 0.4 + width * (index + 0.5)
        bars = axes.bar(
            offsets[shown],
            mean[shown] - floor,
            width,
            bottom=floor,
            yerr=_bar_errors(mean, low, high)[:, shown],
            capsize=2.5,
            error_kw={"elinewidth": 0.9, "capthick": 0.9},
            label=model,
        )
        for bar, interval_low in zip(bars, low[shown], strict=True):
            if np.isnan(interval_low):  # fewer than 2 scored clips: hatched, so it does not look as certain
                bar.set_hatch("///")
                bar.set_edgecolor("white")
                hatched = True
        tops.append(np.fmax(mean, high))
        bottoms.append(np.fmin(mean, low))
        for x, value, ceiling, count in zip(offsets, mean, np.fmax(mean, high), failed, strict=True):
            if count:
                anchor = floor if np.isnan(value) else ceiling
                axes.annotate(
                    f"{count} NaN",
                    (x, anchor),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90,
                )
    axes.set_ylim(*_value_limits(metric, _finite_min(bottoms), _finite_max(tops)))
    axes.axhline(floor, color="black", linewidth=0.8)  # the bars' base: scale bottom, or 0 dB
    if ALL_CONDITIONS in conditions and len(conditions) > 1:  # the pooled group is no condition of its own
        axes.axvline(conditions.index(ALL_CONDITIONS) - 0.5, color="gray", linestyle="--", linewidth=0.8)
    labels = [f"{condition_label(c)}\n{_clip_count_label(summary, c)}" for c in conditions]
    axes.set_xticks(positions, labels, fontsize=8)
    axes.set_ylabel(axis_label(metric))
    note = "\nhatched bar: fewer than 2 clips scored, no CI" if hatched else ""
    axes.set_title(f"{metric_label(metric)} per condition: mean and 95 % CI over clips{note}", fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    add_legend(figure, axes.get_legend_handles_labels())
    if title:
        figure.suptitle(title, fontsize=12)
    return figure
