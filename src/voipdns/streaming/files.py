"""Stream a file through a streamer frame by frame (as a live call would); report latency and frame times."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voipdns.chunking import stream_audio
from voipdns.streaming.base import Streamer


@dataclass
class StreamReport:
    source: str
    target: str
    samples: int
    sample_rate: int
    latency_samples: int
    latency_ms: float
    frames: int
    frame_mean_ms: float
    frame_p95_ms: float
    frame_max_ms: float
    frame_budget_ms: float  # audio per frame: a frame must be processed faster than this to keep up

    @property
    def real_time_factor(self) -> float:
        return self.frame_mean_ms / self.frame_budget_ms if self.frame_budget_ms else float("nan")

    def line(self) -> str:
        return (
            f"{self.source} -> {self.target}: {self.samples / self.sample_rate:.2f} s, latency "
            f"{self.latency_samples} samples ({self.latency_ms:.1f} ms), {self.frames} frames, "
            f"{self.frame_mean_ms:.2f} ms mean / {self.frame_p95_ms:.2f} ms p95 / "
            f"{self.frame_max_ms:.2f} ms max "
            f"per frame vs {self.frame_budget_ms:.1f} ms budget (RTF {self.real_time_factor:.3f})"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "real_time_factor": self.real_time_factor}


def stream_file(
    streamer: Streamer, source: str | Path, target: str | Path, block_samples: int | None = None
) -> StreamReport:
    """Feeds ``source`` in blocks of ``block_samples`` (default one hop) and writes a 16-bit WAV ``target``.

    The output has the input's length and alignment (the streamer removes its delay); it is written to a
    temporary file and renamed, so an interrupted run leaves no partial ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.partial")
    block = int(block_samples or streamer.hop_samples)
    if block <= 0:
        raise ValueError(f"block_samples must be > 0, got {block}")
    streamer.reset()
    try:
        with sf.SoundFile(
            str(temporary), "w", samplerate=streamer.sample_rate, channels=1, subtype="PCM_16", format="WAV"
        ) as sink:
            pending = np.zeros(0, dtype=np.float32)
            for chunk in stream_audio(source, streamer.sample_rate):
                pending = np.concatenate([pending, chunk])
                while pending.size >= block:
                    sink.write(np.clip(streamer.feed(pending[:block]), -1.0, 1.0))
                    pending = pending[block:]
            if pending.size:
                sink.write(np.clip(streamer.feed(pending), -1.0, 1.0))
            sink.write(np.clip(streamer.flush(), -1.0, 1.0))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    timing = streamer.timer.summary_ms()
    return StreamReport(
        source=str(source), target=str(target), samples=streamer.samples_in, sample_rate=streamer.sample_rate,
        latency_samples=streamer.latency_samples, latency_ms=streamer.latency_ms, frames=timing["frames"],
        frame_mean_ms=timing["mean_ms"], frame_p95_ms=timing["p95_ms"], frame_max_ms=timing["max_ms"],
        frame_budget_ms=streamer.frame_budget_ms,
    )  # fmt: skip
