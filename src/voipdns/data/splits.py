"""Deterministic train/val(/test) splits of file lists, disjoint by speaker or by file.

The split depends only on the sorted group names and `split_seed`, so the train, val and test datasets (built
separately, each with its own item seed) always agree on it. The groups are shuffled once: the first
`test_fraction` of them are 'test', the next `val_fraction` 'val', the rest 'train' (with no test share, 'val'
is exactly what it was before 'test' existed).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test", "all")
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


def _share(fraction: float, total: int) -> int:
    return max(1, int(round(fraction * total))) if fraction > 0 else 0


def split_groups(
    groups: list[str], val_fraction: float, split_seed: int, what: str, test_fraction: float = 0.0
) -> dict[str, set[str]]:
    """``{"val": ..., "test": ...}`` subsets of the distinct `groups` (each round(fraction * n), at least 1 when
    asked for); at least one group is left for training."""
    distinct = sorted(set(groups))
    n_test = _share(test_fraction, len(distinct))
    n_val = _share(val_fraction, len(distinct))
    if len(distinct) < 1 + n_test + max(n_val, 1):
        raise ValueError(
            f"cannot split {what} into train, val{' and test' if n_test else ''}: only {len(distinct)} distinct "
            f"{'group' if len(distinct) == 1 else 'groups'} ({distinct[:10]}); add files or use split='all'"
        )
    order = [distinct[i] for i in np.random.default_rng(split_seed).permutation(len(distinct))]
    return {"test": set(order[:n_test]), "val": set(order[n_test : n_test + max(n_val, 1)])}


def select_split(
    files: list[Path],
    groups: list[str],
    split: str,
    val_fraction: float,
    split_seed: int,
    what: str,
    test_fraction: float = 0.0,
) -> list[Path]:
    """Files of `split` ('train', 'val', 'test' or 'all') given one group name per file."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        return list(files)
    if not 0.0 < val_fraction < 1.0 or not 0.0 <= test_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"to split {what}, val_fraction must be in (0, 1) and test_fraction in [0, 1) with a sum < 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    if split == "test" and test_fraction == 0.0:
        raise ValueError(f"split='test' of {what} needs test_fraction > 0")
    held_out = split_groups(groups, val_fraction, split_seed, what, test_fraction)
    if split == "train":
        return [f for f, g in zip(files, groups, strict=True) if g not in held_out["val"] | held_out["test"]]
    return [f for f, g in zip(files, groups, strict=True) if g in held_out[split]]
