"""Datasets of (waveform, z-scored LLD targets, valid-frame mask) for TAP estimator training."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from voipdns.features.egemaps import align_frames
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.tap.estimator import HOP_SAMPLES
from voipdns.tap.prepare import INT16_SCALE, CorpusItem, feature_statistics, prepare_corpus


class TAPDataset(Dataset):
    """Items from ``prepare_corpus``. With ``segment_seconds`` each access returns a random hop-aligned crop
    (zero padded when the clip is shorter); without, the whole clip (evaluation, batch size 1).

    Returns ``{"wav": [1, T], "target": [T // 160 + 1, 25] z-scored, "valid": [T // 160 + 1] bool, "name"}``;
    estimator frame j of a crop starting at LLD frame f0 is LLD frame f0 + j (see ``egemaps.align_frames``).
    """

    def __init__(
        self,
        items: list[CorpusItem],
        mean: np.ndarray,
        std: np.ndarray,
        segment_seconds: float | None = None,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
    ):
        if not items:
            raise ValueError("TAPDataset: no items")
        self.items, self.mean, self.std = items, np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.segment_frames = None if segment_seconds is None else round(segment_seconds * sample_rate / HOP_SAMPLES)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        audio = np.load(item.audio_npy, mmap_mode="r")
        lld = np.load(item.lld_npy, mmap_mode="r")
        start_frame, num_samples = 0, audio.shape[0]
        if self.segment_frames is not None:
            # torch's RNG: seeded by Lightning, so a run is reproducible
            start_frame = int(torch.randint(0, max(lld.shape[0] - self.segment_frames, 0) + 1, ()))
            num_samples = self.segment_frames * HOP_SAMPLES
        start = start_frame * HOP_SAMPLES
        wav = np.zeros(num_samples, dtype=np.float32)
        piece = audio[start : start + num_samples]
        wav[: piece.shape[0]] = piece / INT16_SCALE
        target, valid = align_frames(np.asarray(lld[start_frame:]), num_samples // HOP_SAMPLES + 1)
        valid &= np.arange(valid.shape[0]) * HOP_SAMPLES < piece.shape[0]  # no target on zero padding
        target = (target - self.mean) / self.std
        return {
            "wav": torch.from_numpy(wav)[None],
            "target": torch.from_numpy(target * valid[:, None]),
            "valid": torch.from_numpy(valid),
            "name": item.name,
        }


class TAPDataModule(L.LightningDataModule):
    """Prepares the corpus (``voipdns.tap.prepare``) and serves train crops, whole val/test clips.

    ``statistics`` (feature names, mean, std of the training LLDs) is available after ``setup()``; the CLI
    hands it to ``TAPEstimatorTask`` so it is saved with the estimator.
    """

    def __init__(
        self,
        speech_dir: str,
        cache_dir: str,
        noise_dirs: list[str] | None = None,
        noisy_variants: int = 0,
        snr_range_db: tuple[float, float] = (0.0, 20.0),
        val_speakers: int = 20,
        test_speakers: int = 25,
        held_out_noise_fraction: float = 0.25,
        speaker_regex: str = r"^([^-_]+)",
        segment_seconds: float = 4.0,
        batch_size: int = 8,
        num_workers: int = 0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        seed: int = 0,
    ):
        super().__init__()
        self.corpus_args = dict(
            speech_dir=speech_dir,
            cache_dir=cache_dir,
            noise_dirs=list(noise_dirs or []),
            noisy_variants=noisy_variants,
            snr_range_db=tuple(snr_range_db),
            val_speakers=val_speakers,
            test_speakers=test_speakers,
            held_out_noise_fraction=held_out_noise_fraction,
            speaker_regex=speaker_regex,
            sample_rate=sample_rate,
            seed=seed,
        )
        self.segment_seconds, self.batch_size, self.num_workers = segment_seconds, batch_size, num_workers
        self.sample_rate = sample_rate
        self.items: list[CorpusItem] | None = None
        self.statistics: tuple[list[str], np.ndarray, np.ndarray] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.items is None:
            self.items = prepare_corpus(**self.corpus_args)
            self.statistics = feature_statistics(self.items)

    def dataset(self, split: str, clean_only: bool | None = None, whole_clips: bool = True) -> TAPDataset:
        """``clean_only``: True = variant 0 only, False = noisy variants only, None = all."""
        self.setup()
        items = [i for i in self.items if i.split == split and (clean_only is None or (i.variant == 0) == clean_only)]
        _, mean, std = self.statistics
        segment = None if whole_clips else self.segment_seconds
        return TAPDataset(items, mean, std, segment, self.sample_rate)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.dataset("train", whole_clips=False),
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            drop_last=True,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset("val"), batch_size=1, num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset("test"), batch_size=1, num_workers=self.num_workers)
