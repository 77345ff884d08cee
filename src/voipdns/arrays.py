"""Waveform containers: numpy or torch in, a 1-D numpy array out. Imports no torch (scoring workers stay light)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_mono_numpy(wav: Any, what: str, dtype: type = np.float64) -> np.ndarray | None:
    """numpy or torch ``[T]``, ``[1, T]`` or ``[1, 1, T]`` -> ``dtype`` ``[T]`` (None stays None)."""
    if wav is None:
        return None
    if hasattr(wav, "detach"):  # a torch tensor, handled without importing torch here
        wav = wav.detach().cpu().float().numpy()
    array = np.asarray(wav, dtype=dtype)
    if array.ndim > 1 and all(size == 1 for size in array.shape[:-1]):
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{what}: expected a mono waveform [T] or [1, T], got shape {tuple(array.shape)}")
    return array
