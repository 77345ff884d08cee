"""The telephone leg of a "relay to phone" call: narrow band, PSTN band-pass, narrow-band codec(s).

The meeting platform's gateway hands the call to the telephone network at 8 kHz: the signal is resampled to
8 kHz, band-limited to the PSTN voice band (300-3400 Hz, Butterworth), coded by one or more narrow-band
codec hops (G.711 on the fixed network, AMR-NB or GSM-FR on a mobile leg, each with its own loss) and
brought back to the input rate, so nothing is left above 4 kHz.

The band-pass runs forward and backward (`sosfiltfilt`): zero phase, so the output stays sample-aligned
with the source (a causal telephone filter adds a frequency-dependent delay of a few ms that re-alignment
would have to undo anyway). Its magnitude response is the square of the Butterworth's (order doubled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from voipdns.resampler import resample
from voipdns.voip.link import CodecLink, fit_length

NARROWBAND_RATE_HZ = 8000


@dataclass
class PhonePath:
    links: list[CodecLink | dict] = field(default_factory=lambda: [{"codec": {"name": "g711_mulaw"}}])
    low_hz: float = 300.0
    high_hz: float = 3400.0
    filter_order: int = 4

    def __post_init__(self) -> None:
        if not 0 < self.low_hz < self.high_hz < NARROWBAND_RATE_HZ / 2:
            raise ValueError(
                f"PhonePath band must satisfy 0 < low_hz < high_hz < 4000 Hz, got {self.low_hz}-{self.high_hz} Hz"
            )
        self.links = [CodecLink(**link) if isinstance(link, dict) else link for link in self.links]
        for link in self.links:
            if link.codec.sample_rate != NARROWBAND_RATE_HZ:  # type: ignore[union-attr]
                raise ValueError(
                    f"PhonePath codecs must be narrow-band (8 kHz); {link.codec.name} runs at "  # type: ignore[union-attr]
                    f"{link.codec.sample_rate} Hz"
                )  # type: ignore[union-attr]
        self._sos = signal.butter(
            self.filter_order,
            [self.low_hz, self.high_hz],
            btype="bandpass",
            fs=NARROWBAND_RATE_HZ,
            output="sos",
        )

    def bandpass(self, wav_8k: np.ndarray) -> np.ndarray:
        if len(wav_8k) <= 3 * (2 * len(self._sos) + 1):  # too short for filtfilt's edge padding
            return signal.sosfilt(self._sos, wav_8k).astype(np.float32)
        return signal.sosfiltfilt(self._sos, wav_8k).astype(np.float32)

    def __call__(self, wav: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        narrow = self.bandpass(resample(np.asarray(wav, dtype=np.float32), sample_rate, NARROWBAND_RATE_HZ))
        for link in self.links:
            narrow = link(narrow, NARROWBAND_RATE_HZ, rng)  # type: ignore[operator]
        back = resample(np.asarray(narrow, dtype=np.float32), NARROWBAND_RATE_HZ, sample_rate)
        return fit_length(back, len(wav)).astype(np.float32)

    @property
    def last_stats(self) -> dict[str, float]:
        return {f"phone{i}_{k}": v for i, link in enumerate(self.links) for k, v in link.last_stats.items()}  # type: ignore[union-attr]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"band_hz": f"{self.low_hz:g}-{self.high_hz:g}"}
        for i, link in enumerate(self.links):
            out.update({f"phone{i}_{k}": v for k, v in link.describe().items()})  # type: ignore[union-attr]
        return out
