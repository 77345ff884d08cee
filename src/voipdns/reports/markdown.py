"""summary.md's tables: Table I (per condition), all metrics over all clips, failure counts.

A cell is ``mean [95 % interval]`` (``(k NaN)`` appended when k clips failed); a model's delta-vs-input
column holds the paired difference from the unprocessed input with its interval. VoIP data gets the seed
paper's Platform / Receiver / Denoising cells; other data (``data=pairs``, DNS) one plain Condition column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from voipdns.reports.conditions import ALL_CONDITIONS, condition_cells, condition_header, is_voip
from voipdns.reports.metric_labels import direction_text, metric_info, metric_label
from voipdns.reports.runs import INPUT_MODEL
from voipdns.reports.table import ConditionSummary


def _number(value: float, metric: str, signed: bool = False) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    digits = 2 if metric_info(metric).unit in ("dB", "%") else 3
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def value_cell(mean: float, low: float, high: float, metric: str, failed: int = 0, signed: bool = False) -> str:
    text = _number(mean, metric, signed)
    if not np.isnan(mean) and not np.isnan(low):
        text += f" [{_number(low, metric, signed)}, {_number(high, metric, signed)}]"
    return f"{text} ({failed} NaN)" if failed else text


def _model_cell(summary: ConditionSummary, condition: str, model: str, metric: str) -> str:
    key = (model, metric)
    return value_cell(
        summary.mean.loc[condition, key],
        summary.ci_low.loc[condition, key],
        summary.ci_high.loc[condition, key],
        metric,
        int(summary.failures.loc[condition, key]),
    )


def _delta_cell(summary: ConditionSummary, condition: str, model: str, metric: str) -> str:
    stat = {s: summary.delta.loc[condition, (s, model, metric)] for s in ("mean", "ci_low", "ci_high")}
    return value_cell(stat["mean"], stat["ci_low"], stat["ci_high"], metric, signed=True)


def _shows_delta(summary: ConditionSummary, model: str, metric: str) -> bool:
    return model != INPUT_MODEL and summary.has_delta(model, metric)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _rule(left: int, right: int) -> str:
    return "|" + "---|" * left + "---:|" * right


def summary_markdown(summary: ConditionSummary, metrics: Sequence[str] | None = None, title: str | None = None) -> str:
    """Table I: condition cells, n (clips), then per model its metrics side by side, each model's metric
    followed by its delta vs input."""
    metrics = list(metrics or summary.metrics)
    conditions = list(summary.mean.index)
    voip = is_voip(conditions)
    header = [*condition_header(conditions), "n"]
    columns = []
    for model in summary.models:
        for metric in metrics:
            columns.append((model, metric, False))
            if _shows_delta(summary, model, metric):
                columns.append((model, metric, True))
    header += [f"{m} {'Δ ' if d else ''}{metric_label(x)}" for m, x, d in columns]
    lines = [f"### {title}", ""] if title else []
    lines += [_row(header), _rule(len(header) - len(columns), len(columns))]
    for condition in conditions:
        cells = [*condition_cells(condition, voip), str(int(summary.clips.loc[condition].max()))]
        for model, metric, is_delta in columns:
            cell = _delta_cell if is_delta else _model_cell
            cells.append(cell(summary, condition, model, metric))
        lines.append(_row(cells))
    return "\n".join(lines) + "\n"


def legend_markdown() -> str:
    return (
        "Cells: mean over clips [95 % bootstrap interval over clips]; n: clips per condition; "
        "Δ: paired difference from the unprocessed input (model - input) on the same clips; "
        "(k NaN): clips where the metric could not be computed, left out of the mean.\n"
    )


def overall_markdown(summary: ConditionSummary, extra_rows: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """All metrics over all clips: one row per metric (unit, direction), per model its value [interval] and,
    for models other than the input, the delta vs input. ``extra_rows``: label -> model -> cell (eGeMAPS)."""
    columns = [c for model in summary.models for c in _overall_columns(summary, model)]
    clips = summary.clips.loc[ALL_CONDITIONS] if ALL_CONDITIONS in summary.clips.index else None
    header = ["Metric"] + [
        f"{model} Δ vs input" if is_delta else f"{model} (n={int(clips[model]) if clips is not None else 0})"
        for model, is_delta in columns
    ]
    lines = [_row(header), _rule(1, len(columns))]
    for metric in summary.metrics:
        info = metric_info(metric)
        name = f"{info.label} ({info.unit})" if info.unit else info.label
        direction = direction_text(metric)
        cells = [f"{name}, {direction}" if direction else name]
        for model, is_delta in columns:
            if not is_delta:
                cells.append(_model_cell(summary, ALL_CONDITIONS, model, metric))
            elif _shows_delta(summary, model, metric):
                cells.append(_delta_cell(summary, ALL_CONDITIONS, model, metric))
            else:
                cells.append("")
        lines.append(_row(cells))
    for label, by_model in (extra_rows or {}).items():
        lines.append(_row([label] + [by_model.get(model, "") if not is_delta else "" for model, is_delta in columns]))
    return "\n".join(lines) + "\n"


def _overall_columns(summary: ConditionSummary, model: str) -> list[tuple[str, bool]]:
    with_delta = any(_shows_delta(summary, model, metric) for metric in summary.metrics)
    return [(model, False)] + ([(model, True)] if with_delta else [])


def failures_markdown(summary: ConditionSummary) -> str:
    """Failure counts over all clips per model and metric (a line saying none when there are none)."""
    totals = summary.failures.loc[ALL_CONDITIONS] if ALL_CONDITIONS in summary.failures.index else None
    if totals is None or int(totals.sum()) == 0:
        return "No metric failures (no NaN scores).\n"
    lines = [
        _row(["Model", *(metric_label(m) for m in summary.metrics)]),
        _rule(1, len(summary.metrics)),
    ]
    for model in summary.models:
        lines.append(_row([model, *(str(int(totals[(model, m)])) for m in summary.metrics)]))
    return "NaN scores (failures) per model and metric, all conditions:\n\n" + "\n".join(lines) + "\n"
