"""Per-condition summary in the layout of the seed paper's Table I.

Rows: platform x receiver x denoising (then other conditions, then ``All``). Column groups: one per model
(the unprocessed ``input`` first) with its metrics side by side (PESQ and STOI by default). A value is the
mean over the clips that scored (NaN-ignoring); failures (NaN: PESQ found no utterance, STOI clip too
short, ...) are counted per cell and shown next to the value, never averaged in as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from voipdns.reports.conditions import ALL_CONDITIONS, condition_cells, metric_label, ordered_conditions
from voipdns.reports.runs import model_order

TABLE_METRICS = ("pesq_wb", "stoi")
# Per-feature eGeMAPS errors have their own report (Fig. 3); they would flood the tables.
PER_FEATURE_PREFIXES = ("egemaps_mae_", "egemaps_func_mae_")


@dataclass
class ConditionSummary:
    """``mean``/``failures``: index condition, columns (model, metric); ``clips``: condition x model."""

    mean: pd.DataFrame
    failures: pd.DataFrame
    clips: pd.DataFrame
    models: list[str]
    metrics: list[str]


def scalar_metrics(table: pd.DataFrame) -> list[str]:
    """Metrics in the long table, per-feature eGeMAPS errors left out, in order of appearance."""
    metrics = dict.fromkeys(table["metric"])
    return [m for m in metrics if not m.startswith(PER_FEATURE_PREFIXES)]


def summarize_conditions(
    table: pd.DataFrame, metrics: Sequence[str] | None = None, models: Sequence[str] | None = None
) -> ConditionSummary:
    """Mean, failure count and clip count per condition, model and metric (+ an ``all`` row)."""
    metrics = list(metrics or scalar_metrics(table))
    models = list(models or model_order(table))
    unknown = [m for m in models if m not in set(table["model"])]
    if unknown:
        raise ValueError(f"models {unknown} are not in the results (have {model_order(table)})")
    part = table[table["metric"].isin(metrics) & table["model"].isin(models)]
    part = part.assign(clip=part["condition"] + "/" + part["name"])  # file ids recur across conditions
    everything = pd.concat([part, part.assign(condition=ALL_CONDITIONS)], ignore_index=True)
    grouped = everything.groupby(["condition", "model", "metric"])["value"]
    mean = grouped.mean().unstack(["model", "metric"])
    failures = grouped.apply(lambda v: int(v.isna().sum())).unstack(["model", "metric"])
    clips = everything.groupby(["condition", "model"])["clip"].nunique().unstack("model")
    rows = ordered_conditions(everything["condition"])
    columns = pd.MultiIndex.from_product([models, metrics], names=["model", "metric"])
    return ConditionSummary(
        mean=mean.reindex(index=rows, columns=columns),
        failures=failures.reindex(index=rows, columns=columns).fillna(0).astype(int),
        clips=clips.reindex(index=rows, columns=models).fillna(0).astype(int),
        models=models,
        metrics=metrics,
    )


def summary_frame(summary: ConditionSummary) -> pd.DataFrame:
    """Flat table for CSV: condition, platform, receiver, denoising, then per model ``<model>/<metric>``,
    ``<model>/<metric>_failures`` and ``<model>/clips``."""
    out = pd.DataFrame(index=summary.mean.index)
    cells = [condition_cells(c) for c in out.index]
    out["platform"], out["receiver"], out["denoising"] = zip(*cells, strict=True) if cells else ([], [], [])
    for model in summary.models:
        for metric in summary.metrics:
            out[f"{model}/{metric}"] = summary.mean[(model, metric)]
            out[f"{model}/{metric}_failures"] = summary.failures[(model, metric)]
        out[f"{model}/clips"] = summary.clips[model]
    return out.rename_axis("condition").reset_index()


def _cell(value: float, failed: int, metric: str) -> str:
    text = "n/a" if np.isnan(value) else (f"{value:.2f}" if metric == "si_sdr" else f"{value:.3f}")
    return f"{text} ({failed} NaN)" if failed else text


def summary_markdown(
    summary: ConditionSummary, metrics: Sequence[str] | None = None, title: str | None = None
) -> str:
    """Markdown Table I: condition cells, then for each model its metrics side by side."""
    metrics = list(metrics or summary.metrics)
    header = ["Platform", "Receiver", "Denoising", "Clips"]
    header += [f"{model} {metric_label(metric)}" for model in summary.models for metric in metrics]
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * 4 + "---:|" * (len(header) - 4)]
    for condition in summary.mean.index:
        cells = list(condition_cells(condition)) + [str(int(summary.clips.loc[condition].max()))]
        for model in summary.models:
            for metric in metrics:
                cells.append(
                    _cell(
                        summary.mean.loc[condition, (model, metric)],
                        int(summary.failures.loc[condition, (model, metric)]),
                        metric,
                    )
                )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def failures_markdown(summary: ConditionSummary) -> str:
    """Failure counts over all clips per model and metric (a line saying none when there are none)."""
    totals = summary.failures.loc[ALL_CONDITIONS] if ALL_CONDITIONS in summary.failures.index else None
    if totals is None or int(totals.sum()) == 0:
        return "No metric failures (no NaN scores).\n"
    lines = [
        "| Model | " + " | ".join(metric_label(m) for m in summary.metrics) + " |",
        "|---|" + "---:|" * len(summary.metrics),
    ]
    for model in summary.models:
        counts = [str(int(totals[(model, m)])) for m in summary.metrics]
        lines.append(f"| {model} | " + " | ".join(counts) + " |")
    return "NaN scores (failures) per model and metric, all conditions:\n\n" + "\n".join(lines) + "\n"
