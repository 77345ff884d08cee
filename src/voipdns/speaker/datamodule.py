"""LightningDataModule for speaker-embedder training: one folder of utterances, each split in time into training
crops and held-out validation segments (`voipdns.speaker.segments`)."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.speaker.segments import TrainSegments, ValidationSegments, load_speaker_directory

log = logging.getLogger(__name__)


class SpeakerDataModule(L.LightningDataModule):
    """``setup()`` loads the folder once; ``n_speakers`` then sizes the classification head."""

    def __init__(
        self,
        directory: str | Path,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        max_seconds: float | None = 16.0,
        max_speakers: int | None = None,
        val_fraction: float = 0.3,
        segment_seconds: float = 2.0,
        val_per_speaker: int = 2,
        train_segments_per_epoch: int = 2048,
        batch_size: int = 32,
        seed: int = 0,
    ):
        super().__init__()
        self.directory, self.sample_rate = directory, sample_rate
        self.max_seconds, self.max_speakers = max_seconds, max_speakers
        self.val_fraction, self.val_per_speaker = val_fraction, val_per_speaker
        self.segment_samples = int(segment_seconds * sample_rate)
        self.train_segments_per_epoch, self.batch_size, self.seed = train_segments_per_epoch, batch_size, seed
        self.train: TrainSegments | None = None
        self.val: ValidationSegments | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train is not None:  # fit, validate and the EER checks around them share one load
            return
        utterances = load_speaker_directory(self.directory, self.sample_rate, self.max_seconds, self.max_speakers)
        self.train = TrainSegments(
            utterances, self.segment_samples, self.val_fraction, self.train_segments_per_epoch, self.seed
        )
        self.val = ValidationSegments(
            utterances, self.train.speakers, self.segment_samples, self.val_fraction, self.val_per_speaker
        )
        log.info("%d utterances, %d speakers, %d held-out segments", len(utterances), self.n_speakers, len(self.val))

    @property
    def n_speakers(self) -> int:
        if self.train is None:
            raise RuntimeError("SpeakerDataModule.n_speakers: call setup() first")
        return len(self.train.speakers)

    def train_dataloader(self) -> DataLoader:
        # no shuffle: TrainSegments draws a random crop per item from its own seeded generator
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=False, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=1)
