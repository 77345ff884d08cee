"""The packet-codec interface (`PacketCodec`) and its PyAV (FFmpeg) implementation, `PyAVCodec`.

Concrete codecs are built in `codecs.py` (G.711, G.722, AMR-NB, GSM-FR: `PyAVCodec` settings) and `opus.py`
(libopus controls around a `PyAVCodec`); `codecs.make_codec` picks one by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import av
import numpy as np

from voipdns.data.alignment import apply_delay
from voipdns.voip.calibration import measure_codec_delay
from voipdns.voip.concealment import RepeatFadeConcealer
from voipdns.voip.external_encoder import CodecUnavailableError, ExternalFormat, encode_external


@cache
def pyav_has(codec_name: str, mode: str) -> bool:
    """Whether this PyAV build has an encoder (`mode` "w") or decoder ("r") called `codec_name`."""
    try:
        av.codec.Codec(codec_name, mode)
    except Exception:  # UnknownCodecError and friends: simply absent
        return False
    return True


def to_int16(wav: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(wav, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def frames_to_float(frame: av.AudioFrame) -> np.ndarray:
    data = frame.to_ndarray().reshape(-1)
    if data.dtype == np.int16:
        return data.astype(np.float32) / 32768.0
    return data.astype(np.float32)


class PacketCodec(ABC):
    """A codec seen as packets: see the module doc."""

    name: str
    sample_rate: int
    packet_samples: int

    @abstractmethod
    def encode(self, wav: np.ndarray) -> list[bytes]:
        """Float32 mono `wav` at `sample_rate` (zero-padded to whole packets) -> packets."""

    @abstractmethod
    def decode(self, packets: Sequence[bytes | None]) -> np.ndarray:
        """Packets (None = lost) -> float32 waveform, codec delay included."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Parameters that define the codec (manifest rows, delay cache key)."""

    @property
    def delay_samples(self) -> int:
        key = tuple(sorted((k, str(v)) for k, v in self.config().items()))
        return measure_codec_delay(key, self.sample_rate, lambda wav: self.decode(self.encode(wav)))

    def transcode(self, wav: np.ndarray, lost: np.ndarray | None = None) -> np.ndarray:
        """Encode, drop the packets where `lost` is True, decode, and realign to `len(wav)` samples."""
        packets: list[bytes | None] = list(self.encode(wav))
        if lost is not None:
            packets = [None if i < len(lost) and lost[i] else p for i, p in enumerate(packets)]
        return apply_delay(self.decode(packets), self.delay_samples, len(wav))

    def packets_for(self, num_samples: int) -> int:
        return -(-num_samples // self.packet_samples)


@dataclass
class PyAVCodec(PacketCodec):
    """A codec with a PyAV (FFmpeg) encoder, or an external binary when PyAV has no encoder."""

    name: str
    encoder: str
    decoders: tuple[str, ...]
    sample_rate: int
    packet_samples: int
    bit_rate: int | None = None
    options: dict[str, str] = field(default_factory=dict)
    external: ExternalFormat | None = None
    lost_packet: bytes | None = None  # sent to the decoder for a lost packet (its own concealment)

    def config(self) -> dict[str, Any]:
        return {
            "codec": self.name,
            "sample_rate": self.sample_rate,
            "packet_samples": self.packet_samples,
            "bit_rate": self.bit_rate,
            **self.options,
        }

    def encode(self, wav: np.ndarray) -> list[bytes]:
        pcm = to_int16(wav)
        pcm = np.pad(pcm, (0, self.packets_for(len(pcm)) * self.packet_samples - len(pcm)))
        if pyav_has(self.encoder, "w"):
            return self._encode_pyav(pcm)
        if self.external is not None:
            return encode_external(pcm, self.sample_rate, self.external, self.name, self.bit_rate)
        raise CodecUnavailableError(
            f"codec {self.name!r}: PyAV has no encoder {self.encoder!r} "
            f"(av.codecs_available) and no external fallback is defined"
        )

    def _encode_pyav(self, pcm: np.ndarray) -> list[bytes]:
        """One call for the whole signal (PyAV cuts it into encoder frames): per-packet Python calls cost more
        than the codec itself. PCM encoders return one packet, cut here into `packet_samples` pieces."""
        ctx = av.CodecContext.create(self.encoder, "w")
        ctx.sample_rate, ctx.layout, ctx.format = self.sample_rate, "mono", "s16"
        if self.bit_rate:
            ctx.bit_rate = self.bit_rate
        if self.options:
            ctx.options = dict(self.options)
        ctx.open()
        if ctx.frame_size and ctx.frame_size != self.packet_samples:
            raise ValueError(
                f"codec {self.name!r}: encoder frames are {ctx.frame_size} samples, "
                f"packet_samples={self.packet_samples} is not supported"
            )
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[None]), format="s16", layout="mono")
        frame.sample_rate, frame.pts = self.sample_rate, 0
        packets = [bytes(p) for p in ctx.encode(frame)] + [bytes(p) for p in ctx.encode(None)]
        if ctx.frame_size:
            return packets
        stream = b"".join(packets)  # sample-wise codec: a fixed number of bytes per sample
        size = len(stream) * self.packet_samples // max(len(pcm), 1)
        return [stream[i : i + size] for i in range(0, len(stream), size)]

    def _decoder(self) -> av.CodecContext:
        for name in self.decoders:
            if pyav_has(name, "r"):
                ctx = av.CodecContext.create(name, "r")
                ctx.sample_rate, ctx.layout = self.sample_rate, "mono"
                return ctx
        raise CodecUnavailableError(f"codec {self.name!r}: PyAV has none of the decoders {self.decoders}")

    @staticmethod
    def _decode_bytes(ctx: av.CodecContext, data: bytes) -> np.ndarray:
        decoded = [frames_to_float(f) for f in ctx.decode(av.Packet(data))]
        return np.concatenate(decoded) if decoded else np.zeros(0, np.float32)

    def _decode_run(self, ctx: av.CodecContext, run: list[bytes]) -> np.ndarray:
        """Consecutive received packets decoded as one stream (same decoder state as one by one, since
        these frames are self-delimiting); packet by packet if the decoder disagrees."""
        samples = self._decode_bytes(ctx, b"".join(run))
        if len(samples) == len(run) * self.packet_samples or len(run) == 1:
            return samples
        ctx.flush_buffers()
        return np.concatenate([self._decode_bytes(ctx, packet) for packet in run])

    def decode(self, packets: Sequence[bytes | None]) -> np.ndarray:
        ctx, concealer = self._decoder(), RepeatFadeConcealer()
        chunks: list[np.ndarray] = []
        run: list[bytes] = []

        def flush() -> None:
            if run:
                chunks.append(concealer.good(self._decode_run(ctx, run)))
                run.clear()

        for packet in packets:
            if packet is not None:
                run.append(packet)
                continue
            flush()
            if self.lost_packet is not None:  # the decoder's own concealment (AMR NO_DATA frame)
                chunks.append(self._decode_bytes(ctx, self.lost_packet))
            else:
                chunks.append(concealer.lost(self.packet_samples))
        flush()
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
