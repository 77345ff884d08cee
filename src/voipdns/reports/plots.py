"""PNG figures: a metric per condition per model (grouped bars), and the Fig. 3-style eGeMAPS MAE
improvement per feature (horizontal bars). matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers and worker processes have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from voipdns.reports.conditions import condition_cells, metric_label  # noqa: E402
from voipdns.reports.table import ConditionSummary  # noqa: E402


def _condition_label(condition: str) -> str:
    return "\n".join(cell for cell in condition_cells(condition) if cell)


def _save(figure: plt.Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_metric_by_condition(summary: ConditionSummary, metric: str, path: str | os.PathLike) -> Path:
    """Grouped bars: one group per condition, one bar per model; conditions where a model failed on
    every clip have no bar (NaN), and a model's failure count is written above its bar when > 0."""
    conditions = list(summary.mean.index)
    models = summary.models
    width = 0.8 / max(len(models), 1)
    positions = np.arange(len(conditions))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.1 * len(conditions) + 2), 4.0))
    for index, model in enumerate(models):
        values = summary.mean[(model, metric)].to_numpy(dtype=float)
        failed = summary.failures[(model, metric)].to_numpy()
        offsets = positions - 0.4 + width * (index + 0.5)
        bars = axes.bar(offsets, np.nan_to_num(values, nan=0.0), width, label=model)
        for bar, value, count in zip(bars, values, failed, strict=True):
            if np.isnan(value):
                bar.set_visible(False)
            if count:
                axes.annotate(
                    f"{count} NaN",
                    (bar.get_x() + bar.get_width() / 2, np.nan_to_num(value)),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                )
    axes.set_xticks(positions, [_condition_label(c) for c in conditions], fontsize=7)
    axes.set_ylabel(metric_label(metric))
    axes.set_title(f"{metric_label(metric)} per condition")
    axes.legend(fontsize=7, ncols=min(len(models), 4))
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def plot_egemaps_improvement(
    improvement: pd.DataFrame, path: str | os.PathLike, title: str = "eGeMAPS MAE improvement over the input"
) -> Path:
    """Fig. 3 style: one horizontal bar per feature (and model), % MAE improvement over the noisy input."""
    if improvement.empty:
        raise ValueError("no eGeMAPS MAE improvement to plot (need egemaps_mae of a model and of the input)")
    features = list(dict.fromkeys(improvement["feature"]))
    models = list(dict.fromkeys(improvement["model"]))
    height = 0.8 / len(models)
    positions = np.arange(len(features))
    figure, axes = plt.subplots(figsize=(7.0, 0.28 * len(features) * max(1, len(models) / 2) + 1.5))
    for index, model in enumerate(models):
        values = (
            improvement[improvement["model"] == model]
            .set_index("feature")["improvement_pct"]
            .reindex(features)
            .to_numpy(dtype=float)
        )
        axes.barh(positions - 0.4 + height * (index + 0.5), np.nan_to_num(values), height, label=model)
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_yticks(positions, features, fontsize=7)
    axes.invert_yaxis()  # first feature on top, as in the paper's figure
    axes.set_xlabel("MAE improvement over input (%)")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    if len(models) > 1:
        axes.legend(fontsize=7)
    return _save(figure, path)
