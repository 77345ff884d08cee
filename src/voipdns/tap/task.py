"""Lightning training of the TAP estimator: masked MSE between predicted and z-scored eGeMAPS LLDs."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch

from voipdns.tap.estimator import TAPEstimator, save_estimator


def masked_squared_error(prediction: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Squared error ``[B, frames, F]`` with invalid frames zeroed (their count is excluded by the caller)."""
    return (prediction - target).square() * valid[..., None]


class FeatureErrors:
    """Running per-feature sums of squared error of the model and of the mean predictor (z = 0)."""

    def __init__(self, num_features: int):
        self.model = torch.zeros(num_features, dtype=torch.float64)
        self.mean_predictor = torch.zeros(num_features, dtype=torch.float64)
        self.frames = 0

    def update(self, prediction: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> None:
        self.model += masked_squared_error(prediction, target, valid).sum(dim=(0, 1)).double().cpu()
        self.mean_predictor += (target.square() * valid[..., None]).sum(dim=(0, 1)).double().cpu()
        self.frames += int(valid.sum())

    def mse(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature MSE in z units: (model, mean predictor)."""
        count = max(self.frames, 1)
        return self.model / count, self.mean_predictor / count


class TAPEstimatorTask(L.LightningModule):
    """Trains ``TAPEstimator`` (reference: MSE, Adam 3e-4) and exports it with its z-score statistics."""

    def __init__(
        self,
        feature_names: list[str],
        feature_mean: list[float],
        feature_std: list[float],
        lr: float = 3e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
    ):
        super().__init__()
        feature_names = list(feature_names)
        feature_mean, feature_std = [float(v) for v in feature_mean], [float(v) for v in feature_std]
        # statistics are hyper-parameters, so a Lightning checkpoint alone can re-export the estimator
        self.save_hyperparameters(
            {
                "feature_names": feature_names,
                "feature_mean": feature_mean,
                "feature_std": feature_std,
                "lr": lr,
                "betas": list(betas),
                "weight_decay": weight_decay,
            }
        )
        self.estimator = TAPEstimator()
        self.estimator.set_statistics(feature_names, torch.tensor(feature_mean), torch.tensor(feature_std))
        self._val_errors: FeatureErrors | None = None

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.estimator(wav)

    def _loss(self, batch: dict) -> torch.Tensor:
        prediction = self.estimator(batch["wav"])
        errors = masked_squared_error(prediction, batch["target"], batch["valid"])
        return errors.sum() / (batch["valid"].sum().clamp(min=1) * prediction.shape[-1])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/mse", loss.detach(), prog_bar=True, batch_size=batch["wav"].shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_errors = FeatureErrors(self.estimator.linear2.out_features)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._val_errors.update(self.estimator(batch["wav"]), batch["target"], batch["valid"])

    def on_validation_epoch_end(self) -> None:
        model, mean_predictor = self._val_errors.mse()
        self.log("val/mse", float(model.mean()), prog_bar=True)
        self.log("val/mse_mean_predictor", float(mean_predictor.mean()))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            self.estimator.parameters(),
            lr=self.hparams.lr,
            betas=tuple(self.hparams.betas),
            weight_decay=self.hparams.weight_decay,
        )

    def export(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the estimator file TAPLoss loads (official ``model_state_dict`` key + statistics)."""
        return save_estimator(self.estimator, path, extra)
