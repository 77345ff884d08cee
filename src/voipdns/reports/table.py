"""Per-condition statistics of a long results table: mean, 95 % bootstrap interval, clip and failure counts,
and each model's paired difference from the unprocessed input.

Rows: conditions in Table I order (platform x receiver x denoising, then other conditions, then ``all``).
A value is the mean over the clips that scored (NaN-ignoring); failures (NaN: PESQ found no utterance, STOI
clip too short, ...) are counted per cell, never averaged in as 0. The delta vs input is the mean over clips
scored for both the model and the input of (model - input), with its own bootstrap interval: a paired
difference, so the spread between clips does not hide a consistent improvement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from voipdns.reports.bootstrap import bootstrap_ci
from voipdns.reports.conditions import ALL_CONDITIONS, ordered_conditions
from voipdns.reports.runs import INPUT_MODEL, model_order

TABLE_METRICS = ("pesq_wb", "stoi")
# Per-feature eGeMAPS errors have their own report (Fig. 3); they would flood the tables.
PER_FEATURE_PREFIXES = ("egemaps_mae_", "egemaps_func_mae_")
STAT_NAMES = ("mean", "ci_low", "ci_high", "n")
LONG_SUMMARY_COLUMNS = ["model", "condition", "metric", "mean", "ci_low", "ci_high", "n", "n_failed"]
DELTA_COLUMNS = ["model", "condition", "metric", "delta", "ci_low", "ci_high", "n"]


@dataclass
class ConditionSummary:
    """Index: condition; columns (model, metric) for ``mean``, ``ci_low``, ``ci_high``, ``n`` (clips that
    scored), ``failures`` (NaN clips); ``clips``: condition x model; ``delta``: the same statistics of
    (model - input) per clip, in a frame with columns (stat, model, metric), empty without an input."""

    mean: pd.DataFrame
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    n: pd.DataFrame
    failures: pd.DataFrame
    clips: pd.DataFrame
    delta: pd.DataFrame
    models: list[str]
    metrics: list[str]

    def has_delta(self, model: str, metric: str) -> bool:
        return ("mean", model, metric) in self.delta.columns


def scalar_metrics(table: pd.DataFrame) -> list[str]:
    """Metrics in the long table, per-feature eGeMAPS errors left out, in order of appearance."""
    metrics = dict.fromkeys(table["metric"])
    return [m for m in metrics if not m.startswith(PER_FEATURE_PREFIXES)]


def _with_all_row(part: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([part, part.assign(condition=ALL_CONDITIONS)], ignore_index=True)


def _statistics(values: pd.Series) -> pd.Series:
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    low, high = bootstrap_ci(finite)
    mean = float(finite.mean()) if finite.size else np.nan
    return pd.Series({"mean": mean, "ci_low": low, "ci_high": high, "n": int(finite.size)})


def _grouped_statistics(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """One column per statistic, index ``keys``."""
    return frame.groupby(keys)[column].apply(_statistics).unstack(-1)


def _paired_differences(part: pd.DataFrame) -> pd.DataFrame:
    """(model, condition, name, metric, diff) for every model clip the input was also scored on."""
    inputs = part[part["model"] == INPUT_MODEL]
    models = part[part["model"] != INPUT_MODEL]
    if inputs.empty or models.empty:
        return pd.DataFrame(columns=["model", "condition", "name", "metric", "diff"])
    key = ["condition", "name", "metric"]
    paired = models.merge(inputs[key + ["value"]], on=key, suffixes=("", "_input"))
    return paired.assign(diff=paired["value"] - paired["value_input"])


def summarize_conditions(
    table: pd.DataFrame, metrics: Sequence[str] | None = None, models: Sequence[str] | None = None
) -> ConditionSummary:
    """Mean, 95 % interval, counts and delta vs input per condition, model and metric (+ an ``all`` row)."""
    metrics = list(metrics or scalar_metrics(table))
    models = list(models or model_order(table))
    unknown = [m for m in models if m not in set(table["model"])]
    if unknown:
        raise ValueError(f"models {unknown} are not in the results (have {model_order(table)})")
    missing = [m for m in metrics if m not in set(table["metric"])]
    if missing:
        raise ValueError(f"metrics {missing} are not in the results (have {scalar_metrics(table)})")
    part = table[table["metric"].isin(metrics) & table["model"].isin(models)]
    everything = _with_all_row(part.assign(clip=part["condition"] + "/" + part["name"]))
    stats = _grouped_statistics(everything, ["condition", "model", "metric"], "value")
    failures = everything.groupby(["condition", "model", "metric"])["value"].apply(lambda v: int(v.isna().sum()))
    clips = everything.groupby(["condition", "model"])["clip"].nunique().unstack("model")
    rows = ordered_conditions(everything["condition"])
    columns = pd.MultiIndex.from_product([models, metrics], names=["model", "metric"])

    def wide(series: pd.Series) -> pd.DataFrame:
        return series.unstack(["model", "metric"]).reindex(index=rows, columns=columns)

    diffs = _with_all_row(_paired_differences(part))
    delta = pd.DataFrame(index=rows)
    if not diffs.empty:
        delta_stats = _grouped_statistics(diffs, ["condition", "model", "metric"], "diff")
        delta = delta_stats.unstack(["model", "metric"]).reindex(index=rows)
        delta.columns = delta.columns.set_names(["stat", "model", "metric"])
    return ConditionSummary(
        mean=wide(stats["mean"]),
        ci_low=wide(stats["ci_low"]),
        ci_high=wide(stats["ci_high"]),
        n=wide(stats["n"]).fillna(0).astype(int),
        failures=wide(failures).fillna(0).astype(int),
        clips=clips.reindex(index=rows, columns=models).fillna(0).astype(int),
        delta=delta,
        models=models,
        metrics=metrics,
    )


def summary_long(summary: ConditionSummary) -> pd.DataFrame:
    """``model, condition, metric, mean, ci_low, ci_high, n, n_failed``: one row per cell (summary.csv)."""
    records = [
        (
            model,
            condition,
            metric,
            summary.mean.loc[condition, (model, metric)],
            summary.ci_low.loc[condition, (model, metric)],
            summary.ci_high.loc[condition, (model, metric)],
            int(summary.n.loc[condition, (model, metric)]),
            int(summary.failures.loc[condition, (model, metric)]),
        )
        for model in summary.models
        for condition in summary.mean.index
        for metric in summary.metrics
    ]
    return pd.DataFrame.from_records(records, columns=LONG_SUMMARY_COLUMNS)


def delta_long(summary: ConditionSummary) -> pd.DataFrame:
    """``model, condition, metric, delta, ci_low, ci_high, n``: paired (model - input) per cell."""
    records = [
        (
            model,
            condition,
            metric,
            *(summary.delta.loc[condition, (stat, model, metric)] for stat in ("mean", "ci_low", "ci_high")),
            int(summary.delta.loc[condition, ("n", model, metric)]),
        )
        for model in summary.models
        for condition in summary.delta.index
        for metric in summary.metrics
        if summary.has_delta(model, metric) and not np.isnan(summary.delta.loc[condition, ("n", model, metric)])
    ]
    return pd.DataFrame.from_records(records, columns=DELTA_COLUMNS)
