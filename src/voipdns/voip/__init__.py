"""VoIP channel simulation: codecs as packet streams, bursty loss, jitter, AGC, platform noise suppression,
the telephone leg, and presets for the eight VoIP-DNS conditions (`channel.make_preset`)."""

from __future__ import annotations

from voipdns.lazy_exports import lazy_getattr

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

__getattr__ = lazy_getattr(__name__, _EXPORTS)
