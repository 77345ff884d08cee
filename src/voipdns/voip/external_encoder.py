"""Fallback encoder: a system `ffmpeg` or `sox` binary, for codecs whose encoder PyAV was built without
(the PyAV wheels ship a GSM *decoder* but no GSM encoder, for instance).

The binary reads 16-bit mono PCM on stdin and writes the raw codec stream on stdout, which is cut back into
packets: fixed-size frames (G.711, G.722, GSM-FR) or AMR storage-format frames whose size follows from each
frame's header byte.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np


class CodecUnavailableError(RuntimeError):
    """Neither PyAV nor a system binary can encode/decode this codec; the message says what to install."""


#: AMR-NB storage format: total frame bytes (header byte included) for frame types 0..15
AMR_NB_FRAME_BYTES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
AMR_MAGIC = b"#!AMR\n"


@dataclass(frozen=True)
class ExternalFormat:
    """How to ask each binary for a raw codec stream, and how to cut it into packets."""

    ffmpeg_args: tuple[str, ...] | None = None
    sox_args: tuple[str, ...] | None = None
    bytes_per_packet: int | None = None  # fixed-size frames; None = AMR storage format


def find_tool(fmt: ExternalFormat) -> tuple[str, str] | None:
    """(tool name, path) of the first usable binary for `fmt`, or None."""
    for tool, args in (("ffmpeg", fmt.ffmpeg_args), ("sox", fmt.sox_args)):
        if args is not None and (path := shutil.which(tool)):
            return tool, path
    return None


def encode_external(
    pcm: np.ndarray, sample_rate: int, fmt: ExternalFormat, codec_name: str, bit_rate: int | None = None
) -> list[bytes]:
    """Encode int16 mono `pcm` with ffmpeg or sox and return the packets."""
    found = find_tool(fmt)
    if found is None:
        tools = " or ".join(t for t, a in (("ffmpeg", fmt.ffmpeg_args), ("sox", fmt.sox_args)) if a is not None)
        raise CodecUnavailableError(
            f"codec {codec_name!r}: PyAV here has no encoder for it and no {tools} binary is on PATH. "
            f"Install one (`apt-get install sox`, or an ffmpeg built with the codec) or pick another codec "
            f"(see voipdns.voip.codecs.available_codecs())."
        )
    tool, path = found
    if tool == "ffmpeg":
        rate_args = ("-b:a", str(bit_rate)) if bit_rate else ()
        cmd = [
            path,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            *rate_args,
            *fmt.ffmpeg_args,
            "pipe:1",
        ]
    else:
        cmd = [
            path,
            "-t",
            "raw",
            "-r",
            str(sample_rate),
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-c",
            "1",
            "-",
            *fmt.sox_args,
            "-",
        ]
    result = subprocess.run(
        cmd, input=np.ascontiguousarray(pcm, dtype="<i2").tobytes(), capture_output=True, check=False
    )
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise CodecUnavailableError(
            f"codec {codec_name!r}: `{' '.join(cmd)}` failed ({result.returncode}): {' | '.join(tail)}"
        )
    return split_packets(result.stdout, fmt, codec_name)


def split_packets(stream: bytes, fmt: ExternalFormat, codec_name: str) -> list[bytes]:
    if fmt.bytes_per_packet:
        size = fmt.bytes_per_packet
        usable = len(stream) - len(stream) % size
        return [stream[i : i + size] for i in range(0, usable, size)]
    if not stream.startswith(AMR_MAGIC):
        raise CodecUnavailableError(f"codec {codec_name!r}: encoder output is not an AMR storage stream")
    packets, pos = [], len(AMR_MAGIC)
    while pos < len(stream):
        size = AMR_NB_FRAME_BYTES[(stream[pos] >> 3) & 0x0F]
        packets.append(stream[pos : pos + size])
        pos += size
    return packets
