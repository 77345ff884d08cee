"""VoIP-DNS conditions (platform x receiver x platform denoising) and display names for report tables.

A condition like ``gm_cloud_low`` (also ``src_gm_cloud_relay_low`` or ``nrm_zm_phone_relay_auto``, the
dataset's partition names) is Google Meet, received on a cloud recorder, with the platform's noise
suppression set to low. Other conditions (``synthetic``, ``no_reverb``) are shown by name after these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PLATFORMS = {"gm": "Google Meet", "zm": "Zoom"}
RECEIVERS = {"cloud": "cloud", "phone": "phone"}
DENOISING = ("low", "auto")
# The seed paper's Table I row order: platform, then receiver, then denoising level.
VOIP_CONDITIONS = tuple(f"{p}_{r}_{d}" for p in PLATFORMS for r in RECEIVERS for d in DENOISING)
ALL_CONDITIONS = "all"

_PATTERN = re.compile(r"(?:^|_)(gm|zm)_(cloud|phone)_(?:relay_)?(low|auto)(?:_|$)")

METRIC_LABELS = {
    "pesq_wb": "PESQ",
    "pesq_nb": "PESQ-NB",
    "stoi": "STOI",
    "estoi": "ESTOI",
    "si_sdr": "SI-SDR",
    "dnsmos_sig": "DNSMOS SIG",
    "dnsmos_bak": "DNSMOS BAK",
    "dnsmos_ovrl": "DNSMOS OVRL",
    "dnsmos_p808": "DNSMOS P.808",
    "pdnsmos_sig": "pDNSMOS SIG",
    "pdnsmos_bak": "pDNSMOS BAK",
    "pdnsmos_ovrl": "pDNSMOS OVRL",
    "plcmos": "PLCMOS",
}


@dataclass(frozen=True)
class VoipCondition:
    platform: str  # "gm" | "zm"
    receiver: str  # "cloud" | "phone"
    denoising: str  # "low" | "auto"

    @property
    def key(self) -> str:
        return f"{self.platform}_{self.receiver}_{self.denoising}"


def parse_condition(condition: str) -> VoipCondition | None:
    """The VoIP condition named by ``condition`` (partition names accepted), or None for other conditions."""
    match = _PATTERN.search(condition)
    return VoipCondition(*match.groups()) if match else None


def condition_sort_key(condition: str) -> tuple[int, int, str]:
    """Table I order for VoIP conditions, then other conditions by name, then ``all`` last."""
    if condition == ALL_CONDITIONS:
        return (2, 0, "")
    parsed = parse_condition(condition)
    if parsed is not None:
        return (0, VOIP_CONDITIONS.index(parsed.key), condition)
    return (1, 0, condition)


def ordered_conditions(conditions: Iterable[str]) -> list[str]:
    return sorted(set(conditions), key=condition_sort_key)


def condition_cells(condition: str) -> tuple[str, str, str]:
    """(Platform, Receiver, Denoising) cells of a table row; other conditions fill the first cell only."""
    if condition == ALL_CONDITIONS:
        return ("All", "", "")
    parsed = parse_condition(condition)
    if parsed is None:
        return (condition or "(none)", "", "")
    return (PLATFORMS[parsed.platform], RECEIVERS[parsed.receiver], parsed.denoising)


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)
