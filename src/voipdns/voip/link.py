"""One network hop of a call: codec + packet loss (Gilbert-Elliott) + jitter-buffer late loss.

The input is resampled to the codec's rate, encoded into packets, a loss mask is drawn per packet (random
loss OR arrival after the playout deadline), the packets are decoded with the codec's concealment, the codec
delay is removed and the result is resampled back: same length, sample-aligned with the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voipdns.data.alignment import apply_delay
from voipdns.resampler import resample
from voipdns.voip.codecs import PacketCodec, make_codec
from voipdns.voip.jitter import JitterBuffer
from voipdns.voip.packet_loss import GilbertElliott


def fit_length(wav: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad at the end to `length` samples (rounding in resampling can differ by one)."""
    if len(wav) >= length:
        return wav[:length]
    return np.pad(wav, (0, length - len(wav)))


def _build(value: Any, factory: Any) -> Any:
    return factory(**value) if isinstance(value, dict) else value


@dataclass
class CodecLink:
    """A stage ``(wav, sample_rate, rng) -> wav``; `codec`: a `PacketCodec` or ``{"name": ..., **params}``."""

    codec: PacketCodec | dict
    loss: GilbertElliott | dict | None = None
    jitter: JitterBuffer | dict | None = None
    last_stats: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.codec, dict):
            params = dict(self.codec)
            if "name" not in params:
                raise ValueError(f"CodecLink codec config needs a 'name' key, got {params}")
            self.codec = make_codec(params.pop("name"), **params)
        self.loss = _build(self.loss, GilbertElliott)
        self.jitter = _build(self.jitter, JitterBuffer)

    def loss_mask(self, n_packets: int, rng: np.random.Generator) -> np.ndarray:
        lost = np.zeros(n_packets, dtype=bool)
        if self.loss is not None:
            lost |= self.loss.sample(n_packets, rng)
        if self.jitter is not None:
            lost |= self.jitter.late(n_packets, rng)
        return lost

    def __call__(self, wav: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        codec: PacketCodec = self.codec  # type: ignore[assignment]
        at_codec_rate = resample(np.asarray(wav, dtype=np.float32), sample_rate, codec.sample_rate)
        packets: list[bytes | None] = list(codec.encode(at_codec_rate))
        lost = self.loss_mask(len(packets), rng)
        decoded = codec.decode([None if gone else p for p, gone in zip(packets, lost, strict=True)])
        aligned = apply_delay(decoded, codec.delay_samples, len(at_codec_rate))
        self.last_stats = {
            "packets": float(len(packets)),
            "lost_fraction": float(lost.mean()) if len(lost) else 0.0,
        }
        back = resample(np.asarray(aligned, dtype=np.float32), codec.sample_rate, sample_rate)
        return fit_length(back, len(wav)).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.codec.config())  # type: ignore[union-attr]
        if self.loss is not None:
            out.update(loss_p=self.loss.p, loss_r=self.loss.r, loss_rate=round(self.loss.loss_rate, 4))
        if self.jitter is not None:
            out.update(jitter_buffer_ms=self.jitter.buffer_ms, jitter_std_ms=self.jitter.jitter_std_ms)
        return out
