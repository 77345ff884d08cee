"""The generic Lightning Task: any net + any loss, built from configs saved in the checkpoint."""

from __future__ import annotations

from typing import Any

import hydra
import lightning as L
import torch

from voipdns.config import to_plain
from voipdns.tasks.init_weights import init_from_pretrained

# Keys of the scheduler config read by the Task (Lightning's lr_scheduler dict), not passed to the scheduler.
_SCHEDULER_KEYS = ("monitor", "interval", "frequency")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN/Inf: training stops with the batch and the term that broke."""


class EnhancementTask(L.LightningModule):
    """Trains ``net`` with ``loss``; ``net``/``loss``/``optimizer``/``scheduler`` are ``_target_`` configs.

    Validation and test steps return the estimate with its clean/noisy references so callbacks (metrics, audio
    logging) can score them without a second forward pass. ``init_from`` (a registry name or checkpoint path)
    starts a fit from pretrained weights, loaded strictly (fine-tuning recipes).
    """

    def __init__(
        self,
        net: dict,
        loss: dict | None = None,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        init_from: str | None = None,
    ):
        super().__init__()
        net, loss, optimizer, scheduler = (to_plain(c) for c in (net, loss, optimizer, scheduler))
        self.save_hyperparameters(
            {"net": net, "loss": loss, "optimizer": optimizer, "scheduler": scheduler, "init_from": init_from}
        )
        self.net = hydra.utils.instantiate(net)
        # Inference-only loads (CLIs, export) need no loss: its files (e.g. the TAP estimator) may be absent.
        self.loss = hydra.utils.instantiate(loss) if loss else None

    def setup(self, stage: str) -> None:
        # before Lightning restores a resumed run's checkpoint, so a resumed run keeps its own weights
        init_from_pretrained(self, stage)

    @property
    def sample_rate(self) -> int:
        return self.net.sample_rate

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.net(noisy)

    # --- steps -------------------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if hasattr(self.loss, "set_progress"):
            self.loss.set_progress(self.global_step)
        outputs = self.net.training_outputs(batch)
        losses = self.loss(outputs, batch)
        self._check_finite(losses, batch)
        self._log_losses("train", losses, batch)
        return losses["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> dict:
        return self._evaluation_step("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> dict:
        return self._evaluation_step("test", batch)

    def _evaluation_step(self, stage: str, batch: dict) -> dict:
        has_clean = "clean" in batch
        if has_clean and self.loss is not None:
            outputs = self.net.training_outputs(batch)
            self._log_losses(stage, self.loss(outputs, batch), batch)
            estimate = outputs["estimate"]
        else:
            estimate = self.net(batch["noisy"])
        return {
            "estimate": estimate.detach().float().cpu(),
            "noisy": batch["noisy"].detach().float().cpu(),
            "clean": batch["clean"].detach().float().cpu() if has_clean else None,
            "name": list(batch.get("name", [])),
            "condition": list(batch.get("condition", [])),
        }

    # --- helpers -----------------------------------------------------------------------------------------
    def _log_losses(self, stage: str, losses: dict, batch: dict) -> None:
        batch_size = batch["noisy"].shape[0]
        on_step = stage == "train"
        for name, value in losses.items():
            key = f"{stage}/loss" if name == "loss" else f"{stage}/loss_{name}"
            self.log(
                key,
                value.detach(),
                on_step=on_step,
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=batch_size,
                sync_dist=not on_step,
            )

    def _check_finite(self, losses: dict, batch: dict) -> None:
        total = losses["loss"]
        if torch.isfinite(total).all():
            return
        broken = [name for name, value in losses.items() if name != "loss" and not torch.isfinite(value).all()]
        names = list(batch.get("name", []))[:4]
        noisy_ok = bool(torch.isfinite(batch["noisy"]).all())
        raise NonFiniteLossError(
            f"train/loss is {float(total)} at step {self.global_step} (non-finite terms: {broken or ['total']}; "
            f"batch items {names}; noisy input finite: {noisy_ok}). Lower optim.lr, set "
            f"trainer.gradient_clip_val, or ramp up the failing term's weight. The last good weights are in "
            f"checkpoints/on_exception.ckpt and last.ckpt."
        )

    # --- optimisation ------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        # Only the net is optimised: frozen helpers inside the loss (TAP estimator) never get an optimizer slot.
        optimizer = hydra.utils.instantiate(self.hparams.optimizer)(params=self.net.parameters())
        scheduler_config = dict(self.hparams.scheduler or {})
        if not scheduler_config:
            return optimizer
        lightning_keys = {key: scheduler_config.pop(key) for key in _SCHEDULER_KEYS if key in scheduler_config}
        scheduler = hydra.utils.instantiate(scheduler_config)(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "monitor": lightning_keys.get("monitor", "val/loss"),
                "interval": lightning_keys.get("interval", "epoch"),
                "frequency": lightning_keys.get("frequency", 1),
            },
        }

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def on_train_start(self) -> None:
        if self.loss is None:
            raise ValueError("EnhancementTask was built without a loss config; training needs one (loss=...)")
