"""Runs a frame engine over a whole clip and removes its delay, so output sample n lines up with input sample n.

The clip is zero-padded at the end by the delay plus what completes the last frame; the first ``delay_samples``
output samples (the engine's look-ahead and overlap-add latency) are dropped. A fresh engine per clip: no state
leaks from one file into the next.
"""

from __future__ import annotations

import numpy as np

from voipdns.baselines.spec import FrameEngine


def run_engine(engine: FrameEngine, audio: np.ndarray, delay_samples: int = 0) -> np.ndarray:
    """``audio`` [T] float32 at the engine's rate -> enhanced [T], advanced by ``delay_samples``."""
    frame = engine.frame_samples
    length = len(audio)
    padded_length = -(-(length + delay_samples) // frame) * frame  # ceil to whole frames
    padded = np.zeros(padded_length, dtype=np.float32)
    padded[:length] = audio
    out = np.empty_like(padded)
    for start in range(0, padded_length, frame):
        out[start : start + frame] = engine.process(padded[start : start + frame])
    return out[delay_samples : delay_samples + length]


def enhance_clip(open_engine, audio: np.ndarray, delay_samples: int) -> np.ndarray:
    """``run_engine`` with an engine opened for this clip and closed after it, even on error."""
    engine = open_engine()
    try:
        return run_engine(engine, audio, delay_samples)
    finally:
        engine.close()
