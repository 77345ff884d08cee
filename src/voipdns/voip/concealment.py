"""Packet loss concealment for decoders that have none (G.711, G.722, GSM-FR as decoded here).

Repeat-and-fade, as simple receivers do (cf. G.711 Appendix I without its pitch search): a lost packet is
replaced by the last good decoded packet, attenuated by `fade_db_per_packet` more for every further
consecutive loss and muted after `max_repeats` packets; a short cross-fade (`crossfade_samples`) at both
joins avoids clicks. Codecs with a real concealment use their decoder instead (Opus PLC/FEC, AMR-NB's
bad-frame handling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RepeatFadeConcealer:
    fade_db_per_packet: float = 6.0
    max_repeats: int = 3
    crossfade_samples: int = 16

    def __post_init__(self) -> None:
        self._history = np.zeros(0, dtype=np.float32)  # the last good decoded audio (one or more packets)
        self._repeat: np.ndarray | None = None  # the packet being repeated during a loss
        self._run = 0  # consecutive losses so far

    def _gain(self, losses: int) -> float:
        """Gain of the `losses`-th consecutive concealed packet (1-based)."""
        if losses > self.max_repeats:
            return 0.0
        return 10.0 ** (-self.fade_db_per_packet * (losses - 1) / 20.0)

    def good(self, samples: np.ndarray) -> np.ndarray:
        """Record correctly decoded audio (any number of packets); right after a loss, cross-fade into it."""
        samples = np.asarray(samples, dtype=np.float32)
        out = samples
        n = min(self.crossfade_samples, len(samples))
        if self._run and self._repeat is not None and n > 0 and len(self._repeat) >= n:
            # what the concealment would have played next: the repeated packet at the next gain step
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            out = samples.copy()
            out[:n] = ramp * samples[:n] + (1 - ramp) * self._gain(self._run + 1) * self._repeat[:n]
        if len(samples):
            self._history = samples
        self._run, self._repeat = 0, None
        return out

    def lost(self, packet_samples: int) -> np.ndarray:
        """Samples standing in for one lost packet of `packet_samples`."""
        self._run += 1
        if self._run == 1:
            self._repeat = self._history[-packet_samples:] if len(self._history) >= packet_samples else None
        if self._repeat is None:
            return np.zeros(packet_samples, dtype=np.float32)
        out = (self._repeat * self._gain(self._run)).astype(np.float32)
        if self._run == 1 and self.crossfade_samples > 0:
            # fade the repeat in from the last sample actually played, so the join does not click
            n = min(self.crossfade_samples, packet_samples)
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            out[:n] = ramp * out[:n] + (1 - ramp) * self._history[-1]
        return out

    @property
    def in_loss(self) -> bool:
        return self._run > 0
