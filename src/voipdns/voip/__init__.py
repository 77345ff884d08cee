"""VoIP channel simulation: codecs as packet streams, bursty loss, jitter, AGC, platform noise suppression,
the telephone leg, and presets for the eight VoIP-DNS conditions (`channel.make_preset`)."""

from __future__ import annotations

from voipdns.voip.augment import VoIPAugmentedDataset
from voipdns.voip.channel import ChannelSimulator, make_preset
from voipdns.voip.codecs import available_codecs, make_codec
from voipdns.voip.conditions import CONDITIONS, partition_name

__all__ = [
    "CONDITIONS",
    "ChannelSimulator",
    "VoIPAugmentedDataset",
    "available_codecs",
    "make_codec",
    "make_preset",
    "partition_name",
]
