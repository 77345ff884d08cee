"""On-the-fly VoIP channel augmentation for training: wrap any dataset of ``{noisy, clean, ...}`` items.

With probability `probability` an item's ``noisy`` is sent through the channel of a condition drawn with
`condition_weights` (the VoIP-DNS presets, `channel.make_preset`, or simulators you pass); its ``condition``
becomes that condition. Or give each condition its own probability (`condition_probabilities`, summing to
at most 1; the rest of the items stay untouched). The channel keeps length and alignment, so ``clean``
stays the target. Draws depend on (seed, epoch, index) only, like the wrapped datasets: identical across
workers and after a resume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from voipdns.conditions import CONDITIONS, parse_condition
from voipdns.data.epochs import item_rng, split_index
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.voip.channel import ChannelSimulator, make_preset


def preset_channel(channels: dict[str, Any], condition: str, sample_rate: int) -> ChannelSimulator:
    """``channels[condition]``, building the preset on first use (simulators are built per worker process)."""
    if condition not in channels:
        channels[condition] = make_preset(condition, sample_rate=sample_rate)
    return channels[condition]


def relay_item(item: dict, channel: ChannelSimulator, condition: str, seed: int) -> dict:
    """``item`` with its ``noisy`` sent through ``channel`` (same length and alignment) and ``condition`` set."""
    noisy = item["noisy"]
    relayed = channel(noisy, seed=seed)
    item["noisy"] = torch.from_numpy(relayed).reshape(noisy.shape).to(noisy.dtype)
    item["condition"] = condition
    return item


class VoIPAugmentedDataset(Dataset):
    """Args:
    dataset: the wrapped dataset (its `sample_rate` is used).
    probability: share of items sent through a channel.
    condition_weights: {condition: weight} or a list of conditions (equal weights); default all eight.
    channels: {condition: ChannelSimulator} to use instead of the presets (Hydra can build them).
    seed: seed of the draws.
    """

    def __init__(
        self,
        dataset: Dataset,
        probability: float = 0.5,
        condition_weights: Mapping[str, float] | Sequence[str] | None = None,
        channels: Mapping[str, ChannelSimulator] | None = None,
        seed: int = 0,
        condition_probabilities: Mapping[str, float] | None = None,
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"VoIPAugmentedDataset: probability must be in [0, 1], got {probability}")
        if condition_probabilities is not None:
            probabilities = {str(c): float(p) for c, p in condition_probabilities.items()}
            if any(p < 0 for p in probabilities.values()) or sum(probabilities.values()) > 1.0 + 1e-9:
                raise ValueError(
                    f"VoIPAugmentedDataset: condition_probabilities must be >= 0 and sum to <= 1, got {probabilities}"
                )
            probability, condition_weights = sum(probabilities.values()), probabilities
        self.dataset, self.probability, self.seed = dataset, float(probability), int(seed)
        self.sample_rate = int(getattr(dataset, "sample_rate", DEFAULT_SAMPLE_RATE))
        weights = self._weights(condition_weights, channels)
        self.conditions = list(weights)
        total = sum(weights.values())
        if total <= 0:
            raise ValueError(f"VoIPAugmentedDataset: condition weights must sum to > 0, got {weights}")
        self.weights = np.array([weights[c] / total for c in self.conditions])
        self.channels: dict[str, Any] = dict(channels or {})
        for condition in self.conditions:
            if condition not in self.channels:
                parse_condition(condition)  # an unknown name fails here, not in a DataLoader worker
        self.accepts_epoch_index = bool(getattr(dataset, "accepts_epoch_index", False))

    @staticmethod
    def _weights(condition_weights, channels) -> dict[str, float]:
        if condition_weights is None:
            return {c: 1.0 for c in (channels or CONDITIONS)}
        if isinstance(condition_weights, Mapping):
            return {str(c): float(w) for c, w in condition_weights.items()}
        return {str(c): 1.0 for c in condition_weights}

    def channel(self, condition: str) -> ChannelSimulator:
        """The simulator of `condition` (built on first use in each worker process)."""
        return preset_channel(self.channels, condition, self.sample_rate)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        epoch, item_index = split_index(index)
        item = dict(self.dataset[index])
        rng = item_rng(self.seed + 7919, item_index, epoch)  # offset: independent of the wrapped draws
        if rng.random() >= self.probability:
            return item
        condition = self.conditions[int(rng.choice(len(self.conditions), p=self.weights))]
        return relay_item(item, self.channel(condition), condition, seed=int(rng.integers(2**31)))

    def __repr__(self) -> str:
        return f"VoIPAugmentedDataset({self.dataset!r}, probability={self.probability}, conditions={self.conditions})"
