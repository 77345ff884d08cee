"""Truncated WAV files: the header promises more audio than the file holds (an interrupted copy or download).

libsndfile reads the samples that are there and says nothing, so a 5 s file cut after 1.7 s would train and
score as a 1.7 s clip. :func:`check_wav_length` compares the ``data`` chunk size in the RIFF header with the
frames present, warns once per file (``TruncatedAudioWarning``, naming the file and both durations) and records
it. :func:`truncated_files` lists what this run recorded, so its closing summary can count them; files found in
DataLoader or pool workers are shared through the file named by ``$VOIPDNS_TRUNCATED_AUDIO_LOG`` (set by the
entry points, inherited by the workers).
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

LOG_ENV = "VOIPDNS_TRUNCATED_AUDIO_LOG"
_MAX_CHUNKS = 64  # a WAV has a handful; a corrupt size field must not make this loop long
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the data size unset; RF64 puts it elsewhere


class TruncatedAudioWarning(UserWarning):
    """A WAV file holds less audio than its header says; the message names the file and both durations."""


@dataclass(frozen=True)
class Truncation:
    path: str
    header_seconds: float
    present_seconds: float

    def describe(self) -> str:
        return f"{self.path} ({self.header_seconds:.2f} s in the header, {self.present_seconds:.2f} s present)"


_recorded: dict[str, Truncation] = {}
_checked: dict[tuple[str, int, int], Truncation | None] = {}


def wav_header_frames(path: str | os.PathLike) -> int | None:
    """Frames the ``data`` chunk of a RIFF/RIFX WAV header declares; None if not a WAV or the size is unset."""
    with open(path, "rb") as handle:
        riff = handle.read(12)
        if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RIFX") or riff[8:12] != b"WAVE":
            return None
        order = "<" if riff[:4] == b"RIFF" else ">"
        block_align = 0
        for _ in range(_MAX_CHUNKS):
            header = handle.read(8)
            if len(header) < 8:
                return None
            chunk_id, size = header[:4], struct.unpack(f"{order}I", header[4:])[0]
            if chunk_id == b"data":
                return None if size in _UNKNOWN_SIZES or not block_align else size // block_align
            body = handle.read(size) if chunk_id == b"fmt " else None
            if body is not None and len(body) >= 14:
                block_align = struct.unpack(f"{order}H", body[12:14])[0]
            else:
                handle.seek(size, os.SEEK_CUR)
            if size % 2:
                handle.seek(1, os.SEEK_CUR)  # chunks are word aligned
    return None


def check_wav_length(path: str | os.PathLike, frames_present: int, sample_rate: int) -> Truncation | None:
    """Warn and record when the header of ``path`` declares more than ``frames_present`` frames."""
    path = str(path)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _checked:
        declared = wav_header_frames(path) if path.lower().endswith((".wav", ".wave")) else None
        truncated = declared is not None and declared > frames_present and sample_rate > 0
        _checked[key] = Truncation(path, declared / sample_rate, frames_present / sample_rate) if truncated else None
        if truncated:
            _record(_checked[key])
    return _checked[key]


def _record(truncation: Truncation) -> None:
    _recorded[truncation.path] = truncation
    warnings.warn(
        f"truncated WAV: {truncation.describe()}; reading the part that is there",
        TruncatedAudioWarning,
        stacklevel=4,
    )
    shared = os.environ.get(LOG_ENV)
    if shared:
        line = f"{truncation.path}\t{truncation.header_seconds}\t{truncation.present_seconds}\n"
        with open(shared, "a") as handle:  # one short append per file: whole lines even from several workers
            handle.write(line)


def forget_recorded() -> None:
    """Start a new run's record (entry points call it; one Python process may run several)."""
    _recorded.clear()
    _checked.clear()


def truncated_files() -> list[Truncation]:
    """Every truncated file this run read, in this process or (through ``$VOIPDNS_TRUNCATED_AUDIO_LOG``) its workers."""
    found = dict(_recorded)
    shared = os.environ.get(LOG_ENV)
    if shared and Path(shared).is_file():
        for line in Path(shared).read_text().splitlines():
            path, header, present = line.split("\t")
            found.setdefault(path, Truncation(path, float(header), float(present)))
    return sorted(found.values(), key=lambda truncation: truncation.path)


def summary_line(limit: int = 3) -> str | None:
    """``"2 truncated WAV file(s) were read short: a.wav (...), b.wav (...)"`` or None when there were none."""
    found = truncated_files()
    if not found:
        return None
    shown = ", ".join(truncation.describe() for truncation in found[:limit])
    more = f", and {len(found) - limit} more" if len(found) > limit else ""
    return f"{len(found)} truncated WAV file(s) were read short (header longer than the data): {shown}{more}"
