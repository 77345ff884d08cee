"""Deterministic train/val splits of file lists, disjoint by speaker or by file.

The split depends only on the sorted group names and `split_seed`, so the train and the val dataset (built
separately, each with its own item seed) always agree on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "all")
SPEAKER_FROM = ("librispeech_name", "parent_dir", "file")
_LIBRISPEECH_NAME = re.compile(r"^([^-_]+)-[^-]+-")


def speaker_of(path: Path, root: Path, speaker_from: str) -> str:
    """The speaker id of `path`: the first `-` field of `speaker-chapter-utt` names, the first folder under
    `root` (`root/<speaker>/.../file`), or the file itself."""
    if speaker_from == "librispeech_name":
        match = _LIBRISPEECH_NAME.match(path.stem)
        if not match:
            raise ValueError(
                f"{path}: name is not LibriSpeech-style 'speaker-chapter-utt'; "
                f"set speaker_from to 'parent_dir' (one folder per speaker) or 'file'"
            )
        return match.group(1)
    if speaker_from == "parent_dir":
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            raise ValueError(
                f"{path}: speaker_from='parent_dir' needs one folder per speaker under {root}; "
                f"set speaker_from to 'librispeech_name' or 'file'"
            )
        return parts[0]
    if speaker_from == "file":
        return str(path.relative_to(root))
    raise ValueError(f"speaker_from must be one of {SPEAKER_FROM}, got {speaker_from!r}")


def split_groups(groups: list[str], val_fraction: float, split_seed: int, what: str) -> set[str]:
    """The validation subset of the distinct `groups`: round(val_fraction * n), at least 1, at most n - 1."""
    distinct = sorted(set(groups))
    if len(distinct) < 2:
        raise ValueError(
            f"cannot split {what} into train and val: only {len(distinct)} distinct "
            f"{'group' if len(distinct) == 1 else 'groups'} ({distinct}); add files or use split='all'"
        )
    n_val = min(len(distinct) - 1, max(1, int(round(val_fraction * len(distinct)))))
    order = np.random.default_rng(split_seed).permutation(len(distinct))
    return {distinct[i] for i in order[:n_val]}


def select_split(
    files: list[Path],
    groups: list[str],
    split: str,
    val_fraction: float,
    split_seed: int,
    what: str,
) -> list[Path]:
    """Files of `split` ('train', 'val' or 'all') given one group name per file."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        return list(files)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1) to split {what}, got {val_fraction}")
    val_groups = split_groups(groups, val_fraction, split_seed, what)
    keep_val = split == "val"
    return [f for f, g in zip(files, groups, strict=True) if (g in val_groups) == keep_val]
