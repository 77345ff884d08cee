"""Opus: PyAV's libopus encoder (bitrate, frame size, in-band FEC, expected loss) and a libopus decoder called
through ctypes, because FFmpeg's Opus decoders cannot be told that a packet is missing.

Decoding a lost packet n, as a real receiver does:
- packet n+1 arrived and carries in-band FEC (LBRR) data: ``opus_decode(packet n+1, decode_fec=1)`` recovers
  a low-bitrate copy of packet n;
- otherwise ``opus_decode(NULL)``: Opus packet loss concealment (pitch-synchronous extrapolation, fading out).
The libopus shared library is the one bundled with PyAV (av.libs/) or the system's (`ctypes.util`). Without
one, packets are decoded by PyAV and lost ones are concealed by repeat-and-fade (a warning says so once).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import av
import numpy as np

from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.resampler import resample
from voipdns.voip.concealment import RepeatFadeConcealer
from voipdns.voip.packet_codec import PacketCodec, PyAVCodec, frames_to_float

OPUS_RATES_HZ = (8000, 12000, 16000, 24000, 48000)
OPUS_FRAME_MS = (2.5, 5.0, 10.0, 20.0, 40.0, 60.0)
MAX_FRAME_SAMPLES = 5760  # 120 ms at 48 kHz, the largest Opus packet


@lru_cache(maxsize=1)
def load_libopus() -> ctypes.CDLL | None:
    """libopus (PyAV's bundled copy or the system's) with the prototypes used here; None if absent."""
    candidates = glob.glob(os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libopus*"))
    system = ctypes.util.find_library("opus")
    for path in [*candidates, *([system] if system else [])]:
        try:
            lib = ctypes.CDLL(path)
            lib.opus_decoder_create.restype = ctypes.c_void_p
            lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            lib.opus_decode.argtypes = [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_int32,
                ctypes.POINTER(ctypes.c_int16),
                ctypes.c_int,
                ctypes.c_int,
            ]
            lib.opus_decode.restype = ctypes.c_int
            lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
            return lib
        except (OSError, AttributeError):
            continue
    return None


class _LibopusDecoder:
    def __init__(self, lib: ctypes.CDLL, sample_rate: int):
        error = ctypes.c_int()
        self.lib, self.handle = lib, lib.opus_decoder_create(sample_rate, 1, ctypes.byref(error))
        if error.value != 0 or not self.handle:
            raise RuntimeError(f"opus_decoder_create({sample_rate} Hz) failed with error {error.value}")
        self.buffer = (ctypes.c_int16 * MAX_FRAME_SAMPLES)()

    def decode(self, data: bytes | None, frame_samples: int, fec: bool = False) -> np.ndarray:
        size = frame_samples if (data is None or fec) else MAX_FRAME_SAMPLES
        count = self.lib.opus_decode(self.handle, data, len(data) if data else 0, self.buffer, size, int(fec))
        if count < 0:
            raise RuntimeError(f"opus_decode failed with error {count}")
        return np.frombuffer(self.buffer, dtype=np.int16, count=count).astype(np.float32) / 32768.0

    def close(self) -> None:
        if self.handle:
            self.lib.opus_decoder_destroy(self.handle)
            self.handle = None


@dataclass
class OpusCodec(PacketCodec):
    """Opus with its encoder controls; `sample_rate` is the rate audio enters and leaves the codec."""

    bitrate_bps: int = 24000
    frame_ms: float = 20.0
    fec: bool = True
    expected_loss_percent: int = 5
    application: str = "voip"
    sample_rate: int = DEFAULT_SAMPLE_RATE
    vbr: str = "on"
    complexity: int = 10  # 0-10: encoder effort (10 = libopus default; 5 is about 2x faster)

    def __post_init__(self) -> None:
        self.name = "opus"
        if self.sample_rate not in OPUS_RATES_HZ:
            raise ValueError(f"Opus sample_rate must be one of {OPUS_RATES_HZ} Hz, got {self.sample_rate}")
        if float(self.frame_ms) not in OPUS_FRAME_MS:
            raise ValueError(f"Opus frame_ms must be one of {OPUS_FRAME_MS}, got {self.frame_ms}")
        if not 6000 <= self.bitrate_bps <= 510000:
            raise ValueError(f"Opus bitrate_bps must be in [6000, 510000], got {self.bitrate_bps}")
        if not 0 <= self.expected_loss_percent <= 100:
            raise ValueError(f"Opus expected_loss_percent must be in [0, 100], got {self.expected_loss_percent}")
        if not 0 <= self.complexity <= 10:
            raise ValueError(f"Opus complexity must be in [0, 10], got {self.complexity}")
        if self.application not in ("voip", "audio", "lowdelay"):
            raise ValueError(f"Opus application must be voip/audio/lowdelay, got {self.application!r}")
        self.packet_samples = int(round(self.sample_rate * self.frame_ms / 1000))
        self._encoder = PyAVCodec(
            "opus",
            "libopus",
            ("libopus", "opus"),
            self.sample_rate,
            self.packet_samples,
            bit_rate=self.bitrate_bps,
            options={
                "application": self.application,
                "frame_duration": f"{self.frame_ms:g}",
                "fec": "1" if self.fec else "0",
                "packet_loss": str(int(self.expected_loss_percent)),
                "vbr": self.vbr,
                "compression_level": str(self.complexity),
            },
        )

    def config(self) -> dict[str, Any]:
        return {
            "codec": "opus",
            "bitrate_bps": self.bitrate_bps,
            "frame_ms": self.frame_ms,
            "fec": self.fec,
            "expected_loss_percent": self.expected_loss_percent,
            "application": self.application,
            "sample_rate": self.sample_rate,
            "vbr": self.vbr,
            "complexity": self.complexity,
            "decoder": "libopus" if load_libopus() else "pyav",
        }

    def encode(self, wav: np.ndarray) -> list[bytes]:
        return self._encoder.encode(wav)

    def decode(self, packets: Sequence[bytes | None]) -> np.ndarray:
        lib = load_libopus()
        if lib is None:
            return self._decode_pyav(packets)
        decoder = _LibopusDecoder(lib, self.sample_rate)
        try:
            chunks = []
            for i, packet in enumerate(packets):
                if packet is not None:
                    chunks.append(decoder.decode(packet, self.packet_samples))
                    continue
                following = packets[i + 1] if i + 1 < len(packets) else None
                use_fec = self.fec and following is not None
                chunks.append(decoder.decode(following if use_fec else None, self.packet_samples, fec=use_fec))
            return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        finally:
            decoder.close()

    def _decode_pyav(self, packets: Sequence[bytes | None]) -> np.ndarray:
        """Fallback without libopus: FFmpeg decodes at 48 kHz; lost packets get repeat-and-fade."""
        _warn_no_libopus()
        ctx = av.CodecContext.create("libopus" if "libopus" in av.codecs_available else "opus", "r")
        concealer, chunks = RepeatFadeConcealer(), []
        packet_48k = int(round(48000 * self.frame_ms / 1000))
        for packet in packets:
            if packet is None:
                chunks.append(concealer.lost(packet_48k))
                continue
            decoded = [frames_to_float(f) for f in ctx.decode(av.Packet(packet))]
            chunks.append(concealer.good(np.concatenate(decoded) if decoded else np.zeros(0, np.float32)))
        wav_48k = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return resample(wav_48k, 48000, self.sample_rate).astype(np.float32)


@lru_cache(maxsize=1)
def _warn_no_libopus() -> None:
    warnings.warn(
        "libopus could not be loaded through ctypes: Opus packet loss is concealed by repeat-and-fade "
        "instead of Opus PLC/FEC",
        stacklevel=3,
    )
