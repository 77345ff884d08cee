"""VoIP-DNS (deepology/VoIP-DNS-Challenge): DNS-2020 sources relayed through Zoom / Google Meet calls.

Layout (as the challenge scripts unpack it, and as `voipdns-simulate` writes it)::

    <root>/<split>/src_clean/        ..._fileid_N.wav   clean source (the target)
    <root>/<split>/src_noisy/        ..._fileid_N.wav   noisy source that was played into the call
    <root>/<split>/src_<platform>_<receiver>_relay_<setting>/ ..._fileid_N.wav   the received relays
    <root>/<split>/nrm_*/            peak-normalised copies: int16(0.8 * 32767 * x / max|x|)

with split ``train`` (30 s files) or ``test`` (10 s). Every item is one (file, condition) pair and carries its
``condition`` (``gm_cloud_low``, ...). Relays were recorded, so they lag their source: each relay's delay is
measured against the clean source (`voipdns.data.alignment`: envelope cross-correlation, then waveform
refinement) the first time it is read, cached in a JSON file (`delay_cache`), and undone; a relay that does
not correlate with its source is an error naming the file.

Bad data is an error naming the path: a missing split or partition folder (with the partitions present),
unpaired files (or a counted skip with a warning, `on_unpaired="skip"`), a relay that (after alignment)
ends more than `max_mismatch_seconds` before its source.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files
from voipdns.conditions import partition_name, select_conditions
from voipdns.data.alignment import DelayCache, estimate_delay
from voipdns.data.base import EpochItemDataset
from voipdns.data.epochs import item_rng
from voipdns.data.pairs import pair_key
from voipdns.data.reader import AudioReader
from voipdns.data.splits import select_split
from voipdns.rates import DEFAULT_SAMPLE_RATE

SPLITS = ("train", "test")
_MAX_LISTED = 5


class VoIPDNSDataset(EpochItemDataset):
    """Items ``{noisy: relay [1,T], clean: src_clean [1,T], name, condition}``.

    Args:
        root: folder holding ``train/`` and ``test/``; split: 'train' or 'test'.
        platforms / receivers / settings: subsets of (gm, zm) x (cloud, phone) x (low, auto), None = all;
            or `conditions`: an explicit list like ["gm_cloud_low", "zm_phone_auto"].
        include_noisy_source: also yield the unprocessed noisy source (condition ``noisy``).
        use_normalised: read the ``nrm_*`` relays instead of ``src_*``.
        clean_partition: the target folder (``src_clean``; ``nrm_clean`` matches normalised relays' scale).
        segment_seconds: None = whole clips (val/test); else aligned random crops (30 s train files).
        items_per_file: crops drawn per (file, condition) and epoch.
        align: measure and undo each relay's delay; delay_cache: JSON file of measured delays (default
            ``<root>/<split>/voipdns_delays.json`` when that folder is writable, else memory only).
        max_delay_seconds / min_correlation: search range and the correlation below which alignment fails.
        on_unpaired: 'error' or 'skip' (warn with the count).
        holdout / val_fraction / split_seed: 'all', or 'train' / 'val' parts of the split disjoint by file id
            (all conditions of a file id on the same side): the released data has no validation split.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        platforms: Sequence[str] | None = None,
        receivers: Sequence[str] | None = None,
        settings: Sequence[str] | None = None,
        conditions: Sequence[str] | None = None,
        include_noisy_source: bool = False,
        use_normalised: bool = False,
        clean_partition: str = "src_clean",
        segment_seconds: float | None = None,
        items_per_file: int = 1,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        align: bool = True,
        delay_cache: str | os.PathLike | None = "auto",
        max_delay_seconds: float = 2.0,
        min_correlation: float = 0.3,
        max_mismatch_seconds: float = 0.5,
        on_unpaired: str = "error",
        holdout: str = "all",
        val_fraction: float = 0.05,
        split_seed: int = 0,
        seed: int = 0,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"VoIPDNSDataset: split must be one of {SPLITS}, got {split!r}")
        if on_unpaired not in ("error", "skip"):
            raise ValueError(f"VoIPDNSDataset: on_unpaired must be 'error' or 'skip', got {on_unpaired!r}")
        self.split_dir = Path(root) / split
        if not self.split_dir.is_dir():
            raise FileNotFoundError(
                f"VoIPDNSDataset: {self.split_dir} does not exist (expected <root>/{split}/ "
                f"with src_clean/ and src_<platform>_<receiver>_relay_<setting>/ folders)"
            )
        self.split, self.sample_rate, self.seed = split, int(sample_rate), int(seed)
        self.segment_samples = None if segment_seconds is None else int(round(segment_seconds * self.sample_rate))
        self.items_per_file = int(items_per_file)
        self.align, self.max_delay_seconds, self.min_correlation = (
            bool(align),
            float(max_delay_seconds),
            float(min_correlation),
        )
        self.max_mismatch_samples = int(round(max_mismatch_seconds * self.sample_rate))
        self.conditions = select_conditions(platforms, receivers, settings, conditions)
        if include_noisy_source:
            self.conditions = [*self.conditions, "noisy"]
        self.reader = AudioReader(self.sample_rate)
        clean = self._index(self._partition(clean_partition), extensions)
        self.items: list[tuple[str, str, Path, Path]] = []  # (condition, key, relay, clean)
        for condition in self.conditions:
            folder = self._partition(partition_name(condition, use_normalised))
            self._pair(condition, self._index(folder, extensions), clean, on_unpaired)
        if not self.items:
            raise ValueError(f"VoIPDNSDataset: no (relay, clean) pairs in {self.split_dir} for {self.conditions}")
        keys = [item[1] for item in self.items]
        kept = set(select_split(keys, keys, holdout, val_fraction, split_seed, f"file ids in {self.split_dir}"))
        self.items = [item for item in self.items if item[1] in kept]
        self.delays = DelayCache(self._cache_path(delay_cache) if self.align else None)
        self._unsaved = 0

    def _partition(self, name: str) -> Path:
        folder = self.split_dir / name
        if not folder.is_dir():
            present = sorted(p.name for p in self.split_dir.iterdir() if p.is_dir())
            hint = (
                " (the released train split has src_* partitions only: set use_normalised=false)"
                if name.startswith("nrm_") and self.split == "train"
                else ""
            )
            raise FileNotFoundError(f"VoIPDNSDataset: partition folder {folder} is missing; present: {present}{hint}")
        return folder

    @staticmethod
    def _index(folder: Path, extensions: Sequence[str]) -> dict[str, Path]:
        index: dict[str, Path] = {}
        for path in list_audio_files(folder, extensions):
            key = pair_key(path, folder, "fileid")
            if key in index:
                raise ValueError(f"VoIPDNSDataset: {folder} has two files with {key}: {index[key]} and {path}")
            index[key] = path
        return index

    def _pair(self, condition: str, relays: dict[str, Path], clean: dict[str, Path], on_unpaired: str) -> None:
        unpaired = sorted(relays[k] for k in relays.keys() - clean.keys())
        unpaired += sorted(clean[k] for k in clean.keys() - relays.keys())
        if unpaired:
            shown = ", ".join(str(p) for p in unpaired[:_MAX_LISTED])
            message = (
                f"VoIPDNSDataset: {len(unpaired)} unpaired file(s) between {clean[next(iter(clean))].parent} "
                f"and {condition}: {shown}" + (" ..." if len(unpaired) > _MAX_LISTED else "")
            )
            if on_unpaired == "error":
                raise ValueError(message + " (on_unpaired='skip' skips them)")
            warnings.warn(message + "; skipped", stacklevel=3)
        for key in sorted(relays.keys() & clean.keys(), key=lambda k: int(k.split("_")[-1])):
            self.items.append((condition, key, relays[key], clean[key]))

    def _cache_path(self, delay_cache: str | os.PathLike | None) -> Path | None:
        if delay_cache != "auto":
            return None if delay_cache is None else Path(delay_cache)
        return self.split_dir / "voipdns_delays.json" if os.access(self.split_dir, os.W_OK) else None

    def __len__(self) -> int:
        return len(self.items) * self.items_per_file

    def delay_of(self, relay: Path, clean: Path) -> int:
        """Delay (samples at `sample_rate`) of `relay` behind `clean`; measured once, then cached."""
        if not self.align:
            return 0
        cached = self.delays.get(relay)
        if cached is not None:
            return cached
        estimate = estimate_delay(
            self.reader.load(clean)[0].numpy(),
            self.reader.load(relay)[0].numpy(),
            self.sample_rate,
            max_delay_seconds=self.max_delay_seconds,
            min_correlation=self.min_correlation,
            name=str(relay),
        )
        self.delays.put(relay, estimate.delay_samples)
        self._unsaved += 1
        if self._unsaved >= 32:
            self.save_delays()
        return estimate.delay_samples

    def save_delays(self) -> None:
        self.delays.save()
        self._unsaved = 0

    def measure_all_delays(self) -> None:
        """Measure every relay's delay now (one pass, then saved) instead of on first read."""
        for _, _, relay, clean in self.items:
            self.delay_of(relay, clean)
        self.save_delays()

    def make_item(self, index: int, epoch: int) -> dict:
        condition, key, relay, clean = self.items[index // self.items_per_file]
        delay = self.delay_of(relay, clean)
        clean_len, relay_len = self.reader.num_samples(clean), self.reader.num_samples(relay)
        if relay_len - delay < clean_len - self.max_mismatch_samples:
            raise ValueError(
                f"VoIPDNSDataset: {relay} ends {(clean_len - relay_len + delay) / self.sample_rate:.2f} s "
                f"before its source {clean} (delay {delay} samples); truncated recording?"
            )
        start, num = 0, clean_len
        if self.segment_samples is not None:
            num = self.segment_samples
            start = int(item_rng(self.seed, index, epoch).integers(0, max(0, clean_len - num) + 1))
        return {
            "noisy": self._read(relay, start + delay, num),
            "clean": self._read(clean, start, num),
            "name": f"{condition}_{key}",
            "condition": condition,
        }

    def _read(self, path: Path, start: int, num: int) -> torch.Tensor:
        """`num` samples from `start` (may be negative or run past the end: zero padding there)."""
        lead = max(0, -start)
        if start >= self.reader.num_samples(path):
            return torch.zeros(1, num)
        wav = self.reader.load(path, max(0, start), max(0, num - lead)) if num - lead > 0 else torch.zeros(1, 0)
        out = torch.zeros(1, num)
        out[:, lead : lead + wav.shape[-1]] = wav[:, : num - lead]
        return out

    def __repr__(self) -> str:
        return (
            f"VoIPDNSDataset({self.split_dir}, conditions={self.conditions}, {len(self.items)} pairs, "
            f"segment_samples={self.segment_samples})"
        )


def delays_summary(dataset: VoIPDNSDataset) -> dict[str, float]:
    """Median measured delay per condition in ms (after `measure_all_delays`), for reports."""
    per_condition: dict[str, list[int]] = {}
    for condition, _, relay, _ in dataset.items:
        delay = dataset.delays.get(relay)
        if delay is not None:
            per_condition.setdefault(condition, []).append(delay)
    return {c: 1000.0 * float(np.median(d)) / dataset.sample_rate for c, d in per_condition.items()}
