"""DNS Challenge 2020 (Interspeech): on-the-fly training synthesis and the official synthetic test set.

`DNS2020SynthesisDataset` mixes clean speech and noise as the challenge's synthesiser does: SNR uniform in
`snr_db_range`, the mixture scaled to a level uniform in `target_level_dbfs +- target_level_range_db` (speech
and noise by the same gain), then rescaled if it would clip (`voipdns.data.mixing`). With `rir` set, a
fraction `reverb_probability` of items is reverberated (`voipdns.data.rir`) and the target is the
reverberant, dry or early-reverberation speech (`reverb_target`); items carry condition ``with_reverb`` or
``no_reverb`` like the test set.

`DNS2020TestSet` reads the official layout ``<root>/synthetic/{no_reverb,with_reverb}/{clean,noisy}/`` (clean
``clean_fileid_N.wav`` paired with ``<anything>_fileid_N.wav``) and ``<root>/real_recordings/*.wav``
(noisy-only items, no ``clean`` key, for non-intrusive metrics); `root` is ``datasets/test_set``. Each
subset is its own condition, so metrics are reported per subset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files
from voipdns.data.base import EpochItemDataset
from voipdns.data.epochs import item_rng
from voipdns.data.mixing import as_range, prevent_clipping, scale_noise_to_snr, scale_to_level, uniform
from voipdns.data.pairs import PairedFolderDataset
from voipdns.data.reader import AudioReader, as_path_list
from voipdns.data.rir import REVERB_TARGETS, RIRSource, apply_reverb
from voipdns.data.splits import select_split
from voipdns.rates import DEFAULT_SAMPLE_RATE

TEST_SUBSETS = ("no_reverb", "with_reverb", "real_recordings")
SPLIT_BY = ("file", "reader")
_READER = re.compile(r"reader_(\d+)")


def reader_groups(files: Sequence[Path], split_by: str) -> list[str]:
    """Split groups: the file itself, or the DNS reader id (``..._reader_01234_...``; files without one are
    their own group)."""
    if split_by not in SPLIT_BY:
        raise ValueError(f"split_by must be one of {SPLIT_BY}, got {split_by!r}")
    if split_by == "file":
        return [str(f) for f in files]
    return [f"reader_{m.group(1)}" if (m := _READER.search(f.stem)) else str(f) for f in files]


def mix_with_targets(
    speech: torch.Tensor,
    noise: torch.Tensor,
    snr_db: float,
    level_dbfs: float,
    sample_rate: int,
    targets: Sequence[torch.Tensor],
    active_speech: bool = False,
    clipping_threshold: float = 0.99,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """noisy = speech + noise at `snr_db`, scaled to `level_dbfs` and de-clipped; every target gets the gains
    the speech got, so targets and mixture stay consistent."""
    noise = scale_noise_to_snr(speech, noise, snr_db, sample_rate, active_speech)
    noisy, gain = scale_to_level(speech + noise, level_dbfs)
    noisy, scaled, _ = prevent_clipping(noisy, *(t * gain for t in targets), max_abs=clipping_threshold)
    return noisy, scaled


class DNS2020SynthesisDataset(EpochItemDataset):
    """Clean + noise folders mixed on the fly (see module doc).

    Args:
        clean_dir / noise_dir: one folder or a list (searched recursively).
        segment_seconds: crop length (speech shorter than that is zero-padded, noise is looped).
        snr_db_range: [low, high] in dB (DNS-2020: [-5, 20]; later editions 0..40).
        target_level_dbfs / target_level_range_db: mixture level uniform in level +- range (-25 +- 10).
        active_speech: SNR from the speech power over active frames (True) or the whole crop (DNS-2020).
        rir: a `RIRSource` (or None); reverb_probability: share of reverberated items.
        reverb_target: 'reverberant' (DNS-2020), 'dry' or 'early' (first `early_ms` of the RIR).
        split / val_fraction / split_by / split_seed: 'train', 'val' or 'all'; disjoint by file or DNS reader.
        num_items: items per epoch (default: one per clean file of the split).
    """

    def __init__(
        self,
        clean_dir: str | os.PathLike | Sequence[str],
        noise_dir: str | os.PathLike | Sequence[str],
        segment_seconds: float = 10.0,
        snr_db_range: Sequence[float] = (-5.0, 20.0),
        target_level_dbfs: float = -25.0,
        target_level_range_db: float = 10.0,
        active_speech: bool = False,
        clipping_threshold: float = 0.99,
        rir: RIRSource | None = None,
        reverb_probability: float = 0.0,
        reverb_target: str = "reverberant",
        early_ms: float = 50.0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        seed: int = 0,
        split: str = "all",
        val_fraction: float = 0.05,
        split_by: str = "reader",
        split_seed: int = 0,
        num_items: int | None = None,
        cache_max_seconds: float = 0.0,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
    ) -> None:
        if segment_seconds <= 0:
            raise ValueError(f"DNS2020SynthesisDataset: segment_seconds must be > 0, got {segment_seconds}")
        if reverb_target not in REVERB_TARGETS:
            raise ValueError(
                f"DNS2020SynthesisDataset: reverb_target must be one of {REVERB_TARGETS}, got {reverb_target!r}"
            )
        if not 0.0 <= reverb_probability <= 1.0:
            raise ValueError(f"DNS2020SynthesisDataset: reverb_probability must be in [0, 1], got {reverb_probability}")
        if reverb_probability > 0 and rir is None:
            raise ValueError("DNS2020SynthesisDataset: reverb_probability > 0 needs rir (a RIRSource)")
        self.sample_rate = int(sample_rate)
        self.segment_samples = int(round(segment_seconds * self.sample_rate))
        self.snr_db_range = as_range(snr_db_range, "snr_db_range")
        self.level_range = (
            target_level_dbfs - target_level_range_db,
            target_level_dbfs + target_level_range_db,
        )
        self.active_speech, self.clipping_threshold = bool(active_speech), float(clipping_threshold)
        self.rir, self.reverb_probability = rir, float(reverb_probability)
        self.reverb_target, self.early_ms = reverb_target, float(early_ms)
        self.seed, self.split = int(seed), split
        clean = [f for root in as_path_list(clean_dir, "clean_dir") for f in list_audio_files(root, extensions)]
        noise = [f for root in as_path_list(noise_dir, "noise_dir") for f in list_audio_files(root, extensions)]
        self.clean_files = select_split(
            clean,
            reader_groups(clean, split_by),
            split,
            val_fraction,
            split_seed,
            f"clean speech in {clean_dir}",
        )
        self.noise_files = select_split(
            noise, [str(f) for f in noise], split, val_fraction, split_seed, f"noise in {noise_dir}"
        )
        self.num_items = len(self.clean_files) if num_items is None else int(num_items)
        if self.num_items <= 0:
            raise ValueError(f"DNS2020SynthesisDataset: num_items must be > 0, got {num_items}")
        self.reader = AudioReader(self.sample_rate, cache_max_seconds)

    def make_item(self, index: int, epoch: int) -> dict:
        rng = item_rng(self.seed, index, epoch)
        clean_path = self.clean_files[index % len(self.clean_files)]
        noise_path = self.noise_files[int(rng.integers(len(self.noise_files)))]
        snr_db, level_dbfs = uniform(rng, self.snr_db_range), uniform(rng, self.level_range)
        speech = self.reader.random_crop(clean_path, self.segment_samples, rng)
        noise = self.reader.random_crop(noise_path, self.segment_samples, rng, loop=True)
        reverberant = self.rir is not None and rng.random() < self.reverb_probability
        target = speech
        if reverberant:
            speech, target = apply_reverb(
                speech, self.rir.draw(rng), self.reverb_target, self.sample_rate, self.early_ms
            )
        noisy, (target,) = mix_with_targets(
            speech,
            noise,
            snr_db,
            level_dbfs,
            self.sample_rate,
            [target],
            self.active_speech,
            self.clipping_threshold,
        )
        return {
            "noisy": noisy.float(),
            "clean": target.float(),
            "name": f"{self.split}_{index:06d}_{clean_path.stem}",
            "condition": "with_reverb" if reverberant else "no_reverb",
        }

    def __repr__(self) -> str:
        return (
            f"DNS2020SynthesisDataset(split={self.split!r}, {len(self.clean_files)} clean, "
            f"{len(self.noise_files)} noise files, num_items={self.num_items}, rir={self.rir})"
        )


class DNS2020TestSet(ConcatDataset):
    """The official test set under `root` (``datasets/test_set``): `subsets` of no_reverb, with_reverb,
    real_recordings; whole clips, condition = subset name."""

    def __init__(
        self,
        root: str | os.PathLike,
        subsets: Sequence[str] = ("no_reverb", "with_reverb"),
        sample_rate: int = DEFAULT_SAMPLE_RATE,
    ) -> None:
        self.root, self.sample_rate = Path(root), int(sample_rate)
        subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        unknown = sorted(set(subsets) - set(TEST_SUBSETS))
        if unknown or not subsets:
            raise ValueError(f"DNS2020TestSet: unknown subsets {unknown or '[]'}; choose from {TEST_SUBSETS}")
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"DNS2020TestSet: {self.root} does not exist (expected the DNS-Challenge "
                f"datasets/test_set folder with synthetic/ and real_recordings/)"
            )
        super().__init__([self._subset(name) for name in subsets])
        self.subsets = subsets

    def _subset(self, name: str) -> Dataset:
        if name == "real_recordings":
            folder = self._folder(self.root / "real_recordings")
            return PairedFolderDataset(folder, None, self.sample_rate, condition=name)
        base = self.root / "synthetic" / name
        noisy, clean = self._folder(base / "noisy"), self._folder(base / "clean")
        return PairedFolderDataset(noisy, clean, self.sample_rate, pair_by="fileid", condition=name)

    def _folder(self, folder: Path) -> Path:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"DNS2020TestSet: missing folder {folder} (layout: synthetic/"
                f"{{no_reverb,with_reverb}}/{{clean,noisy}}, real_recordings/)"
            )
        return folder

    def __repr__(self) -> str:
        return f"DNS2020TestSet({self.root}, subsets={self.subsets}, {len(self)} clips)"
