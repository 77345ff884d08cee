"""FullSubNet checkpoints (Audio-WestlakeU/FullSubNet, a.k.a. haoxiangsnr/FullSubNet).

The official trainer saves ``{epoch, best_score, optimizer, scaler, model}`` (``*.tar`` files written with
``torch.save``); ``model`` is the state_dict, prefixed ``module.`` when training ran under DDP. Plain
state_dicts (with or without the prefix) are accepted too. The upstream ``preload`` used ``strict=False`` on
a DDP-wrapped model and so silently loaded nothing; here the keys are only renamed, and the caller's strict
load (``voipdns.pretrained.load_state_strict``) fails with the list of missing / unexpected keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from voipdns.checkpoint_formats.common import (
    ANY_SIZE,
    LoadedCheckpoint,
    check_state_dict,
    require_state_dict,
    shapes_of_config,
)
from voipdns.checkpoint_formats.errors import CheckpointFormatError

FORMAT = "fullsubnet"
FULLSUBNET_TARGET = "voipdns.models.fullsubnet.FullSubNet"
DDP_PREFIX = "module."
TRAINER_KEYS = ("epoch", "best_score", "optimizer", "scaler", "model")
_KEY_PREFIXES = ("fb_model.", "sb_model.")
_FB_WEIGHT = "fb_model.sequence_model.weight_ih_l0"
_SB_WEIGHT = "sb_model.sequence_model.weight_ih_l0"


def strip_ddp_prefix(state: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Remove a leading ``module.`` from every key that has one; two keys colliding is an error."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new_key = key.removeprefix(DDP_PREFIX)
        if new_key in renamed:
            raise CheckpointFormatError(f"{source}: keys '{key}' and '{new_key}' both exist after removing 'module.'")
        renamed[new_key] = value
    return renamed


def _is_trainer_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "model" in obj and "epoch" in obj and isinstance(obj["model"], Mapping)


def _has_fullsubnet_keys(state: Any) -> bool:
    if not isinstance(state, Mapping) or not state:
        return False
    keys = [str(key).removeprefix(DDP_PREFIX) for key in state]
    return _FB_WEIGHT in keys and _SB_WEIGHT in keys and all(key.startswith(_KEY_PREFIXES) for key in keys)


def is_fullsubnet(obj: Any) -> bool:
    """Sniffer: an official trainer dict or a plain state_dict whose keys are FullSubNet's."""
    return _has_fullsubnet_keys(obj["model"] if _is_trainer_dict(obj) else obj)


def fullsubnet_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The model state_dict of an official checkpoint object (trainer dict or plain), ``module.`` removed."""
    if _is_trainer_dict(obj):
        state, what = obj["model"], f"{source} ['model']"
    elif isinstance(obj, Mapping) and all(torch.is_tensor(value) for value in obj.values()):
        state, what = obj, source
    else:
        keys = sorted(map(str, obj))[:12] if isinstance(obj, Mapping) else None
        raise CheckpointFormatError(
            f"{source}: not a FullSubNet checkpoint (expected a state_dict or a dict with "
            f"{list(TRAINER_KEYS)}; "
            f"got {type(obj).__name__} with keys {keys})"
        )
    return strip_ddp_prefix(require_state_dict(state, what), what)


def _lstm_layers(state: Mapping[str, torch.Tensor]) -> int:
    """LSTM layers, from the largest ``_lN`` suffix of any sequence-model key."""
    suffixes = [key.rsplit("_l", 1)[-1] for key in state if ".sequence_model." in key and "_l" in key]
    return 1 + max((int(suffix) for suffix in suffixes if suffix.isdigit()), default=0)


def fullsubnet_layout(layers: int) -> dict[str, tuple[int, ...]]:
    """Every key of a FullSubNet state_dict with its number of dimensions (sizes are ``ANY_SIZE``)."""
    layout: dict[str, tuple[int, ...]] = {}
    for part in ("fb_model", "sb_model"):
        for layer in range(layers):
            layout |= {f"{part}.sequence_model.weight_{g}_l{layer}": (ANY_SIZE, ANY_SIZE) for g in ("ih", "hh")}
            layout |= {f"{part}.sequence_model.bias_{g}_l{layer}": (ANY_SIZE,) for g in ("ih", "hh")}
        layout |= {f"{part}.fc_output_layer.weight": (ANY_SIZE, ANY_SIZE), f"{part}.fc_output_layer.bias": (ANY_SIZE,)}
    return layout


def infer_fullsubnet_config(state: Mapping[str, torch.Tensor], source: str = "a state_dict") -> dict | None:
    """FullSubNet config from the weight shapes, or None if the keys are not FullSubNet's.

    Shapes give the STFT size, hidden sizes, layers and neighbour counts. The normalisation leaves no trace
    in the weights: this returns the released 58-epoch model's ``offline_laplace``; pass a net config for the
    "cumulative" release (``cumulative_laplace`` for both parts). The keys are checked first (every key, its
    rank) and the inferred config's shapes after, so a renamed or reshaped key raises ``CheckpointKeyError``
    naming ``source``.
    """
    state = {key.removeprefix(DDP_PREFIX): value for key, value in state.items()}
    if not _has_fullsubnet_keys(state):
        return None
    layers = _lstm_layers(state)
    check_state_dict(source, state, fullsubnet_layout(layers))
    num_freqs = state["fb_model.fc_output_layer.weight"].shape[0]
    fb_hidden = state["fb_model.sequence_model.weight_hh_l0"].shape[1]
    sb_hidden = state["sb_model.sequence_model.weight_hh_l0"].shape[1]
    sb_features = state[_SB_WEIGHT].shape[1]
    n_fft = 2 * (num_freqs - 1)
    fb_neighbours = 0  # the released models; sb_features = (2 sb + 1) + (2 fb + 1)
    sb_neighbours = (sb_features - (2 * fb_neighbours + 1) - 1) // 2
    config = {
        "_target_": FULLSUBNET_TARGET,
        "n_fft": n_fft,
        "hop_samples": n_fft // 2,
        "win_samples": n_fft,
        "fb_num_neighbors": fb_neighbours,
        "sb_num_neighbors": sb_neighbours,
        "fb_hidden_size": int(fb_hidden),
        "sb_hidden_size": int(sb_hidden),
        "num_layers": layers,
        "fb_norm": "offline_laplace",
        "sb_norm": "offline_laplace",
    }
    check_state_dict(source, state, shapes_of_config(config))
    return config


def convert_fullsubnet(obj: Any, source: str) -> LoadedCheckpoint:
    """Converter for ``voipdns.checkpoint_formats.FORMATS['fullsubnet']``."""
    state = fullsubnet_state_dict(obj, source)
    return LoadedCheckpoint(state, infer_fullsubnet_config(state, source), FORMAT)
