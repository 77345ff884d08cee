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
(G.711, G.722, GSM) use `RepeatFadeConcealer`. The interface and the PyAV codec are in `packet_codec.py`.
"""

from __future__ import annotations

from typing import Any

from voipdns.voip.external_encoder import CodecUnavailableError, ExternalFormat, find_tool
from voipdns.voip.opus import OpusCodec
from voipdns.voip.packet_codec import PacketCodec, PyAVCodec, pyav_has

AMR_NB_BITRATES_BPS = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)
AMR_NO_DATA_FRAME = bytes([15 << 3 | 1 << 2])  # frame type 15 (NO_DATA), quality bit set


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
    external = ExternalFormat(ffmpeg_args=("-c:a", "g722", "-f", "g722"), bytes_per_packet=packet_samples // 2)
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
    external = ExternalFormat(ffmpeg_args=("-c:a", "libgsm", "-f", "gsm"), sox_args=("-t", "gsm"), bytes_per_packet=33)
    return PyAVCodec("gsm_fr", "libgsm", ("gsm", "libgsm"), 8000, 160, bit_rate=13000, external=external)


def make_codec(name: str, **params: Any) -> PacketCodec:
    """A codec by name (see the module doc) with its parameters: ``make_codec("opus", bitrate_bps=16000)``."""
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
    codec = make_codec(name)
    if isinstance(codec, PyAVCodec):
        encodes = pyav_has(codec.encoder, "w") or (codec.external is not None and find_tool(codec.external))
        return bool(encodes) and any(pyav_has(d, "r") for d in codec.decoders)
    return pyav_has("libopus", "w")


def available_codecs() -> list[str]:
    return [name for name in ("opus", "g711_mulaw", "g711_alaw", "g722", "amr_nb", "gsm_fr") if codec_available(name)]


__all__ = ["CodecUnavailableError", "PacketCodec", "PyAVCodec", "available_codecs", "codec_available", "make_codec"]
