"""Network jitter through a fixed playout (jitter) buffer: packets that arrive too late are lost.

Each packet's extra network delay (on top of the constant path delay) is an AR(1) Gaussian process with
standard deviation `jitter_std_ms` and one-packet correlation `correlation` (queueing makes consecutive
delays similar), clipped at 0, plus rare delay spikes (probability `spike_probability` per packet, size
exponential with mean `spike_mean_ms`, decaying over `spike_decay_packets` packets as the queue drains).
The receiver plays packet n at its send time + `buffer_ms`; a packet whose extra delay exceeds the buffer
misses its slot and is concealed like a lost packet ("late loss").

This models a *fixed* jitter buffer, so the playout delay is constant and the output stays sample-aligned
with the source. Adaptive buffers (WebRTC NetEQ) also time-stretch audio to follow the delay; that changes
the alignment over time and is not modelled (VoIP-DNS relays are re-aligned per file, not per packet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JitterBuffer:
    buffer_ms: float = 60.0
    jitter_std_ms: float = 10.0
    correlation: float = 0.8
    spike_probability: float = 0.002
    spike_mean_ms: float = 150.0
    spike_decay_packets: float = 10.0

    def __post_init__(self) -> None:
        if self.buffer_ms < 0 or self.jitter_std_ms < 0 or self.spike_mean_ms < 0:
            raise ValueError(f"JitterBuffer times must be >= 0 ms, got {self}")
        if not 0.0 <= self.correlation < 1.0:
            raise ValueError(f"JitterBuffer.correlation must be in [0, 1), got {self.correlation}")
        if not 0.0 <= self.spike_probability <= 1.0:
            raise ValueError(f"JitterBuffer.spike_probability must be in [0, 1], got {self.spike_probability}")

    def delays_ms(self, n_packets: int, rng: np.random.Generator) -> np.ndarray:
        """Extra network delay of each packet in ms (>= 0)."""
        innovations = rng.standard_normal(n_packets) * self.jitter_std_ms * np.sqrt(1 - self.correlation**2)
        spikes = (rng.random(n_packets) < self.spike_probability) * rng.exponential(self.spike_mean_ms, n_packets)
        delays = np.empty(n_packets)
        state, spike = 0.0, 0.0
        decay = np.exp(-1.0 / max(self.spike_decay_packets, 1e-6))
        for i in range(n_packets):
            state = self.correlation * state + innovations[i]
            spike = max(spike * decay, spikes[i])
            delays[i] = state + spike
        return np.clip(delays, 0.0, None)

    def late(self, n_packets: int, rng: np.random.Generator) -> np.ndarray:
        """Bool mask (True = arrived after its playout slot, hence lost to the decoder)."""
        if n_packets <= 0:
            return np.zeros(0, dtype=bool)
        return self.delays_ms(n_packets, rng) > self.buffer_ms
