"""Progress bars for the long-running apps (enhance, simulate, INT8 calibration): files done, audio seconds and
the real-time factor (processing time / audio duration) on one line, instead of a log line per file."""

from __future__ import annotations

import time

from tqdm.auto import tqdm


class AudioProgress:
    """A tqdm bar counting files (or clips), with the audio seconds done and the running real-time factor.

    ``enabled=False`` keeps the counts without drawing; ``TQDM_DISABLE=1`` in the environment silences every bar.
    """

    def __init__(self, total: int, description: str, enabled: bool = True, unit: str = "file"):
        self.bar = tqdm(total=total, desc=description, unit=unit, disable=not enabled, dynamic_ncols=True)
        self.audio_seconds = 0.0
        self.files = 0
        self.started = time.perf_counter()

    @property
    def elapsed_seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def real_time_factor(self) -> float:
        return self.elapsed_seconds / self.audio_seconds if self.audio_seconds else float("nan")

    def update(self, files: int = 1, audio_seconds: float = 0.0) -> None:
        self.files += files
        self.audio_seconds += audio_seconds
        self.bar.set_postfix_str(f"audio {self.audio_seconds:.1f} s, RTF {self.real_time_factor:.3f}", refresh=False)
        self.bar.update(files)

    def summary(self) -> str:
        return (
            f"{self.files} processed, {self.audio_seconds:.1f} s of audio in {self.elapsed_seconds:.1f} s "
            f"(RTF {self.real_time_factor:.3f})"
        )

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> AudioProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
