"""Per-feature error of a TAP estimator on held-out speakers, next to the mean predictor's."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from voipdns.tap.estimator import TAPEstimator
from voipdns.tap.task import FeatureErrors


@torch.no_grad()
def feature_errors(estimator: TAPEstimator, dataset: Dataset) -> dict:
    """MSE in z units per feature for the estimator and for the training-mean predictor (z = 0).

    Returns ``{"features": {name: {"mse", "mse_mean_predictor"}}, "mean_mse", "mean_mse_mean_predictor",
    "frames", "clips"}``; an R^2-like ``1 - mse / mse_mean_predictor`` follows from the two.
    """
    if not estimator.feature_names:
        raise ValueError("feature_errors: the estimator has no feature names (load one with statistics)")
    was_training = estimator.training
    estimator.eval()
    errors = FeatureErrors(len(estimator.feature_names))
    device = next(estimator.parameters()).device
    for batch in DataLoader(dataset, batch_size=1):
        errors.update(estimator(batch["wav"].to(device)).cpu(), batch["target"], batch["valid"])
    estimator.train(was_training)
    model, baseline = errors.mse()
    return {
        "features": {
            name: {"mse": float(m), "mse_mean_predictor": float(b)}
            for name, m, b in zip(estimator.feature_names, model, baseline, strict=True)
        },
        "mean_mse": float(model.mean()),
        "mean_mse_mean_predictor": float(baseline.mean()),
        "frames": errors.frames,
        "clips": len(dataset),
    }


def markdown_table(reports: dict[str, dict]) -> str:
    """One row per feature, two columns (estimator, mean predictor) per named report, then the mean row."""
    names = list(next(iter(reports.values()))["features"])
    header = "| feature | " + " | ".join(f"{k}: estimator | {k}: mean predictor" for k in reports) + " |"
    lines = [header, "|---" * (1 + 2 * len(reports)) + "|"]
    for name in names:
        cells = [
            f"{r['features'][name]['mse']:.3f} | {r['features'][name]['mse_mean_predictor']:.3f}"
            for r in reports.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [f"**{r['mean_mse']:.3f}** | **{r['mean_mse_mean_predictor']:.3f}**" for r in reports.values()]
    lines.append("| **mean over features** | " + " | ".join(means) + " |")
    return "\n".join(lines)
