"""voipdns-train-speaker end to end on a folder the test writes: a tiny ECAPA trained for one epoch through the
Hydra config (trainer group, SpeakerDataModule), its results, embedder file and metrics; the enrollment grouping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from hydra_helpers import compose_config
from voipdns.data.enrollment_embeddings import enrollment_files
from voipdns.speaker.checkpoint import load_embedder
from voipdns.speaker.datamodule import SpeakerDataModule

TINY_ECAPA = [
    "embedder.channels=[16,16,16,16,48]",
    "embedder.attention_channels=8",
    "embedder.se_channels=8",
    "embedder.res2net_scale=2",
    "embedder.n_mels=24",
]


def write_speakers(folder, count: int = 3, seconds: float = 4.0):
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * 16000)) / 16000
    for k in range(count):
        wave = 0.3 * np.sin(2 * np.pi * (200.0 * (k + 1)) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        sf.write(folder / f"{k + 1}{k + 1}-100-0000.flac", wave.astype(np.float32), 16000)
    return folder


def test_datamodule_needs_setup_then_sizes_the_head(tmp_path):
    datamodule = SpeakerDataModule(write_speakers(tmp_path / "speech"), segment_seconds=0.5, batch_size=2)
    with pytest.raises(RuntimeError, match="call setup"):
        _ = datamodule.n_speakers
    datamodule.setup("fit")
    assert datamodule.n_speakers == 3 and len(datamodule.val) == 6  # 2 held-out segments of 0.5 s per speaker
    wave, labels = next(iter(datamodule.train_dataloader()))
    assert wave.shape == (2, 8000) and set(labels.tolist()) <= {0, 1, 2}


def test_train_speaker_fits_through_the_trainer_config(tmp_path):
    from voipdns.cli.train_speaker import run

    overrides = [
        f"data.directory={write_speakers(tmp_path / 'speech')}",
        "data.segment_seconds=0.5",
        "data.train_segments_per_epoch=4",
        "data.batch_size=2",
        "trainer.max_epochs=1",
        "trainer.log_every_n_steps=1",
        *TINY_ECAPA,
    ]
    cfg = compose_config("speaker_embedder", overrides, tmp_path / "run")
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.max_time == "00:00:08:00"  # app settings over trainer=cpu
    results = run(cfg)
    assert results["speakers"] == 3 and results["held_out_segments"] == 6 and results["steps"] == 2
    assert all(math.isfinite(results[key]) for key in ("eer_untrained", "eer_trained"))
    assert json.loads((tmp_path / "run" / "results.json").read_text()) == results
    assert load_embedder(tmp_path / "run" / "embedder.pt").embedding_dim == 192
    assert "train/loss_step" in (tmp_path / "run" / "csv" / "metrics.csv").read_text()


def test_trainer_group_switches_to_gpu_keeping_the_apps_settings(tmp_path):
    cfg = compose_config("speaker_embedder", ["trainer=gpu", "data.directory=x"], tmp_path)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.max_time == "00:00:08:00"
    assert not cfg.trainer.enable_checkpointing


def test_enrollment_files_group_by_speaker_and_name_an_empty_folder(tmp_path):
    (tmp_path / "enrol").mkdir()
    for name in ("enrol_reader2.wav", "enrol_reader1.wav"):
        sf.write(tmp_path / "enrol" / name, np.zeros(1600, np.float32), 16000)
    assert list(enrollment_files(tmp_path / "enrol", "stem")) == ["reader1", "reader2"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty holds no files"):
        enrollment_files(tmp_path / "empty", "stem")
