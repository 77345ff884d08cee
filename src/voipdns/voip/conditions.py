"""The eight VoIP-DNS conditions and the partition (folder) names of the released dataset.

A condition is ``<platform>_<receiver>_<setting>``: platform ``gm`` (Google Meet) or ``zm`` (Zoom), receiver
``cloud`` (a cloud recorder) or ``phone`` (a telephone dial-in), platform noise suppression ``low`` or
``auto``. Its partition folder is ``src_<platform>_<receiver>_relay_<setting>`` and the peak-normalised copy
``nrm_...``; the sources are ``src_clean`` / ``src_noisy`` (``nrm_clean`` / ``nrm_noisy``).
"""

from __future__ import annotations

import itertools

PLATFORMS = ("gm", "zm")
RECEIVERS = ("cloud", "phone")
SETTINGS = ("low", "auto")
CONDITIONS: tuple[str, ...] = tuple("_".join(c) for c in itertools.product(PLATFORMS, RECEIVERS, SETTINGS))
SOURCES = ("clean", "noisy")


def parse_condition(condition: str) -> tuple[str, str, str]:
    """``"gm_cloud_low" -> ("gm", "cloud", "low")``; a clear error for anything else."""
    parts = condition.split("_")
    if len(parts) != 3 or parts[0] not in PLATFORMS or parts[1] not in RECEIVERS or parts[2] not in SETTINGS:
        raise ValueError(
            f"unknown VoIP-DNS condition {condition!r}: expected <platform>_<receiver>_<setting> "
            f"with platform in {PLATFORMS}, receiver in {RECEIVERS}, setting in {SETTINGS}"
        )
    return parts[0], parts[1], parts[2]


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
    return [
        c for c in CONDITIONS if all(part in ok for part, ok in zip(parse_condition(c), allowed, strict=True))
    ]
