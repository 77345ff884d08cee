"""The seed paper's Fig. 3: eGeMAPS MAE improvement over the input per feature, grouped by feature family.

One row of panels per family (frequency, energy/amplitude, spectral balance, spectral shape) with readable
feature names; one column per condition when the improvement was computed per condition; one bar per model,
every model named in the legend (also when there is only one). Positive % = the output's features are closer
to the clean reference than the noisy input's.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from voipdns.reports.conditions import ALL_CONDITIONS, condition_label, ordered_conditions
from voipdns.reports.egemaps_names import by_family, family_axis_label, feature_label
from voipdns.reports.plots import add_legend, save_figure

X_LABEL = "MAE improvement over the input (%)\n→ higher is better (closer to clean)"
BAR_ROW_INCHES = 0.26


def _values(improvement: pd.DataFrame, condition: str, model: str, features: list[str]) -> np.ndarray:
    part = improvement[(improvement["condition"] == condition) & (improvement["model"] == model)]
    return part.set_index("feature")["improvement_pct"].reindex(features).to_numpy(dtype=float)


def _draw_family(axes, improvement: pd.DataFrame, condition: str, models: list[str], features: list[str]):
    height = 0.8 / len(models)
    positions = np.arange(len(features))
    for index, model in enumerate(models):
        values = _values(improvement, condition, model, features)
        shown = ~np.isnan(values)
        axes.barh(
            positions[shown] - 0.4 + height * (index + 0.5), values[shown], height, label=model, color=f"C{index}"
        )
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_yticks(positions, [feature_label(f) for f in features], fontsize=8)
    axes.set_ylim(len(features) - 0.5, -0.5)  # first feature on top, as in the paper's figure
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)


def plot_egemaps_improvement(
    improvement: pd.DataFrame, path: str | os.PathLike, title: str = "eGeMAPS MAE improvement over the input"
) -> Path:
    """:func:`egemaps_figure` saved as PNG, PDF and SVG; returns the PNG path."""
    return save_figure(egemaps_figure(improvement, title), path)


def egemaps_figure(improvement: pd.DataFrame, title: str = "eGeMAPS MAE improvement over the input") -> plt.Figure:
    """Horizontal bars of ``improvement_pct`` (rows of :func:`voipdns.reports.egemaps.egemaps_improvement`
    for one frame set); a ``condition`` column with several conditions gives one panel column each."""
    if improvement.empty:
        raise ValueError("no eGeMAPS MAE improvement to plot (need egemaps_mae of a model and of the input)")
    if "condition" not in improvement.columns:
        improvement = improvement.assign(condition=ALL_CONDITIONS)
    families = by_family(list(dict.fromkeys(improvement["feature"])))
    models = list(dict.fromkeys(improvement["model"]))
    conditions = ordered_conditions(improvement["condition"])
    rows = sum(len(f) for f in families.values())
    figure, grid = plt.subplots(
        len(families),
        len(conditions),
        sharex=True,
        sharey="row",
        squeeze=False,
        figsize=(max(7.5, 3.4 + 2.6 * len(conditions)), BAR_ROW_INCHES * rows * max(1.0, len(models) / 2) + 1.8),
        gridspec_kw={"height_ratios": [len(f) for f in families.values()]},
        layout="constrained",
    )
    for row, (family, features) in enumerate(families.items()):
        for column, condition in enumerate(conditions):
            axes = grid[row, column]
            _draw_family(axes, improvement, condition, models, features)
            if column == 0:
                axes.set_ylabel(family_axis_label(family), fontsize=9, fontweight="bold")
            if row == 0 and len(conditions) > 1:
                axes.set_title(condition_label(condition).replace("\n", " / "), fontsize=9)
    figure.align_ylabels(grid[:, 0])  # family labels in one column, clear of the longest feature name
    for axes in grid[-1]:
        axes.set_xlabel(X_LABEL, fontsize=8)
    add_legend(figure, grid[0, 0].get_legend_handles_labels())
    figure.suptitle(title, fontsize=11)
    return figure
