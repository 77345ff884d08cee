"""A test set where every clip of the wrapped datasets goes through every relay condition.

Item ``i`` is clip ``i // len(conditions)`` (counted across the datasets in order) through condition
``i % len(conditions)``; the channel's seed depends only on (``seed``, condition, clip), so every evaluation of
the set sees the very same relays. Names are ``<condition>/<clip name>``: unique per item, so per-file score
files and resumed evaluations never mix two relays of one clip.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from torch.utils.data import Dataset

from voipdns.conditions import parse_condition
from voipdns.voip.augment import preset_channel, relay_item
from voipdns.voip.channel import ChannelSimulator


class RelayedTestSet(Dataset):
    """Args:
    datasets: datasets of ``{noisy, clean, name, ...}`` items (same sample rate).
    conditions: relay conditions (VoIP-DNS preset names); each clip is relayed through all of them.
    seed: seed of the channel draws.
    include_direct: also yield each clip un-relayed, with its own condition (the direct path).
    """

    def __init__(
        self, datasets: Sequence[Dataset], conditions: Sequence[str], seed: int = 0, include_direct: bool = False
    ):
        if not datasets or not conditions:
            raise ValueError("RelayedTestSet needs at least one dataset and one condition")
        for condition in conditions:
            parse_condition(condition)  # an unknown name fails here, not in a worker
        self.datasets, self.seed = list(datasets), int(seed)
        self.conditions = [*conditions, *([None] if include_direct else [])]
        self.sample_rate = int(getattr(self.datasets[0], "sample_rate", 16000))
        self.offsets = [0]
        for dataset in self.datasets:
            self.offsets.append(self.offsets[-1] + len(dataset))  # type: ignore[arg-type]
        self._channels: dict[str, ChannelSimulator] = {}

    def __len__(self) -> int:
        return self.offsets[-1] * len(self.conditions)

    def _clip(self, clip: int) -> dict:
        for number, dataset in enumerate(self.datasets):
            if clip < self.offsets[number + 1]:
                item = dict(dataset[clip - self.offsets[number]])
                if len(self.datasets) > 1:  # two datasets may name their clips alike
                    item["name"] = f"{number}_{item['name']}"
                return item
        raise IndexError(clip)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"RelayedTestSet: index {index} out of range ({len(self)} items)")
        clip, condition = divmod(index, len(self.conditions))
        item = self._clip(clip)
        condition = self.conditions[condition]
        if condition is None:
            return item
        seed = zlib.crc32(f"{self.seed}/{condition}/{clip}".encode())
        item = relay_item(item, preset_channel(self._channels, condition, self.sample_rate), condition, seed)
        item["name"] = f"{condition}/{item['name']}"
        return item
