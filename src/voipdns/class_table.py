"""Capability tables keyed by net class: the entry of a net's class, or of its nearest registered base class.

The streaming, export and checkpoint wings each keep one such table next to their own code (streamers in
``voipdns.streaming.factory``, graphs in ``voipdns.export.adapters``), so adding a model adds one entry to
each instead of a branch to an ``isinstance`` chain. PPN and UPN subclass PercepNet and find its entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Entry = TypeVar("Entry")


def entry_for(table: Mapping[type, Entry], obj: object) -> Entry | None:
    """The entry of ``type(obj)`` or of its nearest base class in ``table``; None when there is none."""
    for cls in type(obj).__mro__:
        if cls in table:
            return table[cls]
    return None


def class_names(table: Mapping[type, object]) -> list[str]:
    """The registered class names, for error messages that list what is supported."""
    return sorted(cls.__name__ for cls in table)
