"""Checkpoint formats: a table from format name to a converter ``(object, source) -> LoadedCheckpoint``.

To support a new format (e.g. FullSubNet's ``{epoch, best_score, optimizer, scaler, model}``), write a
converter module here, add it to ``FORMATS`` (and to ``SNIFFERS`` so plain paths are recognised), and if its
plain state_dicts can be recognised by their keys, add a config inferer to ``CONFIG_INFERERS``. The registry
names the format of each downloadable file, so registry entries skip sniffing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from voipdns.checkpoint_formats.common import LoadedCheckpoint, require_state_dict
from voipdns.checkpoint_formats.demucs import (
    convert_best,
    convert_checkpoint,
    infer_demucs_config,
    is_best,
    is_checkpoint,
)
from voipdns.checkpoint_formats.errors import CheckpointFormatError
from voipdns.checkpoint_formats.fullsubnet import convert_fullsubnet, infer_fullsubnet_config, is_fullsubnet
from voipdns.checkpoint_formats.gtcrn import convert_gtcrn, infer_gtcrn_config, is_gtcrn
from voipdns.checkpoint_formats.lightning import convert_lightning, is_lightning

Converter = Callable[[Any, str], LoadedCheckpoint]


def convert_state_dict(obj: Any, source: str) -> LoadedCheckpoint:
    """A plain ``{name: tensor}`` (the official hub files); the net config comes from elsewhere."""
    return LoadedCheckpoint(require_state_dict(obj, source), None, "state_dict")


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(torch.is_tensor(v) for v in obj.values())


FORMATS: dict[str, Converter] = {
    "state_dict": convert_state_dict,
    "demucs_best": convert_best,
    "demucs_checkpoint": convert_checkpoint,
    "lightning": convert_lightning,
    "fullsubnet": convert_fullsubnet,
    "gtcrn": convert_gtcrn,
}

#: Checked in order; the first predicate that holds names the format.
SNIFFERS: list[tuple[str, Callable[[Any], bool]]] = [
    ("lightning", is_lightning),
    ("demucs_checkpoint", is_checkpoint),
    ("demucs_best", is_best),
    ("fullsubnet", is_fullsubnet),  # before state_dict: plain FullSubNet state_dicts are recognised by keys
    ("gtcrn", is_gtcrn),
    ("state_dict", is_state_dict),
]

#: Each ``(state, source)`` returns a net config for a plain state_dict whose keys it recognises, else None;
#: it checks the keys with ``common.check_state_dict(source, ...)`` before reading sizes from them.
CONFIG_INFERERS: list[Callable[[dict[str, torch.Tensor], str], dict | None]] = [
    infer_demucs_config,
    infer_fullsubnet_config,
    infer_gtcrn_config,
]


def detect_format(obj: Any, source: str) -> str:
    for name, matches in SNIFFERS:
        if matches(obj):
            return name
    keys = sorted(map(str, obj))[:12] if isinstance(obj, Mapping) else None
    raise CheckpointFormatError(
        f"{source}: unrecognised checkpoint ({type(obj).__name__}, keys {keys}); known formats: {sorted(FORMATS)}"
    )


def convert(obj: Any, fmt: str | None, source: str) -> LoadedCheckpoint:
    """Convert with the named format, or the detected one when ``fmt`` is None."""
    fmt = fmt or detect_format(obj, source)
    if fmt not in FORMATS:
        raise CheckpointFormatError(f"{source}: unknown checkpoint format '{fmt}'; known: {sorted(FORMATS)}")
    return FORMATS[fmt](obj, source)


def infer_net_config(state: dict[str, torch.Tensor], source: str = "a state_dict") -> dict | None:
    """The net config of a plain state_dict read from ``source`` (named in errors), or None if unrecognised."""
    for infer in CONFIG_INFERERS:
        config = infer(state, source)
        if config is not None:
            return config
    return None


__all__ = ["FORMATS", "SNIFFERS", "CONFIG_INFERERS", "LoadedCheckpoint", "convert", "detect_format"]
