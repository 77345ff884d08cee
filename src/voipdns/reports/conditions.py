"""How report tables and plots show conditions: display labels and row order.

The vocabulary (platforms, receivers, settings, the condition list, parsing) belongs to
``voipdns.conditions``; this module only names it for readers. A VoIP condition such as ``gm_cloud_low``
(or a partition name like ``src_gm_cloud_relay_low``) is shown as Google Meet / cloud / low; other
conditions (``synthetic``, ``no_reverb``, a folder name) are shown by name after the VoIP ones, ``All`` last.
"""

from __future__ import annotations

from collections.abc import Iterable

from voipdns.conditions import CONDITIONS, find_condition

PLATFORM_LABELS = {"gm": "Google Meet", "zm": "Zoom"}
RECEIVER_LABELS = {"cloud": "cloud", "phone": "phone"}
ALL_CONDITIONS = "all"
VOIP_HEADER = ("Platform", "Receiver", "Denoising")
PLAIN_HEADER = ("Condition",)


def condition_sort_key(condition: str) -> tuple[int, int, str]:
    """Table I order for VoIP conditions, then other conditions by name, then ``all`` last."""
    if condition == ALL_CONDITIONS:
        return (2, 0, "")
    parsed = find_condition(condition)
    if parsed is not None:
        return (0, CONDITIONS.index(parsed.key), condition)
    return (1, 0, condition)


def ordered_conditions(conditions: Iterable[str]) -> list[str]:
    return sorted(set(conditions), key=condition_sort_key)


def is_voip(conditions: Iterable[str]) -> bool:
    """True when any condition is a VoIP one: tables then split it into platform / receiver / denoising."""
    return any(find_condition(c) is not None for c in conditions if c != ALL_CONDITIONS)


def condition_header(conditions: Iterable[str]) -> tuple[str, ...]:
    """Column names of the condition cells: three for VoIP data, a plain "Condition" otherwise."""
    return VOIP_HEADER if is_voip(conditions) else PLAIN_HEADER


def condition_cells(condition: str, voip: bool = True) -> tuple[str, ...]:
    """The cells of a table row: (Platform, Receiver, Denoising) for VoIP data, where other conditions fill
    the first cell only; (Condition,) for non-VoIP data (``voip=False``)."""
    width = len(VOIP_HEADER) if voip else len(PLAIN_HEADER)
    if condition == ALL_CONDITIONS:
        return ("All",) + ("",) * (width - 1)
    parsed = find_condition(condition) if voip else None
    if parsed is None:
        return (condition or "(none)",) + ("",) * (width - 1)
    return (PLATFORM_LABELS[parsed.platform], RECEIVER_LABELS[parsed.receiver], parsed.setting)


def condition_label(condition: str) -> str:
    """A short multi-line label for a plot axis: ``Google Meet\\ncloud\\ndenoise low``, ``no_reverb``, ``All``."""
    parsed = find_condition(condition) if condition != ALL_CONDITIONS else None
    if parsed is None:
        return condition_cells(condition)[0]
    platform, receiver, _ = condition_cells(condition)
    return f"{platform}\n{receiver}\ndenoise {parsed.setting}"
