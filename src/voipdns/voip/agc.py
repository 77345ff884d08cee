"""Automatic gain control as meeting clients apply it: slow gain changes towards a target speech level.

Per 10 ms frame: the level (dBFS of the RMS) is tracked by a one-pole smoother over `level_window_ms`,
only on frames above `gate_dbfs` (pauses and noise-only stretches do not pump the gain up). The wanted gain
``target_dbfs - level`` is clamped to ``[-max_cut_db, max_gain_db]``; the applied gain follows it with
`attack_ms` when it must fall (loud onsets: fast, avoids clipping) and `release_ms` when it may rise
(slow). Gains are interpolated linearly between frame centres; a frame-wise limiter keeps |y| <= `limit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FRAME_MS = 10.0


def _coefficient(time_ms: float) -> float:
    """One-pole smoothing coefficient per 10 ms frame for a time constant in ms."""
    return float(np.exp(-FRAME_MS / max(time_ms, 1e-3)))


@dataclass
class AutomaticGainControl:
    target_dbfs: float = -23.0
    max_gain_db: float = 15.0
    max_cut_db: float = 15.0
    attack_ms: float = 50.0
    release_ms: float = 1500.0
    level_window_ms: float = 400.0
    gate_dbfs: float = -50.0
    limit: float = 0.99

    def frame_gains_db(self, levels_dbfs: np.ndarray) -> np.ndarray:
        level_coef = _coefficient(self.level_window_ms)
        attack, release = _coefficient(self.attack_ms), _coefficient(self.release_ms)
        gains = np.empty(len(levels_dbfs))
        level, gain = self.target_dbfs, 0.0
        for i, frame_level in enumerate(levels_dbfs):
            if frame_level > self.gate_dbfs:
                level = level_coef * level + (1 - level_coef) * frame_level
            wanted = float(np.clip(self.target_dbfs - level, -self.max_cut_db, self.max_gain_db))
            coef = attack if wanted < gain else release
            gain = coef * gain + (1 - coef) * wanted
            gains[i] = gain
        return gains

    def __call__(self, wav: np.ndarray, sample_rate: int, rng: np.random.Generator | None = None) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        frame = max(1, int(round(sample_rate * FRAME_MS / 1000)))
        n_frames = -(-len(wav) // frame)
        if n_frames == 0:
            return wav
        padded = np.pad(wav, (0, n_frames * frame - len(wav))).reshape(n_frames, frame)
        levels = 10 * np.log10(np.mean(padded.astype(np.float64) ** 2, axis=1) + 1e-12)
        gains_db = self.frame_gains_db(levels)
        # limiter: a frame whose peak would exceed `limit` gets a lower gain (its neighbours too, since gains
        # are interpolated between frame centres)
        peaks = np.abs(padded).max(axis=1) * 10.0 ** (gains_db / 20.0)
        headroom_db = np.minimum(0.0, 20 * np.log10(self.limit / np.maximum(peaks, 1e-12)))
        edged = np.pad(headroom_db, 1, mode="edge")
        headroom_db = np.minimum(np.minimum(edged[:-2], edged[1:-1]), edged[2:])
        centres = (np.arange(n_frames) + 0.5) * frame
        gain = 10.0 ** (np.interp(np.arange(len(wav)), centres, gains_db + headroom_db) / 20.0)
        return np.clip(wav * gain, -self.limit, self.limit).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"agc_target_dbfs": self.target_dbfs, "agc_max_gain_db": self.max_gain_db}
