"""Checks of a composed training config, run before anything is built: each names the keys to fix."""

from __future__ import annotations

from omegaconf import DictConfig


class TrainConfigError(ValueError):
    """A training config that cannot train; the message names the keys and how to fix them."""


def check_loss_chosen(cfg: DictConfig) -> None:
    if cfg.get("loss") is None:
        raise TrainConfigError(
            "loss is empty: the net config names no base loss; add `defaults: [override /loss@_global_.loss: "
            "<name>]` to conf/net/<net>.yaml or pass loss=<name> (conf/loss/)"
        )


def check_sample_rates(cfg: DictConfig) -> None:
    """``net.sample_rate`` and ``data.sample_rate`` are separate keys; training at a rate the net was not
    built for would go unnoticed until evaluation, so it is refused here (datasets resample on load)."""
    net_rate = (cfg.get("net") or {}).get("sample_rate")
    data_rate = (cfg.get("data") or {}).get("sample_rate")
    if net_rate is not None and data_rate is not None and int(net_rate) != int(data_rate):
        raise TrainConfigError(
            f"net.sample_rate={net_rate} but data.sample_rate={data_rate}: set both to the same rate "
            f"(e.g. data.sample_rate={net_rate}; datasets resample on load)"
        )


def check_train_config(cfg: DictConfig) -> None:
    check_loss_chosen(cfg)
    check_sample_rates(cfg)
