"""voipdns Lightning checkpoints: ``hyper_parameters["net"]`` is the net's config, weights are ``net.*``."""

from __future__ import annotations

from typing import Any

from voipdns.checkpoint_formats.common import (
    LoadedCheckpoint,
    as_plain_mapping,
    require_keys,
    require_state_dict,
)
from voipdns.checkpoint_formats.errors import CheckpointFormatError

NET_PREFIX = "net."


def is_lightning(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and "state_dict" in obj
        and ("hyper_parameters" in obj or "pytorch-lightning_version" in obj)
    )


def convert_lightning(obj: Any, source: str) -> LoadedCheckpoint:
    """Keep only the net's weights (the loss may hold frozen helpers such as the TAP estimator)."""
    require_keys(obj, ("state_dict",), source)
    state = require_state_dict(obj["state_dict"], f"{source} ['state_dict']")
    net_state = {key[len(NET_PREFIX) :]: value for key, value in state.items() if key.startswith(NET_PREFIX)}
    if not net_state:
        prefixes = sorted({key.split(".", 1)[0] for key in state})
        raise CheckpointFormatError(f"{source}: no '{NET_PREFIX}*' weights in state_dict (prefixes: {prefixes})")
    hparams = as_plain_mapping(obj.get("hyper_parameters") or {}, f"{source} ['hyper_parameters']")
    config = hparams.get("net")
    if config is not None:
        config = as_plain_mapping(config, f"{source} hyper_parameters['net']")
        if "_target_" not in config:
            raise CheckpointFormatError(f"{source}: hyper_parameters['net'] has no '_target_'")
    return LoadedCheckpoint(net_state, config, "lightning")
