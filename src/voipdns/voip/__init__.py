"""VoIP channel simulation: codecs as packet streams, bursty loss, jitter, AGC, platform noise suppression,
the telephone leg, and presets for the eight VoIP-DNS conditions (`channel.make_preset`)."""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use: importing the package must not load torch and FFmpeg with the simulator.
# The condition vocabulary the simulator, datasets and reports share is the ground-floor voipdns.conditions.
_EXPORTS = {
    "ChannelSimulator": "channel",
    "make_preset": "channel",
    "VoIPAugmentedDataset": "augment",
    "available_codecs": "codecs",
    "make_codec": "codecs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'voipdns.voip' has no attribute {name!r}")
    return getattr(importlib.import_module(f"voipdns.voip.{_EXPORTS[name]}"), name)
