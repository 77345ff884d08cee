"""What a baseline is: a native frame engine from a wheel, its rate, its measured delay, and the extra it needs.

A baseline's engine processes fixed-size frames at its own sample rate with internal state (RNNoise and
DeepFilterNet3: 480-sample frames at 48 kHz). The package providing it is imported only when the engine is
opened, so ``import voipdns`` never needs the ``baselines`` extra; a missing package is one clear error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

import numpy as np

from voipdns.checkpoint_formats.errors import CheckpointError

#: what a user runs to get every baseline
INSTALL_HINT = "pip install -e '.[baselines]'"


class MissingBaselineExtraError(CheckpointError):
    """A baseline's package is not installed; the message says which and how to install it.

    A ``CheckpointError``, so the CLIs print it as one line and exit 2 like any unusable ``checkpoint=``."""


class BaselineOfflineOnlyError(CheckpointError):
    """A baseline asked for what only torch nets have: a streamer (``stream=true``) or an ONNX export."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"checkpoint={name} is a baseline run by its wheel's native engine: voipdns-eval, voipdns-enhance "
            "(offline, stream=false) and voipdns.load_net take it; it has no voipdns streamer and no ONNX export"
        )


class FrameEngine(Protocol):
    """One stateful instance of a native enhancer: ``process`` takes and returns ``frame_samples`` float32
    samples in [-1, 1] at the baseline's rate; ``close`` frees the native state."""

    frame_samples: int

    def process(self, frame: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BaselineSpec:
    name: str  # what checkpoint= takes
    distribution: str  # the pip package providing it (installed by the baselines extra)
    sample_rate: int  # the engine's own rate, Hz
    #: output lags input by this many samples at ``sample_rate`` (measured with ``baselines.delay``; a test checks)
    delay_samples: int
    open_engine: Callable[[], FrameEngine]
    description: str = ""


def import_extra(module: str, baseline: str, distribution: str) -> ModuleType:
    """``importlib.import_module(module)``, or ``MissingBaselineExtraError`` naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingBaselineExtraError(
            f"checkpoint={baseline} needs the optional package '{distribution}', which is not installed "
            f"({error}); install the baselines extra: {INSTALL_HINT}"
        ) from error
