"""RelayedTestSet: every clip through every condition, deterministic, unique names; the voip_relays config."""

from __future__ import annotations

import pytest
import torch

from voipdns.data.synthetic import SyntheticSpeechDataset
from voipdns.voip.relayed_sets import RelayedTestSet


def _clips(num_items: int = 2) -> SyntheticSpeechDataset:
    return SyntheticSpeechDataset(num_items=num_items, segment_seconds=0.5, seed=5, noise_types=["pink"])


def test_every_clip_through_every_condition_with_unique_names():
    conditions = ["gm_cloud_low", "zm_cloud_auto"]
    relays = RelayedTestSet([_clips(2), _clips(1)], conditions, seed=1, include_direct=True)
    assert len(relays) == 3 * 3
    items = [relays[i] for i in range(len(relays))]
    assert [item["condition"] for item in items[:3]] == ["gm_cloud_low", "zm_cloud_auto", "pink"]
    assert len({item["name"] for item in items}) == len(items)
    direct, relayed = items[2], items[0]
    assert torch.equal(direct["clean"], relayed["clean"]) and not torch.equal(direct["noisy"], relayed["noisy"])
    assert relayed["noisy"].shape == relayed["clean"].shape and torch.isfinite(relayed["noisy"]).all()


def test_relays_are_the_same_on_every_read():
    relays = RelayedTestSet([_clips(1)], ["zm_cloud_low"], seed=2)
    assert torch.equal(relays[0]["noisy"], RelayedTestSet([_clips(1)], ["zm_cloud_low"], seed=2)[0]["noisy"])
    assert not torch.equal(relays[0]["noisy"], RelayedTestSet([_clips(1)], ["zm_cloud_low"], seed=3)[0]["noisy"])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="at least one dataset and one condition"):
        RelayedTestSet([], ["gm_cloud_low"])
    with pytest.raises(ValueError, match="xx_cloud_low"):
        RelayedTestSet([_clips(1)], ["xx_cloud_low"])
    with pytest.raises(IndexError):
        RelayedTestSet([_clips(1)], ["gm_cloud_low"])[1]


def test_voip_relays_splits_speakers_and_noise_three_ways(project_root, shared_data):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from voipdns.config import register_resolvers

    register_resolvers()
    config = OmegaConf.load(project_root / "conf" / "data" / "voip_relays.yaml")
    config = OmegaConf.merge({"paths": {"shared_data_dir": str(shared_data)}}, {"data": config}).data
    train, val = instantiate(config.train.dataset), instantiate(config.val.dataset)
    test = instantiate(config.test.datasets[0])
    speakers = [{path.name.split("-")[0] for path in part.speech_files} for part in (train, val, test)]
    noises = [set(part.noise_files) for part in (train, val, test)]
    for first, second in ((0, 1), (0, 2), (1, 2)):
        assert speakers[first].isdisjoint(speakers[second]) and noises[first].isdisjoint(noises[second])
    assert (len(speakers[1]), len(speakers[2])) == (10, 15)
