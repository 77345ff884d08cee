"""Speech codecs as packet streams, in memory: encode to packets, lose some, decode back, sample-aligned.

Every codec here is a `PacketCodec`: `encode(wav) -> list[bytes]` (one packet per `packet_samples`),
`decode(packets) -> wav` where a `None` packet is lost and concealed, and `delay_samples` (measured once per
configuration, see `calibration.py`) which `transcode` removes so the output lines up with the input.

Codecs (name for `make_codec`, rate, packet):
- ``opus``: Opus at 8-48 kHz, 2.5-60 ms frames, bitrate, in-band FEC, expected loss (see `opus.py`);
- ``g711_mulaw`` / ``g711_alaw``: G.711 at 8 kHz, 64 kbit/s, `packet_ms` (20 ms) per packet;
- ``g722``: G.722 sub-band ADPCM at 16 kHz, 64 kbit/s, 20 ms packets;
- ``amr_nb``: AMR-NB at 8 kHz, 4.75-12.2 kbit/s, 20 ms frames; a lost frame is sent to the decoder as a
  NO_DATA frame, so the decoder's own error concealment runs;
- ``gsm_fr``: GSM 06.10 full rate at 8 kHz, 13 kbit/s, 33-byte frames of 20 ms.
Encoders come from PyAV (FFmpeg); one PyAV lacks (GSM here) is run through a system ffmpeg/sox binary
(`external_encoder.py`), else `CodecUnavailableError` says what to install. Decoders without concealment
(G.711, G.722, GSM) use `RepeatFadeConcealer`.
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

AMR_NB_BITRATES_BPS = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)
AMR_NO_DATA_FRAME = bytes([15 << 3 | 1 << 2])  # frame type 15 (NO_DATA), quality bit set


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


def g711(law: str = "mu", packet_ms: float = 20.0) -> PyAVCodec:
    if law not in ("mu", "a"):
        raise ValueError(f"G.711 law must be 'mu' or 'a', got {law!r}")
    codec = "pcm_mulaw" if law == "mu" else "pcm_alaw"
    packet_samples = int(round(8000 * packet_ms / 1000))
    external = ExternalFormat(
        ffmpeg_args=("-c:a", codec, "-f", "mulaw" if law == "mu" else "alaw"),
        sox_args=("-t", "ul" if law == "mu" else "al"),
        bytes_per_packet=packet_samples,
    )
    return PyAVCodec(f"g711_{law}law", codec, (codec,), 8000, packet_samples, external=external)


def g722(packet_ms: float = 20.0) -> PyAVCodec:
    packet_samples = int(round(16000 * packet_ms / 1000))
    external = ExternalFormat(
        ffmpeg_args=("-c:a", "g722", "-f", "g722"), bytes_per_packet=packet_samples // 2
    )
    return PyAVCodec("g722", "g722", ("g722",), 16000, packet_samples, bit_rate=64000, external=external)


def amr_nb(bitrate_bps: int = 12200, dtx: bool = False) -> PyAVCodec:
    if bitrate_bps not in AMR_NB_BITRATES_BPS:
        raise ValueError(f"AMR-NB bitrate_bps must be one of {AMR_NB_BITRATES_BPS}, got {bitrate_bps}")
    external = ExternalFormat(ffmpeg_args=("-c:a", "libopencore_amrnb", "-f", "amr"))
    return PyAVCodec(
        "amr_nb",
        "libopencore_amrnb",
        ("libopencore_amrnb", "amrnb"),
        8000,
        160,
        bit_rate=bitrate_bps,
        options={"dtx": "1" if dtx else "0"},
        external=external,
        lost_packet=AMR_NO_DATA_FRAME,
    )


def gsm_fr() -> PyAVCodec:
    external = ExternalFormat(
        ffmpeg_args=("-c:a", "libgsm", "-f", "gsm"), sox_args=("-t", "gsm"), bytes_per_packet=33
    )
    return PyAVCodec("gsm_fr", "libgsm", ("gsm", "libgsm"), 8000, 160, bit_rate=13000, external=external)


def make_codec(name: str, **params: Any) -> PacketCodec:
    """A codec by name (see the module doc) with its parameters: ``make_codec("opus", bitrate_bps=16000)``."""
    from voipdns.voip.opus import OpusCodec  # opus.py imports this module

    factories = {
        "opus": OpusCodec,
        "g711_mulaw": lambda **kw: g711("mu", **kw),
        "g711_alaw": lambda **kw: g711("a", **kw),
        "g722": g722,
        "amr_nb": amr_nb,
        "gsm_fr": gsm_fr,
    }
    if name not in factories:
        raise ValueError(f"unknown codec {name!r}; choose one of {sorted(factories)}")
    try:
        return factories[name](**params)
    except TypeError as err:
        raise ValueError(f"codec {name!r}: bad parameters {params} ({err})") from err


def codec_available(name: str) -> bool:
    """Whether `name` can encode and decode here (PyAV or an external binary)."""
    from voipdns.voip.external_encoder import find_tool

    codec = make_codec(name)
    if isinstance(codec, PyAVCodec):
        encodes = pyav_has(codec.encoder, "w") or (codec.external is not None and find_tool(codec.external))
        return bool(encodes) and any(pyav_has(d, "r") for d in codec.decoders)
    return pyav_has("libopus", "w")


def available_codecs() -> list[str]:
    return [
        name
        for name in ("opus", "g711_mulaw", "g711_alaw", "g722", "amr_nb", "gsm_fr")
        if codec_available(name)
    ]
