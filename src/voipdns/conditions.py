"""The one vocabulary of VoIP-DNS conditions: platforms, receivers, settings, the condition list, the
partition (folder) names of the released dataset, and parsing.

A condition is ``<platform>_<receiver>_<setting>``: platform ``gm`` (Google Meet) or ``zm`` (Zoom), receiver
``cloud`` (a cloud recorder) or ``phone`` (a telephone dial-in), platform noise suppression ``low`` or
``auto``. Its partition folder is ``src_<platform>_<receiver>_relay_<setting>`` and the peak-normalised copy
``nrm_...``; the sources are ``src_clean`` / ``src_noisy`` (``nrm_clean`` / ``nrm_noisy``).

Ground floor: this module imports nothing from voipdns, so the simulator, the datasets and the reports all
take the names from here (reports add only display labels, in ``voipdns.reports.conditions``).
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

PLATFORMS = ("gm", "zm")
RECEIVERS = ("cloud", "phone")
SETTINGS = ("low", "auto")
# The seed paper's Table I order: platform, then receiver, then setting.
CONDITIONS: tuple[str, ...] = tuple("_".join(c) for c in itertools.product(PLATFORMS, RECEIVERS, SETTINGS))
SOURCES = ("clean", "noisy")

# A condition inside a longer name: ``gm_cloud_low``, ``src_gm_cloud_relay_low``, ``nrm_zm_phone_relay_auto``.
_EMBEDDED = re.compile(
    rf"(?:^|_)({'|'.join(PLATFORMS)})_({'|'.join(RECEIVERS)})_(?:relay_)?({'|'.join(SETTINGS)})(?:_|$)"
)


class VoipCondition(NamedTuple):
    """A parsed condition; unpacks as ``platform, receiver, setting = parse_condition(name)``."""

    platform: str  # "gm" | "zm"
    receiver: str  # "cloud" | "phone"
    setting: str  # "low" | "auto"

    @property
    def key(self) -> str:
        return f"{self.platform}_{self.receiver}_{self.setting}"


def parse_condition(condition: str) -> VoipCondition:
    """``"gm_cloud_low" -> VoipCondition("gm", "cloud", "low")``; a clear error for anything else."""
    parts = condition.split("_")
    if len(parts) != 3 or parts[0] not in PLATFORMS or parts[1] not in RECEIVERS or parts[2] not in SETTINGS:
        raise ValueError(
            f"unknown VoIP-DNS condition {condition!r}: expected <platform>_<receiver>_<setting> "
            f"with platform in {PLATFORMS}, receiver in {RECEIVERS}, setting in {SETTINGS}"
        )
    return VoipCondition(*parts)


def find_condition(name: str) -> VoipCondition | None:
    """The condition a name refers to, partition names accepted (``src_zm_phone_relay_auto``); None when
    the name is no VoIP condition (``synthetic``, ``no_reverb``): reports show those by name."""
    match = _EMBEDDED.search(name)
    return VoipCondition(*match.groups()) if match else None


def partition_name(condition: str, normalised: bool = False) -> str:
    """Folder of a condition (``src_gm_cloud_relay_low``) or of a source (``"clean"`` -> ``src_clean``)."""
    prefix = "nrm" if normalised else "src"
    if condition in SOURCES:
        return f"{prefix}_{condition}"
    platform, receiver, setting = parse_condition(condition)
    return f"{prefix}_{platform}_{receiver}_relay_{setting}"


def select_conditions(platforms=None, receivers=None, settings=None, conditions=None) -> list[str]:
    """Conditions matching every given filter (None = all); `conditions` lists them explicitly instead."""
    if conditions is not None:
        chosen = [conditions] if isinstance(conditions, str) else list(conditions)
        for condition in chosen:
            parse_condition(condition)
        return chosen
    filters = {
        "platform": (platforms, PLATFORMS),
        "receiver": (receivers, RECEIVERS),
        "setting": (settings, SETTINGS),
    }
    allowed = []
    for name, (value, universe) in filters.items():
        value = list(universe) if value is None else ([value] if isinstance(value, str) else list(value))
        unknown = sorted(set(value) - set(universe))
        if unknown:
            raise ValueError(f"unknown {name} {unknown}; choose from {universe}")
        allowed.append(value)
    return [c for c in CONDITIONS if all(part in ok for part, ok in zip(parse_condition(c), allowed, strict=True))]
