"""Post-processing of the seed U-Net pipeline as stateful block processors: voice-band EQ, soft noise gate.

* ``VoiceBandEQ``: high-pass + low-pass Butterworth (the telephone/VoIP voice band) and an optional presence
  peak (RBJ peaking biquad), filter state carried between blocks.
* ``NoiseGate``: per 1 ms sub-block RMS level; above ``threshold_db`` the gate opens (gain 1), below it the
  gain goes to ``-reduction_db`` (attenuates, never mutes: soft). After the level drops the gate stays open
  for ``hold_ms`` (no chopping between words), then releases with time constant ``release_ms``; it opens
  with ``attack_ms``. ``gains`` holds the per-sample gain of the last block (for inspection and tests).

Processors take and return mono float32 blocks of any size, with no added latency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import signal

from voipdns.rates import DEFAULT_SAMPLE_RATE


class VoiceBandEQ:
    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        low_cut_hz: float = 80.0,
        high_cut_hz: float = 7000.0,
        order: int = 2,
        presence_hz: float = 3000.0,
        presence_db: float = 0.0,
        presence_q: float = 1.0,
    ):
        nyquist = sample_rate / 2
        if not 0 < low_cut_hz < high_cut_hz < nyquist:
            raise ValueError(
                f"VoiceBandEQ needs 0 < low_cut_hz ({low_cut_hz}) < high_cut_hz ({high_cut_hz}) < Nyquist ({nyquist})"
            )
        self.sample_rate = int(sample_rate)
        sections = [
            signal.butter(order, low_cut_hz, "highpass", fs=sample_rate, output="sos"),
            signal.butter(order, high_cut_hz, "lowpass", fs=sample_rate, output="sos"),
        ]
        if presence_db:
            sections.append(peaking_biquad(sample_rate, presence_hz, presence_db, presence_q))
        self.sos = np.concatenate(sections)
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((self.sos.shape[0], 2))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out, self.state = signal.sosfilt(self.sos, np.asarray(block, dtype=np.float64), zi=self.state)
        return out.astype(np.float32)


def peaking_biquad(sample_rate: int, centre_hz: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter as one SOS row ``[b0, b1, b2, 1, a1, a2]``."""
    amplitude = 10 ** (gain_db / 40)
    omega = 2 * math.pi * centre_hz / sample_rate
    alpha = math.sin(omega) / (2 * q)
    b = np.array([1 + alpha * amplitude, -2 * math.cos(omega), 1 - alpha * amplitude])
    a = np.array([1 + alpha / amplitude, -2 * math.cos(omega), 1 - alpha / amplitude])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


class NoiseGate:
    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        threshold_db: float = -45.0,
        reduction_db: float = 20.0,
        attack_ms: float = 2.0,
        release_ms: float = 60.0,
        hold_ms: float = 150.0,
        detector_ms: float = 1.0,
    ):
        if reduction_db < 0:
            raise ValueError(f"NoiseGate: reduction_db must be >= 0, got {reduction_db}")
        if min(attack_ms, release_ms, detector_ms) <= 0 or hold_ms < 0:
            raise ValueError("NoiseGate: attack_ms, release_ms, detector_ms must be > 0 and hold_ms >= 0")
        self.sample_rate = int(sample_rate)
        self.step = max(1, round(sample_rate * detector_ms / 1000))  # samples per level measurement
        step_ms = 1000 * self.step / sample_rate
        self.threshold_db = float(threshold_db)
        self.floor_gain = 10 ** (-reduction_db / 20)
        self.attack = math.exp(-step_ms / attack_ms)
        self.release = math.exp(-step_ms / release_ms)
        self.hold_steps = round(hold_ms / step_ms)
        self.reset()

    def reset(self) -> None:
        self.gain = self.floor_gain  # closed until speech arrives
        self.hold_left = 0
        self.energy = 0.0  # of the current, incomplete sub-block
        self.count = 0
        self.gains = np.zeros(0, dtype=np.float32)

    def _update(self, mean_square: float) -> None:
        level_db = 10 * math.log10(mean_square + 1e-12)
        if level_db >= self.threshold_db:
            self.hold_left = self.hold_steps
            target, coefficient = 1.0, self.attack
        elif self.hold_left > 0:
            self.hold_left -= 1
            target, coefficient = 1.0, self.attack
        else:
            target, coefficient = self.floor_gain, self.release
        self.gain = coefficient * self.gain + (1 - coefficient) * target

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        gains = np.empty(block.size, dtype=np.float32)
        start = 0
        while start < block.size:
            take = min(self.step - self.count, block.size - start)
            piece = block[start : start + take]
            gains[start : start + take] = self.gain  # the gain follows the level with one sub-block delay
            self.energy += float(np.dot(piece, piece))
            self.count += take
            if self.count == self.step:
                self._update(self.energy / self.step)
                self.energy, self.count = 0.0, 0
            start += take
        self.gains = gains
        return block * gains


class PostChain:
    """Processors applied in order (an empty chain passes audio through)."""

    def __init__(self, processors: Sequence = ()):
        self.processors = [p for p in processors if p is not None]

    def reset(self) -> None:
        for processor in self.processors:
            processor.reset()

    def __call__(self, block: np.ndarray) -> np.ndarray:
        for processor in self.processors:
            block = processor(block)
        return block
