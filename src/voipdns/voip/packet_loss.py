"""Bursty packet loss: the Gilbert-Elliott two-state Markov model, one step per codec packet.

States Good and Bad; per packet the chain moves Good -> Bad with probability `p` and Bad -> Good with `r`.
A packet is lost with probability `loss_in_bad` in Bad (1 = the classic Gilbert model) and `loss_in_good` in
Good (0 by default). Stationary probability of Bad: ``p / (p + r)``; mean loss rate
``(p * loss_in_bad + r * loss_in_good) / (p + r)``; mean time in Bad ``1 / r`` packets, which with
``loss_in_bad = 1`` and ``loss_in_good = 0`` is the mean loss-burst length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GilbertElliott:
    p: float = 0.01
    r: float = 0.5
    loss_in_bad: float = 1.0
    loss_in_good: float = 0.0

    def __post_init__(self) -> None:
        for name in ("p", "r", "loss_in_bad", "loss_in_good"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"GilbertElliott.{name} must be a probability in [0, 1], got {value}")
        if self.p > 0 and self.r == 0:
            raise ValueError("GilbertElliott with r = 0 never leaves the Bad state (100 % loss); use r > 0")

    @classmethod
    def from_loss_rate(cls, loss_rate: float, mean_burst_packets: float) -> GilbertElliott:
        """The Gilbert model (lost in Bad, kept in Good) with this mean loss rate and mean burst length."""
        if not 0.0 <= loss_rate < 1.0:
            raise ValueError(f"loss_rate must be in [0, 1), got {loss_rate}")
        if mean_burst_packets < 1.0:
            raise ValueError(f"mean_burst_packets must be >= 1, got {mean_burst_packets}")
        r = 1.0 / mean_burst_packets
        p = r * loss_rate / (1.0 - loss_rate)
        return cls(p=min(p, 1.0), r=r)

    @property
    def loss_rate(self) -> float:
        """Stationary (long-run) fraction of packets lost."""
        if self.p + self.r == 0:
            return self.loss_in_good
        return (self.p * self.loss_in_bad + self.r * self.loss_in_good) / (self.p + self.r)

    @property
    def mean_bad_run_packets(self) -> float:
        return float("inf") if self.r == 0 else 1.0 / self.r

    def sample(self, n_packets: int, rng: np.random.Generator) -> np.ndarray:
        """Bool mask of `n_packets` (True = lost); the first state is drawn from the stationary law."""
        if n_packets <= 0:
            return np.zeros(0, dtype=bool)
        if self.p == 0 and self.loss_in_good == 0:
            return np.zeros(n_packets, dtype=bool)
        stationary_bad = self.p / (self.p + self.r) if self.p + self.r > 0 else 0.0
        draws = rng.random(n_packets)
        bad = np.empty(n_packets, dtype=bool)
        state = bool(rng.random() < stationary_bad)
        # the chain is sequential; a plain loop over packets (50 per second of audio) is cheap
        for i in range(n_packets):
            bad[i] = state
            state = (draws[i] >= self.r) if state else (draws[i] < self.p)
        loss_prob = np.where(bad, self.loss_in_bad, self.loss_in_good)
        return rng.random(n_packets) < loss_prob


def burst_lengths(lost: np.ndarray) -> np.ndarray:
    """Lengths of the runs of consecutive True values in a loss mask."""
    lost = np.asarray(lost, dtype=bool)
    if not lost.any():
        return np.zeros(0, dtype=int)
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return ends - starts
