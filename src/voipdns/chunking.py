"""Enhancing files of any length with bounded memory: streamed reading, overlapping chunks, crossfaded output.

Memory holds one chunk (``chunk_seconds`` + ``overlap_seconds``) of audio at a time, whatever the file's length.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from voipdns.resampler import stream_resampler

#: samples read from disk per block; independent of the model's chunk length
READ_BLOCK_SAMPLES = 1 << 16


class AudioStreamError(ValueError):
    """A file that cannot be streamed: the message names the file and the problem."""


def stream_audio(path: str | Path, sample_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks of ``path`` at ``sample_rate`` (resampled on the fly, ``resampler.stream_resampler``)."""
    try:
        handle = sf.SoundFile(str(path))
    except Exception as error:  # soundfile raises several types for unreadable files
        raise AudioStreamError(f"{path}: cannot read audio ({error})") from error
    with handle:
        if handle.frames == 0:
            raise AudioStreamError(f"{path}: file is empty (0 samples)")
        resampler = stream_resampler(handle.samplerate, sample_rate)
        for block in handle.blocks(blocksize=READ_BLOCK_SAMPLES, dtype="float32", always_2d=True):
            mono = block.mean(axis=1)
            if not np.isfinite(mono).all():
                raise AudioStreamError(f"{path}: contains NaN/Inf samples")
            yield resampler.resample_chunk(mono) if resampler else mono
        if resampler:
            yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def crossfade(previous_tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Equal-power-sum fade (sin^2 + cos^2 = 1): identical inputs come out unchanged."""
    ramp = np.sin(0.5 * np.pi * (np.arange(len(head)) + 0.5) / len(head)) ** 2
    return previous_tail * (1.0 - ramp) + head * ramp


class ChunkedEnhancer:
    """Runs ``enhance(chunk[np.float32]) -> chunk`` over a block stream with overlapping, crossfaded chunks."""

    def __init__(self, enhance: Callable[[np.ndarray], np.ndarray], chunk_samples: int, overlap_samples: int):
        if not 0 <= overlap_samples < chunk_samples:
            raise ValueError(f"need 0 <= overlap ({overlap_samples}) < chunk ({chunk_samples}) samples")
        self.enhance = enhance
        self.chunk_samples = chunk_samples
        self.overlap_samples = overlap_samples
        self.chunks_processed = 0

    def _run(self, segment: np.ndarray) -> np.ndarray:
        self.chunks_processed += 1
        out = np.asarray(self.enhance(segment), dtype=np.float32)
        if out.shape != segment.shape:
            raise ValueError(f"enhancer returned {out.shape} samples for a chunk of {segment.shape}")
        return out

    def process(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        buffer = np.zeros(0, dtype=np.float32)
        tail: np.ndarray | None = None  # enhanced overlap of the previous chunk, waiting for its crossfade
        overlap = self.overlap_samples
        for block in blocks:
            buffer = np.concatenate([buffer, block])
            while len(buffer) >= self.chunk_samples:
                out = self._run(buffer[: self.chunk_samples])
                if tail is not None:
                    out[:overlap] = crossfade(tail, out[:overlap])
                yield out[: len(out) - overlap]
                tail = out[len(out) - overlap :] if overlap else None
                buffer = buffer[self.chunk_samples - overlap :]
        if tail is not None and len(buffer) == overlap:
            yield tail  # nothing new after the last full chunk
        elif len(buffer) > 0:
            out = self._run(buffer)
            if tail is not None:
                out[:overlap] = crossfade(tail, out[:overlap])
            yield out


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; ``cuda`` without a usable GPU is an error saying so, not a crash deep inside."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device}: torch {torch.__version__} sees no CUDA GPU (a CPU build of torch, or "
            "no driver); use device=cpu"
        )
    return resolved


def torch_enhancer(net: torch.nn.Module, device: str | torch.device = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """Wraps a waveform net as numpy chunk -> numpy chunk."""
    device = resolve_device(device)
    net = net.to(device).eval()

    @torch.inference_mode()
    def enhance(chunk: np.ndarray) -> np.ndarray:
        noisy = torch.from_numpy(np.ascontiguousarray(chunk)).to(device).view(1, 1, -1)
        return net(noisy).view(-1).float().cpu().numpy()

    return enhance


def torch_batch_enhancer(
    net: torch.nn.Module, device: str | torch.device = "cpu"
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Wraps a waveform net as a list of clips -> their enhanced clips, run as one zero-padded ``[B, 1, T]``
    batch; each output is cropped back to its clip's length."""
    device = resolve_device(device)
    net = net.to(device).eval()

    @torch.inference_mode()
    def enhance_batch(clips: list[np.ndarray]) -> list[np.ndarray]:
        batch = np.zeros((len(clips), 1, max(len(clip) for clip in clips)), dtype=np.float32)
        for row, clip in zip(batch, clips, strict=True):
            row[0, : len(clip)] = clip
        out = net(torch.from_numpy(batch).to(device)).float().cpu().numpy()
        return [out[index, 0, : len(clip)].copy() for index, clip in enumerate(clips)]

    return enhance_batch


def enhance_file(
    enhance: Callable[[np.ndarray], np.ndarray],
    source: str | Path,
    target: str | Path,
    sample_rate: int,
    chunk_seconds: float = 20.0,
    overlap_seconds: float = 1.0,
) -> int:
    """Enhances ``source`` into a 16-bit WAV ``target`` (written to a temp file, then renamed). Returns samples."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.partial")
    chunker = ChunkedEnhancer(enhance, round(chunk_seconds * sample_rate), round(overlap_seconds * sample_rate))
    written = 0
    try:
        with sf.SoundFile(
            str(temporary), "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV"
        ) as sink:
            for out in chunker.process(stream_audio(source, sample_rate)):
                sink.write(np.clip(out, -1.0, 1.0))
                written += len(out)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return written
