"""GTCRN checkpoints (Xiaobin-Rong/gtcrn): ``{epoch, optimizer, model}`` tar files or plain state_dicts.

The released ``model_trained_on_dns3.tar`` / ``model_trained_on_vctk.tar`` hold the state_dict under ``model``
(271 entries, BatchNorm statistics and the two fixed ERB matrices included). Only one configuration was
released, so the config is the default ``GTCRN()``; every key and shape is checked against it before loading,
and a renamed or reshaped key raises ``CheckpointKeyError`` naming the file, the key and the expected shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from voipdns.checkpoint_formats.common import LoadedCheckpoint, check_state_dict, require_state_dict, shapes_of_config
from voipdns.checkpoint_formats.errors import CheckpointFormatError

FORMAT = "gtcrn"
GTCRN_CONFIG = {"_target_": "voipdns.models.gtcrn.GTCRN"}
#: Key prefixes that only GTCRN's layout has together (prefixes, so one renamed key is still reported as such).
_SIGNATURE_PREFIXES = ("erb.", "dpgrnn1.", "encoder.en_convs.")


def _is_trainer_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping)


def _has_gtcrn_keys(state: Any) -> bool:
    if not isinstance(state, Mapping):
        return False
    keys = [str(key) for key in state]
    return all(any(key.startswith(prefix) for key in keys) for prefix in _SIGNATURE_PREFIXES)


def is_gtcrn(obj: Any) -> bool:
    """Sniffer: an official trainer dict or a plain state_dict with GTCRN's keys."""
    return _has_gtcrn_keys(obj["model"] if _is_trainer_dict(obj) else obj)


def infer_gtcrn_config(state: Mapping[str, torch.Tensor], source: str = "a state_dict") -> dict | None:
    """The released GTCRN config for a state_dict with GTCRN's keys (checked key by key), else None."""
    if not _has_gtcrn_keys(state):
        return None
    check_state_dict(source, state, shapes_of_config(GTCRN_CONFIG))
    return dict(GTCRN_CONFIG)


def convert_gtcrn(obj: Any, source: str) -> LoadedCheckpoint:
    """Converter for ``voipdns.checkpoint_formats.FORMATS['gtcrn']``."""
    if _is_trainer_dict(obj):
        state, what = obj["model"], f"{source} ['model']"
    elif isinstance(obj, Mapping):
        state, what = obj, source
    else:
        raise CheckpointFormatError(f"{source}: not a GTCRN checkpoint (got {type(obj).__name__})")
    state = require_state_dict(state, what)
    config = infer_gtcrn_config(state, source)
    if config is None:
        raise CheckpointFormatError(f"{source}: not a GTCRN checkpoint (no keys under {list(_SIGNATURE_PREFIXES)})")
    return LoadedCheckpoint(state, config, FORMAT)
