"""`FolderMixDataset`: clean speech files + noise files mixed on the fly (SNR, level, random crops).

Train and val are disjoint by speaker (or by file), and the noise files are split disjointly too, so the
validation score measures unseen talkers in unseen noise recordings. Validation items are fixed per index;
training items change every epoch (the DataModule passes `(epoch, index)`), reproducibly from the seed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files
from voipdns.data.base import EpochItemDataset
from voipdns.data.epochs import item_rng
from voipdns.data.mixing import as_range, mix, uniform
from voipdns.data.reader import AudioReader, as_path_list
from voipdns.data.splits import SPEAKER_FROM, select_split, speaker_of
from voipdns.rates import DEFAULT_SAMPLE_RATE

SPLIT_BY = ("speaker", "file")


class FolderMixDataset(EpochItemDataset):
    """Speech from `speech_dir` mixed with noise from `noise_dir` (each one folder or a list, recursive).

    Args:
        segment_seconds: crop length; None gives whole speech files (noise looped to their length; use
            `eval_batch_size: 1`).
        snr_db_range / level_dbfs_range: [low, high] drawn per item (conventions in `voipdns.data.mixing`).
        seed: item seed (use different seeds for train and val).
        split: 'train', 'val', 'test' or 'all' (no split, e.g. a separate validation folder).
        val_fraction: share of speakers (or files) and of noise files held out for 'val'.
        test_fraction: share held out for 'test' (0: no test split); speakers and noise files of the three
            splits are disjoint.
        split_by: 'speaker' (ids from `speaker_from`) or 'file'.
        speaker_from: 'librispeech_name' (`speaker-chapter-utt`), 'parent_dir' (first folder under
            speech_dir) or 'file'.
        split_seed: seed of the split itself; keep it equal for the train and the val dataset.
        num_items: items per epoch; default one per speech file of the split.
        cache_max_seconds: keep files up to this long in memory (per worker) after their first read.
    Item `condition` is the name of the noise file's folder (e.g. 'household', a moodist category).
    """

    def __init__(
        self,
        speech_dir: str | os.PathLike | Sequence[str],
        noise_dir: str | os.PathLike | Sequence[str],
        segment_seconds: float | None = 4.0,
        snr_db_range: Sequence[float] = (-5.0, 20.0),
        level_dbfs_range: Sequence[float] = (-35.0, -15.0),
        seed: int = 0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        split: str = "train",
        val_fraction: float = 0.1,
        split_by: str = "speaker",
        speaker_from: str = "librispeech_name",
        num_items: int | None = None,
        split_seed: int = 0,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        cache_max_seconds: float = 0.0,
        min_speech_seconds: float = 0.0,
        test_fraction: float = 0.0,
    ) -> None:
        if split_by not in SPLIT_BY:
            raise ValueError(f"FolderMixDataset: split_by must be one of {SPLIT_BY}, got {split_by!r}")
        if speaker_from not in SPEAKER_FROM:
            raise ValueError(f"FolderMixDataset: speaker_from must be one of {SPEAKER_FROM}, got {speaker_from!r}")
        if segment_seconds is not None and segment_seconds <= 0:
            raise ValueError(f"FolderMixDataset: segment_seconds must be > 0 or None, got {segment_seconds}")
        self.sample_rate = int(sample_rate)
        self.segment_seconds = None if segment_seconds is None else float(segment_seconds)
        self.snr_db_range = as_range(snr_db_range, "snr_db_range")
        self.level_dbfs_range = as_range(level_dbfs_range, "level_dbfs_range")
        self.seed = int(seed)
        self.split = split
        self.speech_files = self._split_speech(
            as_path_list(speech_dir, "speech_dir"),
            extensions,
            split,
            val_fraction,
            split_by,
            speaker_from,
            split_seed,
            test_fraction,
        )
        self.noise_files = self._split_noise(
            as_path_list(noise_dir, "noise_dir"), extensions, split, val_fraction, split_seed, test_fraction
        )
        self.num_items = len(self.speech_files) if num_items is None else int(num_items)
        if self.num_items <= 0:
            raise ValueError(f"FolderMixDataset: num_items must be > 0, got {num_items}")
        self.reader = AudioReader(self.sample_rate, cache_max_seconds, min_seconds=0.0)
        self.speech_reader = AudioReader(self.sample_rate, cache_max_seconds, min_seconds=min_speech_seconds)

    @staticmethod
    def _split_speech(
        roots, extensions, split, val_fraction, split_by, speaker_from, split_seed, test_fraction
    ) -> list[Path]:
        files, groups = [], []
        for root in roots:
            root_files = list_audio_files(root, extensions)
            files += root_files
            mode = "file" if split_by == "file" else speaker_from
            # file groups carry their root so equal relative paths under two roots stay distinct
            groups += [
                f"{root}/{speaker_of(f, root, mode)}" if mode == "file" else speaker_of(f, root, mode)
                for f in root_files
            ]
        return select_split(
            files, groups, split, val_fraction, split_seed, f"speech in {[str(r) for r in roots]}", test_fraction
        )

    @staticmethod
    def _split_noise(roots, extensions, split, val_fraction, split_seed, test_fraction) -> list[Path]:
        files = [f for root in roots for f in list_audio_files(root, extensions)]
        return select_split(
            files,
            [str(f) for f in files],
            split,
            val_fraction,
            split_seed,
            f"noise files in {[str(r) for r in roots]}",
            test_fraction,
        )

    def make_item(self, index: int, epoch: int) -> dict:
        rng = item_rng(self.seed, index, epoch)
        speech_path = self.speech_files[index % len(self.speech_files)]
        noise_path = self.noise_files[int(rng.integers(len(self.noise_files)))]
        snr_db = uniform(rng, self.snr_db_range)
        level_dbfs = uniform(rng, self.level_dbfs_range)
        if self.segment_seconds is None:
            clean = self.speech_reader.load(speech_path)
        else:
            length = int(round(self.segment_seconds * self.sample_rate))
            clean = self.speech_reader.random_crop(speech_path, length, rng)
        noise = self.reader.random_crop(noise_path, clean.shape[-1], rng, loop=True)
        mixture = mix(clean, noise, snr_db, level_dbfs, self.sample_rate)
        return {
            "noisy": mixture.noisy,
            "clean": mixture.clean,
            "name": f"{self.split}_{index:06d}_{speech_path.stem}",
            "condition": noise_path.parent.name,
        }

    def __repr__(self) -> str:
        return (
            f"FolderMixDataset(split={self.split!r}, {len(self.speech_files)} speech files, "
            f"{len(self.noise_files)} noise files, num_items={self.num_items}, seed={self.seed})"
        )
