"""Per-item random generators that depend on (seed, epoch, index) only, never on worker or order.

Training datasets that draw a new crop/SNR every epoch set `accepts_epoch_index = True`; the DataModule then
feeds them `(epoch, index)` tuples from `EpochIndexSampler` (Lightning calls `set_epoch` on it every epoch,
also through its DDP wrapper), so epoch 3 of a run is the same on 1 or 8 workers and after a resume. A plain
int index means epoch 0, which keeps `dataset[i]` deterministic for validation, tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from voipdns.data.resumable import EpochSeededSampler


def split_index(index: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """`index` or `(epoch, index)` -> `(epoch, index)`."""
    if isinstance(index, (tuple, list)):
        epoch, item = index
        return int(epoch), int(item)
    return 0, int(index)


def item_rng(seed: int, index: int, epoch: int = 0) -> np.random.Generator:
    """The generator of one item. Epoch 0 gives the same stream as a plain index."""
    key = [int(seed) & 0xFFFFFFFF, int(index)] + ([int(epoch)] if epoch else [])
    return np.random.default_rng(key)


def check_index(index: int, length: int, name: str) -> int:
    if not 0 <= index < length:
        raise IndexError(f"{name}: index {index} out of range for {length} items")
    return index


class EpochIndexSampler(EpochSeededSampler):
    """`EpochSeededSampler` (seed + epoch permutation, resumable) that yields `(epoch, index)` tuples."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch
        return ((epoch, index) for index in super().__iter__())
