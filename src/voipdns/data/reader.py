"""`AudioReader`: reads (parts of) files at one sample rate for datasets that crop on the fly.

Headers are read once per file; only the frames of a crop are decoded (a 4 s crop of a 3 min noise recording
does not decode 3 min); files up to `cache_max_seconds` are kept whole in memory after their first read.
Caches live per process, so each DataLoader worker fills its own.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import AudioFileError, AudioInfo, audio_info, load_audio
from voipdns.data.mixing import crop_or_pad, loop_to_length


class AudioReader:
    def __init__(self, sample_rate: int, cache_max_seconds: float = 0.0, min_seconds: float = 0.0) -> None:
        self.sample_rate = int(sample_rate)
        self.cache_max_seconds = float(cache_max_seconds)
        self.min_seconds = float(min_seconds)
        self._info: dict[str, AudioInfo] = {}
        self._cache: dict[str, torch.Tensor] = {}

    def info(self, path: str | os.PathLike) -> AudioInfo:
        key = str(path)
        if key not in self._info:
            info = audio_info(key)
            if info.frames <= 0:
                raise AudioFileError(key, "is empty (0 samples)")
            if info.duration_seconds < self.min_seconds:
                raise AudioFileError(
                    key, f"is too short: {info.duration_seconds:.3f} s < min_seconds={self.min_seconds:.3f} s"
                )
            self._info[key] = info
        return self._info[key]

    def num_samples(self, path: str | os.PathLike) -> int:
        """Length in samples at `self.sample_rate` (what `load(path)` returns)."""
        info = self.info(path)
        return int(round(info.frames * self.sample_rate / info.sample_rate))

    def load(self, path: str | os.PathLike, start_sample: int = 0, num_samples: int | None = None) -> torch.Tensor:
        """`[1, n]` from `start_sample` (at `self.sample_rate`); the whole file when `num_samples` is None.
        Near the end of the file fewer samples may come back; callers pad."""
        key = str(path)
        info = self.info(key)
        if key in self._cache or info.duration_seconds <= self.cache_max_seconds:
            whole = self._cache.get(key)
            if whole is None:
                whole = self._cache[key] = load_audio(key, self.sample_rate, min_seconds=self.min_seconds)
            stop = None if num_samples is None else start_sample + num_samples
            return whole[:, start_sample:stop]
        ratio = info.sample_rate / self.sample_rate
        start_frame = int(math.floor(start_sample * ratio))
        # a few extra file frames so that resampling still yields num_samples
        num_frames = None if num_samples is None else int(math.ceil(num_samples * ratio)) + int(math.ceil(ratio)) + 1
        wav = load_audio(key, self.sample_rate, start_frame=start_frame, num_frames=num_frames)
        return wav if num_samples is None else wav[:, :num_samples]

    def random_crop(
        self, path: str | os.PathLike, num_samples: int, rng: np.random.Generator, *, loop: bool = False
    ) -> torch.Tensor:
        """A random `num_samples` window `[1, num_samples]`; shorter files are looped (`loop`, for noise) or
        zero-padded at a random offset (speech)."""
        total = self.num_samples(path)
        if total > num_samples:
            start = int(rng.integers(0, total - num_samples + 1))
            wav = self.load(path, start, num_samples)
            if wav.shape[-1] < num_samples:  # header length and decoded length can differ by a few samples
                wav = torch.nn.functional.pad(wav, (0, num_samples - wav.shape[-1]))
            return wav
        wav = self.load(path)
        return loop_to_length(wav, num_samples, rng) if loop else crop_or_pad(wav, num_samples, rng)


def as_path_list(value: str | os.PathLike | list | tuple, name: str) -> list[Path]:
    """One folder or a list of folders (Hydra passes ListConfig) as a list of Paths."""
    if value is None or (isinstance(value, str) and value in ("", "???")):
        raise ValueError(f"{name} is required (got {value!r})")
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    paths = [Path(str(v)) for v in value]
    if not paths:
        raise ValueError(f"{name} is an empty list")
    return paths
