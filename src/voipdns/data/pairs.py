"""`PairedFolderDataset`: noisy/clean file pairs from two folders (VoiceBank-DEMAND, DNS test sets, ...).

Pairing is by identical file name (relative path without extension) or by DNS file id: `clean_fileid_12.wav`
pairs with `book_01234_chp_0012_reader_05678_3_snr5_fileid_12.wav`. Every pair is checked up front from the
headers, so an unpaired file or a length mismatch fails at construction with the paths, not mid-epoch;
`on_bad_pair="skip"` (what voipdns-eval uses) drops such pairs instead and records why in `skipped`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from voipdns.audio import AUDIO_EXTENSIONS, AudioFileError, list_audio_files
from voipdns.data.base import EpochItemDataset
from voipdns.data.epochs import item_rng
from voipdns.data.reader import AudioReader
from voipdns.rates import DEFAULT_SAMPLE_RATE

PAIR_BY = ("name", "fileid")
_FILEID = re.compile(r"fileid_(\d+)(?!.*fileid_\d)")
_MAX_LISTED = 5


def pair_key(path: Path, root: Path, pair_by: str) -> str:
    if pair_by == "name":
        return str(path.relative_to(root).with_suffix(""))
    match = _FILEID.search(path.stem)
    if not match:
        raise ValueError(f"{path}: no 'fileid_<N>' in the name (pair_by='fileid'); use pair_by='name'")
    return f"fileid_{int(match.group(1))}"


def _index(root: Path, extensions: Sequence[str], pair_by: str) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in list_audio_files(root, extensions):
        key = pair_key(path, root, pair_by)
        if key in index:
            raise ValueError(f"{root}: two files share the pairing key {key!r}: {index[key]} and {path}")
        index[key] = path
    return index


def _listing(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:_MAX_LISTED])
    return shown + (f" (+{len(paths) - _MAX_LISTED} more)" if len(paths) > _MAX_LISTED else "")


class PairedFolderDataset(EpochItemDataset):
    """Items `{noisy, clean, name, condition}`; `clean_dir=None` gives noisy-only items (no `clean` key).

    Args:
        pair_by: 'name' or 'fileid'.
        segment_seconds: None = whole clips (validation/test, batch size 1); else aligned random crops of
            that length, zero-padded when a clip is shorter.
        max_mismatch_seconds: pairs whose lengths differ by at most this are cropped to the shorter (with one
            warning); larger mismatches are an error listing the pairs.
        condition: item condition; default the name of the folder above `noisy_dir`
            (`.../no_reverb/noisy` -> 'no_reverb').
        on_bad_pair: 'error' (default) or 'skip': an unpaired file, an unreadable or empty file, or a length
            mismatch is left out and recorded in `skipped` ({file: reason}).
    """

    skip_bad_items_kwargs = {"on_bad_pair": "skip"}  # how a caller that counts bad items builds this dataset

    def __init__(
        self,
        noisy_dir: str | os.PathLike,
        clean_dir: str | os.PathLike | None = None,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        pair_by: str = "name",
        segment_seconds: float | None = None,
        seed: int = 0,
        condition: str | None = None,
        max_mismatch_seconds: float = 0.01,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        on_bad_pair: str = "error",
    ) -> None:
        if on_bad_pair not in ("error", "skip"):
            raise ValueError(f"PairedFolderDataset: on_bad_pair must be 'error' or 'skip', got {on_bad_pair!r}")
        if pair_by not in PAIR_BY:
            raise ValueError(f"PairedFolderDataset: pair_by must be one of {PAIR_BY}, got {pair_by!r}")
        if segment_seconds is not None and segment_seconds <= 0:
            raise ValueError(f"PairedFolderDataset: segment_seconds must be > 0 or None, got {segment_seconds}")
        self.noisy_dir = Path(noisy_dir)
        self.clean_dir = None if clean_dir is None else Path(clean_dir)
        self.sample_rate = int(sample_rate)
        self.segment_seconds = None if segment_seconds is None else float(segment_seconds)
        self.seed = int(seed)
        self.condition = condition or self.noisy_dir.resolve().parent.name
        self.reader = AudioReader(self.sample_rate)
        self.on_bad_pair = on_bad_pair
        self.skipped: dict[str, str] = {}
        noisy = _index(self.noisy_dir, extensions, pair_by)
        if self.clean_dir is None:
            self.pairs: list[tuple[Path, Path | None]] = [(noisy[k], None) for k in sorted(noisy)]
        else:
            self.pairs = self._pair(noisy, _index(self.clean_dir, extensions, pair_by))
            self._check_lengths(max_mismatch_seconds)

    def _pair(self, noisy: dict[str, Path], clean: dict[str, Path]) -> list[tuple[Path, Path | None]]:
        only_noisy = sorted(noisy[k] for k in noisy.keys() - clean.keys())
        only_clean = sorted(clean[k] for k in clean.keys() - noisy.keys())
        if self.on_bad_pair == "skip":
            self.skipped.update({str(p): f"no clean file to pair with in {self.clean_dir}" for p in only_noisy})
            self.skipped.update({str(p): f"no noisy file to pair with in {self.noisy_dir}" for p in only_clean})
            only_noisy = only_clean = []
        if only_noisy or only_clean:
            problems = []
            if only_noisy:
                problems.append(
                    f"{len(only_noisy)} noisy file(s) without clean in {self.clean_dir}: {_listing(only_noisy)}"
                )
            if only_clean:
                problems.append(
                    f"{len(only_clean)} clean file(s) without noisy in {self.noisy_dir}: {_listing(only_clean)}"
                )
            raise ValueError("PairedFolderDataset: unpaired files: " + "; ".join(problems))
        return [(noisy[k], clean[k]) for k in sorted(noisy.keys() & clean.keys())]

    def _check_lengths(self, max_mismatch_seconds: float) -> None:
        small, large, kept = [], [], []
        for noisy, clean in self.pairs:
            try:
                diff = abs(self.reader.num_samples(noisy) - self.reader.num_samples(clean))
            except AudioFileError as error:
                if self.on_bad_pair == "error":
                    raise
                self.skipped[str(noisy)] = error.problem if error.path == str(noisy) else str(error)
                continue
            if diff > max_mismatch_seconds * self.sample_rate and self.on_bad_pair == "skip":
                self.skipped[str(noisy)] = f"length differs from {clean} by {diff} samples (> {max_mismatch_seconds} s)"
                continue
            kept.append((noisy, clean))
            if diff > max_mismatch_seconds * self.sample_rate:
                large.append(f"{noisy} vs {clean} ({diff} samples)")
            elif diff:
                small.append(diff)
        self.pairs = kept
        if large:
            raise ValueError(
                f"PairedFolderDataset: {len(large)} pair(s) differ in length by more than "
                f"{max_mismatch_seconds} s: " + "; ".join(large[:_MAX_LISTED])
            )
        if small:
            warnings.warn(
                f"PairedFolderDataset({self.noisy_dir}): {len(small)} pair(s) differ by up to {max(small)} "
                f"samples; cropping each to the shorter",
                stacklevel=2,
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def make_item(self, index: int, epoch: int) -> dict:
        noisy_path, clean_path = self.pairs[index]
        length = self.reader.num_samples(noisy_path)
        if clean_path is not None:
            length = min(length, self.reader.num_samples(clean_path))
        start, num = 0, length
        if self.segment_seconds is not None:
            num = int(round(self.segment_seconds * self.sample_rate))
            start = int(item_rng(self.seed, index, epoch).integers(0, max(0, length - num) + 1))
        item = {
            "noisy": self._read(noisy_path, start, num, length),
            "name": noisy_path.stem,
            "condition": self.condition,
        }
        if clean_path is not None:
            item["clean"] = self._read(clean_path, start, num, length)
        return item

    def _read(self, path: Path, start: int, num: int, length: int) -> torch.Tensor:
        wav = self.reader.load(path, start, min(num, length - start))
        return torch.nn.functional.pad(wav, (0, num - wav.shape[-1])) if wav.shape[-1] < num else wav

    def __repr__(self) -> str:
        return (
            f"PairedFolderDataset({self.noisy_dir}, {self.clean_dir}, {len(self.pairs)} pairs, "
            f"segment_seconds={self.segment_seconds})"
        )
