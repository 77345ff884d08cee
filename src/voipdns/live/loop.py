"""The live loop: source -> streamer -> post-processing -> sink, block by block, with timing and latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from voipdns.live.io import AudioSink, AudioSource
from voipdns.live.postprocess import PostChain
from voipdns.streaming.base import Streamer


@dataclass
class LiveReport:
    input_samples: int
    output_samples: int
    sample_rate: int
    latency_samples: int  # the streamer's algorithmic latency
    first_output_after_samples: int | None  # input read when the first enhanced sample was written
    blocks: int
    late_blocks: int  # blocks whose processing took longer than their own duration (real-time misses)
    block_mean_ms: float
    block_max_ms: float

    def line(self) -> str:
        first = self.first_output_after_samples
        first_ms = f"{1000 * first / self.sample_rate:.1f} ms" if first is not None else "never"
        return (
            f"{self.input_samples / self.sample_rate:.2f} s in, "
            f"{self.output_samples / self.sample_rate:.2f} s out; "
            f"algorithmic latency {1000 * self.latency_samples / self.sample_rate:.1f} ms, "
            "first output after "
            f"{first_ms} of input; {self.blocks} blocks, {self.block_mean_ms:.2f} ms mean / "
            f"{self.block_max_ms:.2f} ms max, {self.late_blocks} late"
        )


def run_live(
    source: AudioSource,
    streamer: Streamer,
    sink: AudioSink,
    post: PostChain | None = None,
    max_seconds: float | None = None,
) -> LiveReport:
    """Runs until the source ends (then flushes the streamer) or ``max_seconds`` of input were read."""
    if source.sample_rate != streamer.sample_rate or sink.sample_rate != streamer.sample_rate:
        raise ValueError(
            f"sample rates differ: source {source.sample_rate} Hz, model {streamer.sample_rate} Hz, "
            f"sink {sink.sample_rate} Hz"
        )
    post = post or PostChain()
    streamer.reset()
    post.reset()
    limit = None if max_seconds is None else int(max_seconds * streamer.sample_rate)
    read = written = blocks = late = 0
    first_output: int | None = None
    durations: list[float] = []

    def emit(samples: np.ndarray) -> None:
        nonlocal written, first_output
        if samples.size:
            if first_output is None:
                first_output = read
            sink.write(post(samples))
            written += samples.size

    try:
        while limit is None or read < limit:
            block = source.read()
            if block is None:
                emit(streamer.flush())
                break
            started = time.perf_counter()
            read += block.size
            emit(streamer.feed(block))
            elapsed = time.perf_counter() - started
            durations.append(elapsed)
            blocks += 1
            late += elapsed > block.size / streamer.sample_rate
    finally:
        source.close()
        sink.close()
    ms = 1000 * np.asarray(durations) if durations else np.zeros(1)
    return LiveReport(
        input_samples=read, output_samples=written, sample_rate=streamer.sample_rate,
        latency_samples=streamer.latency_samples, first_output_after_samples=first_output, blocks=blocks,
        late_blocks=int(late), block_mean_ms=float(ms.mean()), block_max_ms=float(ms.max()),
    )  # fmt: skip
