"""Validation clips as audio + spectrograms in TensorBoard and W&B (callbacks.metrics.log_audio_clips)."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from test_metrics_callback import SR, PairDataset, TinyTask, _loader
from voipdns.callbacks.audio_samples import as_clip, log_audio_samples, spectrogram_image
from voipdns.callbacks.metrics import EnhancementMetrics


def clips(count: int, with_clean: bool = True):
    data = PairDataset(count, seconds=0.5, with_clean=with_clean)
    return [as_clip(item["name"], item["noisy"], 0.5 * item["noisy"], item.get("clean")) for item in data.items]


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"audio": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_gets_three_versions_and_a_spectrogram_per_clip(tmp_path):
    logger = TensorBoardLogger(tmp_path, name="tb", version=0)
    assert log_audio_samples([logger], clips(2), SR, step=7) == 1
    logger.experiment.flush()
    tags = events(logger.log_dir).Tags()
    assert sorted(tags["audio"]) == sorted(
        f"val_audio/{i}_clip{i}/{v}" for i in range(2) for v in ("noisy", "enhanced", "clean")
    )
    assert sorted(tags["images"]) == ["val_audio/0_clip0/spectrogram", "val_audio/1_clip1/spectrogram"]
    audio = events(logger.log_dir).Audio("val_audio/0_clip0/noisy")[0]
    assert audio.step == 7 and audio.sample_rate == SR and audio.length_frames == SR // 2


class FakeWandb:
    """Duck-types WandbLogger's media methods and records what they were given."""

    def __init__(self):
        self.calls = []

    def log_audio(self, key, audios, step=None, **kwargs):
        self.calls.append(("audio", key, audios, step, kwargs))

    def log_image(self, key, images, step=None, **kwargs):
        self.calls.append(("image", key, images, step, kwargs))


def test_wandb_style_logger_gets_captioned_audio_and_images():
    fake = FakeWandb()
    assert log_audio_samples([fake], clips(1, with_clean=False), SR, step=3) == 1
    (kind, key, audios, step, kwargs), (image_kind, image_key, images, _, _) = fake.calls
    assert (kind, key, step) == ("audio", "val_audio/0_clip0/audio", 3)
    assert kwargs == {"sample_rate": [SR, SR], "caption": ["noisy", "enhanced"]}  # no clean reference
    assert [len(a) for a in audios] == [SR // 2] * 2
    assert (image_kind, image_key) == ("image", "val_audio/0_clip0/spectrogram") and images[0].ndim == 3


def test_csv_logger_takes_no_media(tmp_path):
    assert log_audio_samples([CSVLogger(tmp_path)], clips(1), SR, step=0) == 0


def test_spectrogram_has_a_panel_per_version_and_real_content():
    with_clean, without_clean = spectrogram_image(clips(1)[0], SR), spectrogram_image(clips(1, False)[0], SR)
    assert with_clean.dtype == np.uint8 and with_clean.shape[2] == 3
    assert with_clean.shape[0] > without_clean.shape[0]  # three panels are taller than two
    assert with_clean.std() > 20  # not a blank canvas


def test_audio_is_clipped_to_the_player_range():
    clip = as_clip("loud", torch.full((1, 10), 3.0), torch.full((1, 10), -2.0), None)
    assert clip.noisy.max() == 1.0 and clip.enhanced.min() == -1.0 and clip.clean is None


def test_fit_logs_the_first_n_validation_clips_each_epoch(tmp_path):
    logger = TensorBoardLogger(tmp_path, name="tb", version=0)
    callback = EnhancementMetrics(metrics=["si_sdr"], num_workers=0, log_audio_clips=2, stages=["val"])
    trainer = pl.Trainer(
        max_epochs=2,
        limit_train_batches=1,
        num_sanity_val_steps=0,
        logger=logger,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(TinyTask(), _loader(PairDataset(4, seconds=0.5)), _loader(PairDataset(5, seconds=0.5)))
    logger.experiment.flush()
    accumulator = events(logger.log_dir)
    assert len([tag for tag in accumulator.Tags()["audio"] if tag.endswith("/enhanced")]) == 2
    assert [event.step for event in accumulator.Audio("val_audio/1_clip1/clean")] == [1, 2]  # once per epoch


def test_negative_clip_count_is_rejected():
    with pytest.raises(ValueError, match="log_audio_clips must be >= 0"):
        EnhancementMetrics(metrics=["si_sdr"], log_audio_clips=-1)
