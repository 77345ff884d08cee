"""One owner per setting: a net's config names its base loss, one mu feeds every VAD-weighted term, and
training refuses a net and data at different sample rates before building anything."""

from __future__ import annotations

import hydra
import pytest
from omegaconf import open_dict

from hydra_helpers import compose_config
from voipdns.cli.train import train
from voipdns.tasks.config_checks import TrainConfigError, check_train_config


@pytest.mark.parametrize(
    ("net", "loss"),
    [("demucs", "demucs"), ("fullsubnet", "fullsubnet"), ("upn", "vad_weighted"), ("percepnet", "percepnet")],
)
def test_a_net_trains_with_its_own_base_loss_unless_loss_is_given(net, loss, tmp_path):
    own = compose_config("train", [f"net={net}"], tmp_path)
    named = compose_config("train", [f"net={net}", f"loss={loss}"], tmp_path)
    assert own.loss == named.loss
    chosen = compose_config("train", [f"net={net}", "loss=unet"], tmp_path)
    assert chosen.loss == compose_config("train", ["loss=unet"], tmp_path).loss


def test_an_experiment_still_picks_its_loss(tmp_path):
    cfg = compose_config("train", ["experiment=voipdns_fullsubnet_tap", "data.train.root=/x"], tmp_path)
    assert "tap" in cfg.loss.terms


def test_one_mu_feeds_every_vad_weighted_term(tmp_path):
    cfg = compose_config("train", ["loss=vad_weighted", "loss.shared.mu=0.7"], tmp_path)
    loss = hydra.utils.instantiate(cfg.loss)
    assert loss.terms["gain"].mu == loss.terms["strength"].mu == 0.7


def test_training_refuses_net_and_data_at_different_rates(tmp_path):
    cfg = compose_config("train", ["data.sample_rate=8000"], tmp_path)
    with pytest.raises(TrainConfigError, match=r"net.sample_rate=16000 but data.sample_rate=8000"):
        train(cfg)
    assert not (tmp_path / ".hydra").exists() and not list(tmp_path.glob("*.json"))  # refused before any work


def test_training_without_a_loss_says_where_to_name_one(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    with open_dict(cfg):
        del cfg["loss"]
    with pytest.raises(TrainConfigError, match=r"conf/net/<net>.yaml or pass loss=<name>"):
        check_train_config(cfg)
