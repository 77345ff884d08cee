"""Where live audio comes from and goes to: protocols, plus file/array implementations for tests and demos.

A source yields mono float32 blocks at ``sample_rate`` (``read() -> block | None`` at its end); a sink takes
mono float32 blocks. The device backend (``voipdns.live.devices``) implements the same protocols.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import soundfile as sf

from voipdns.chunking import stream_audio


@runtime_checkable
class AudioSource(Protocol):
    sample_rate: int

    def read(self) -> np.ndarray | None:
        """The next block (mono float32), or None when the source has ended."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AudioSink(Protocol):
    sample_rate: int

    def write(self, samples: np.ndarray) -> None: ...

    def close(self) -> None: ...


def _reblock(blocks: Iterator[np.ndarray], block_samples: int) -> Iterator[np.ndarray]:
    pending = np.zeros(0, dtype=np.float32)
    for block in blocks:
        pending = np.concatenate([pending, block])
        while pending.size >= block_samples:
            yield pending[:block_samples]
            pending = pending[block_samples:]
    if pending.size:
        yield pending


class ArraySource:
    """Blocks of an in-memory signal."""

    def __init__(self, samples: np.ndarray, sample_rate: int, block_samples: int):
        if block_samples <= 0:
            raise ValueError(f"block_samples must be > 0, got {block_samples}")
        self.sample_rate = int(sample_rate)
        self._blocks = _reblock(iter([np.asarray(samples, dtype=np.float32).reshape(-1)]), block_samples)

    def read(self) -> np.ndarray | None:
        return next(self._blocks, None)

    def close(self) -> None:
        self._blocks = iter(())


class FileSource(ArraySource):
    """Blocks of an audio file, resampled to ``sample_rate`` while reading (any length, bounded memory)."""

    def __init__(self, path: str | Path, sample_rate: int, block_samples: int):
        if block_samples <= 0:
            raise ValueError(f"block_samples must be > 0, got {block_samples}")
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self._blocks = _reblock(stream_audio(self.path, self.sample_rate), block_samples)


class ArraySink:
    """Collects what it is given (``samples()`` returns it all)."""

    def __init__(self, sample_rate: int):
        self.sample_rate = int(sample_rate)
        self.blocks: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> None:
        self.blocks.append(np.asarray(samples, dtype=np.float32).reshape(-1).copy())

    def samples(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        pass


class FileSink:
    """A 16-bit WAV written as blocks arrive; renamed into place on ``close`` (no partial file left)."""

    def __init__(self, path: str | Path, sample_rate: int):
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = self.path.with_name(f".{self.path.name}.partial")
        self._file = sf.SoundFile(
            str(self._temporary), "w", samplerate=self.sample_rate, channels=1, subtype="PCM_16", format="WAV"
        )

    def write(self, samples: np.ndarray) -> None:
        self._file.write(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
            os.replace(self._temporary, self.path)
