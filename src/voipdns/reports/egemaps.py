"""eGeMAPS MAE improvement per feature and model (the data of the seed paper's Fig. 3).

For each model, its per-clip ``egemaps_mae[_voiced]_<feature>`` values are averaged over the clips that the
unprocessed input was also scored on, and compared with the input's mean over the same clips:
``100 * (MAE_input - MAE_model) / MAE_input`` (positive = the output's features are closer to clean).
With ``by_condition`` the same is computed per condition (the ``condition`` column; ``all`` otherwise).
"""

from __future__ import annotations

import pandas as pd

from voipdns.reports.conditions import ALL_CONDITIONS
from voipdns.reports.runs import INPUT_MODEL, model_order

IMPROVEMENT_COLUMNS = ["frames", "condition", "feature", "model", "mae_input", "mae_output", "improvement_pct", "clips"]


def _feature_values(table: pd.DataFrame, voiced: bool) -> pd.DataFrame:
    # deferred: the scorer module loads openSMILE (its functionals' names), which a report without eGeMAPS does not need
    from voipdns.metrics.egemaps_mae import PREFIX, VOICED_PREFIX

    prefix = VOICED_PREFIX if voiced else PREFIX
    part = table[table["metric"].str.startswith(prefix)]
    if not voiced:
        part = part[~part["metric"].str.startswith(VOICED_PREFIX)]
    return part.assign(feature=part["metric"].str[len(prefix) :])


def egemaps_improvement(table: pd.DataFrame, voiced: bool = False, by_condition: bool = False) -> pd.DataFrame:
    """One row per (condition, feature, model): input and model MAE on matched clips and the % improvement."""
    from voipdns.metrics.egemaps_mae import relative_improvement  # deferred: see _feature_values

    values = _feature_values(table, voiced)
    inputs = values[values["model"] == INPUT_MODEL]
    if inputs.empty:
        return pd.DataFrame(columns=IMPROVEMENT_COLUMNS)
    key = ["condition", "name", "feature"]
    groups = ["condition", "feature"] if by_condition else ["feature"]
    rows = []
    for model in model_order(values):
        if model == INPUT_MODEL:
            continue
        matched = values[values["model"] == model].merge(
            inputs[key + ["value"]], on=key, suffixes=("_output", "_input")
        )
        matched = matched.dropna(subset=["value_output", "value_input"])
        for group_key, group in matched.groupby(groups, sort=False):
            condition, feature = group_key if by_condition else (ALL_CONDITIONS, group_key[0])
            mae_input, mae_output = group["value_input"].mean(), group["value_output"].mean()
            improvement = float(relative_improvement(mae_input, mae_output))
            frames = "voiced" if voiced else "all"
            rows.append((frames, condition, feature, model, mae_input, mae_output, improvement, len(group)))
    return pd.DataFrame.from_records(rows, columns=IMPROVEMENT_COLUMNS)


def median_improvement(improvement: pd.DataFrame) -> dict[str, float]:
    """Per model, the median % improvement over the features of an improvement table computed without
    ``by_condition`` (one number per model for the all-metrics table)."""
    return improvement.groupby("model", sort=False)["improvement_pct"].median().to_dict()
