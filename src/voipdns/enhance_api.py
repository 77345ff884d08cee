"""The Python file API: ``voipdns.enhance_file(path, checkpoint=..., output=...)`` (arrays: ``net.enhance``,
``voipdns.enhance_arrays``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from voipdns.chunking import enhance_file as enhance_chunked
from voipdns.enhancers import load_enhancer


@lru_cache(maxsize=2)
def _cached_enhancer(checkpoint: str, device: str):
    return load_enhancer(checkpoint, device)


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}_enhanced.wav")


def enhance_file(
    path: str | Path,
    checkpoint: str | Path = "voipdns-gtcrn",
    output: str | Path | None = None,
    *,
    device: str = "cpu",
    chunk_seconds: float = 20.0,
    overlap_seconds: float = 1.0,
) -> Path:
    """Enhance one audio file into a 16-bit WAV at the model's sample rate; returns the output path.

    ``checkpoint``: a registry name (default: the shipped ``voipdns-gtcrn``, no download), a checkpoint file or
    an exported ``.onnx`` (loaded once and kept for the next call). ``output`` defaults to
    ``<name>_enhanced.wav`` beside the input. Long files are processed in overlapping chunks, so memory stays
    bounded.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"enhance_file: {source} does not exist")
    target = Path(output) if output is not None else default_output(source)
    if target.resolve() == source.resolve():
        raise ValueError(f"enhance_file: output {target} would overwrite its input")
    enhancer = _cached_enhancer(str(checkpoint), device)
    enhance_chunked(enhancer.enhance, source, target, enhancer.sample_rate, chunk_seconds, overlap_seconds)
    return target
