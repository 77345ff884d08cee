"""Audio file I/O: soundfile for reading/writing, soxr for resampling (no torchaudio anywhere).

Every reader checks the file and raises `AudioFileError` naming the file and the problem, so a bad file in a
dataset of thousands fails with its path instead of a NaN loss hours later.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from voipdns.resampler import resample  # noqa: F401  (the project's one resampler, part of this module's API)
from voipdns.truncated_audio import check_wav_length

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")


class AudioFileError(ValueError):
    """A file that cannot be used as audio; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    frames: int
    sample_rate: int
    channels: int

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Frames, rate and channels from the header only (no samples are decoded)."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(path, "no such file")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise AudioFileError(path, f"unreadable audio file ({_first_line(err)})") from err
    check_wav_length(path, int(info.frames), int(info.samplerate))  # warns when the header promises more
    return AudioInfo(frames=int(info.frames), sample_rate=int(info.samplerate), channels=int(info.channels))


def load_audio(
    path: str | os.PathLike,
    sample_rate: int,
    *,
    min_seconds: float = 0.0,
    mono: bool = True,
    start_frame: int = 0,
    num_frames: int | None = None,
) -> torch.Tensor:
    """Read `path` as float32 `[1, T]` (mono mix) or `[C, T]` (mono=False), resampled to `sample_rate` Hz.

    `start_frame`/`num_frames` read a part of the file, counted in the file's own frames (its rate), so long
    noise recordings are not decoded whole for a 4 s crop. `min_seconds` applies to the whole file.
    """
    info = audio_info(path)
    if info.frames <= 0:
        raise AudioFileError(path, "is empty (0 samples)")
    if info.duration_seconds < min_seconds:
        raise AudioFileError(path, f"is too short: {info.duration_seconds:.3f} s < min_seconds={min_seconds:.3f} s")
    stop = None if num_frames is None else start_frame + num_frames
    try:
        data, file_rate = sf.read(str(path), start=start_frame, stop=stop, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise AudioFileError(path, f"unreadable audio file ({_first_line(err)})") from err
    if data.shape[0] == 0:
        raise AudioFileError(path, f"no samples in frames [{start_frame}, {stop}) of {info.frames}")
    _check_finite(path, data)
    wav = data.T  # [C, T]
    if mono:
        wav = wav.mean(axis=0, keepdims=True)
    tensor = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    return resample(tensor, int(file_rate), sample_rate)


def _check_finite(path: str | os.PathLike, data: np.ndarray) -> None:
    finite = np.isfinite(data)
    if finite.all():
        return
    n_nan = int(np.isnan(data).sum())
    n_inf = int((~finite).sum()) - n_nan
    kinds = [f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "Inf")) if n]
    raise AudioFileError(path, f"contains non-finite samples: {', '.join(kinds)} of {data.size}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def save_audio(path: str | os.PathLike, wav: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write `wav` (`[T]` or `[C, T]`, float in [-1, 1]) as 16-bit PCM WAV, atomically (temp file + rename).

    Samples outside [-1, 1] are clipped with a warning that names the file and the peak.
    """
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise ValueError(f"save_audio writes 16-bit PCM WAV; {path} does not end in .wav")
    data = wav.detach().to("cpu", torch.float32).numpy() if isinstance(wav, torch.Tensor) else wav
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"save_audio({path}): expected [T] or [C, T], got shape {tuple(data.shape)}")
    if not np.isfinite(data).all():
        raise ValueError(f"save_audio({path}): waveform contains NaN or Inf")
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > 1.0:
        n_clipped = int((np.abs(data) > 1.0).sum())
        warnings.warn(f"{path}: clipping {n_clipped} samples (peak {peak:.3f} > 1.0)", stacklevel=2)
        data = np.clip(data, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sf.write(tmp_name, data.T, sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def list_audio_files(
    folder: str | os.PathLike,
    extensions: Sequence[str] | Iterable[str] = AUDIO_EXTENSIONS,
    *,
    recursive: bool = True,
) -> list[Path]:
    """Sorted audio files under `folder` (recursively by default) whose suffix is in `extensions`."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"audio folder {folder} does not exist or is not a directory")
    suffixes = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise FileNotFoundError(
            f"audio folder {folder} holds no files with extensions {sorted(suffixes)}"
            f"{' (searched recursively)' if recursive else ''}"
        )
    return files
