"""Fitting a speaker embedder with its held-out EER measured before and after (the numbers the recipe reports)."""

from __future__ import annotations

import time

import lightning as L

from voipdns.speaker.datamodule import SpeakerDataModule
from voipdns.speaker.task import SpeakerEmbedderTask


def validation_eer(trainer: L.Trainer, task: SpeakerEmbedderTask, datamodule: SpeakerDataModule) -> float:
    """EER over all pairs of held-out segments; NaN when the segments hold no target or no non-target pair."""
    metrics = trainer.validate(task, datamodule=datamodule, verbose=False)[0]
    return float(metrics.get("val/eer", float("nan")))


def fit_with_eer(trainer: L.Trainer, task: SpeakerEmbedderTask, datamodule: SpeakerDataModule) -> dict:
    """Fit ``task``; returns the EER before / after, epochs, steps, minutes and sizes."""
    datamodule.setup("fit")
    eer_before = validation_eer(trainer, task, datamodule)
    start = time.monotonic()
    trainer.fit(task, datamodule=datamodule)
    minutes = (time.monotonic() - start) / 60.0
    eer_after = validation_eer(trainer, task, datamodule)
    return {
        "eer_untrained": eer_before,
        "eer_trained": eer_after,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "train_minutes": round(minutes, 2),
        "speakers": datamodule.n_speakers,
        "held_out_segments": len(datamodule.val),
        "params": sum(p.numel() for p in task.embedder.parameters()),
    }
