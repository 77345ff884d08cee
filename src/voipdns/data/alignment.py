"""Time alignment of a degraded recording (a VoIP relay, a codec output) to its clean reference.

`estimate_delay` works in two steps so it is both robust and sample-exact:
1. coarse: cross-correlate the *energy envelopes* (RMS over 4 ms, decimated to 1 ms steps). Envelopes survive
   what relays do to the waveform (phase-scrambling codecs, noise suppression, AGC), so the peak is reliable;
2. fine: cross-correlate the *waveforms* within +-2 coarse steps of that peak. When the waveform peak there is
   weak (a phase-scrambling codec), the coarse estimate is kept (1 ms resolution).

Convention: ``degraded[n] ~ reference[n - delay]``, i.e. a positive delay means the degraded signal lags.
A correlation peak below `min_correlation` raises `AlignmentError` naming the file: a relay that is not a copy
of its source (wrong pairing, silence, a truncated recording) must not be trained on silently.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EPS = 1e-12
ENVELOPE_STEP_SECONDS = 0.001
ENVELOPE_WINDOW_SECONDS = 0.004
#: below this waveform correlation the fine step keeps the coarse (envelope) estimate
MIN_WAVEFORM_CORRELATION = 0.2


class AlignmentError(ValueError):
    """The degraded signal cannot be aligned to its reference; the message names the file and the peak."""


@dataclass(frozen=True)
class DelayEstimate:
    delay_samples: int
    envelope_correlation: float  # normalised peak of the envelope cross-correlation (0..1)
    waveform_correlation: float  # normalised waveform correlation at the final delay (-1..1)


def _xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full cross-correlation c[k] = sum_n a[n + k] b[n] for k in [-(len(b)-1), len(a)-1], by FFT."""
    size = len(a) + len(b) - 1
    n_fft = 1 << (size - 1).bit_length()
    spec = np.fft.rfft(a, n_fft) * np.conj(np.fft.rfft(b, n_fft))
    full = np.fft.irfft(spec, n_fft)
    # lags 0..len(a)-1 sit at the start, negative lags wrap to the end
    return np.concatenate([full[n_fft - (len(b) - 1) :], full[: len(a)]]) if len(b) > 1 else full[: len(a)]


def envelope(wav: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """RMS envelope (`ENVELOPE_WINDOW_SECONDS` window, one value per `ENVELOPE_STEP_SECONDS`) and its step."""
    step = max(1, int(round(ENVELOPE_STEP_SECONDS * sample_rate)))
    window = max(step, int(round(ENVELOPE_WINDOW_SECONDS * sample_rate)))
    power = np.convolve(np.asarray(wav, dtype=np.float64) ** 2, np.ones(window) / window, mode="same")
    return np.sqrt(power[::step] + EPS), step


def _normalised_peak(c: np.ndarray, lags: np.ndarray, a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[int, float]:
    keep = np.abs(lags) <= max_lag
    c, lags = c[keep], lags[keep]
    best = int(np.argmax(c))
    norm = np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b))) + EPS
    return int(lags[best]), float(c[best] / norm)


def estimate_delay(
    reference: np.ndarray,
    degraded: np.ndarray,
    sample_rate: int,
    *,
    max_delay_seconds: float = 2.0,
    min_correlation: float = 0.3,
    name: str = "degraded signal",
) -> DelayEstimate:
    """Delay of `degraded` relative to `reference` in samples (see module doc); both 1-D at `sample_rate`."""
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    degraded = np.asarray(degraded, dtype=np.float64).reshape(-1)
    if reference.size == 0 or degraded.size == 0:
        raise AlignmentError(
            f"{name}: cannot align an empty signal (reference {reference.size}, degraded {degraded.size} samples)"
        )
    env_ref, step = envelope(reference, sample_rate)
    env_deg, _ = envelope(degraded, sample_rate)
    env_ref, env_deg = env_ref - env_ref.mean(), env_deg - env_deg.mean()
    lags = np.arange(-(len(env_ref) - 1), len(env_deg))
    max_lag_steps = max(1, int(max_delay_seconds * sample_rate / step))
    coarse, env_peak = _normalised_peak(_xcorr(env_deg, env_ref), lags, env_deg, env_ref, max_lag_steps)
    if not env_peak >= min_correlation:
        raise AlignmentError(
            f"{name}: cannot be aligned to its reference: envelope correlation peak {env_peak:.3f} < "
            f"min_correlation {min_correlation} (within +-{max_delay_seconds} s). Is it paired with the "
            f"right clean file, and does it contain the same speech?"
        )
    fine, wave_peak = _refine(reference, degraded, coarse * step, 2 * step)
    if wave_peak < MIN_WAVEFORM_CORRELATION:
        fine = coarse * step
    return DelayEstimate(delay_samples=fine, envelope_correlation=env_peak, waveform_correlation=wave_peak)


def _refine(reference: np.ndarray, degraded: np.ndarray, centre: int, radius: int) -> tuple[int, float]:
    """Best waveform lag in [centre - radius, centre + radius] and its normalised correlation."""
    c = _xcorr(degraded, reference)
    lags = np.arange(-(len(reference) - 1), len(degraded))
    keep = (lags >= centre - radius) & (lags <= centre + radius)
    if not keep.any():
        return centre, 0.0
    window_c, window_lags = c[keep], lags[keep]
    best = int(np.argmax(window_c))
    norm = np.sqrt(float(np.dot(reference, reference)) * float(np.dot(degraded, degraded))) + EPS
    return int(window_lags[best]), float(window_c[best] / norm)


def apply_delay(degraded: np.ndarray, delay_samples: int, length: int) -> np.ndarray:
    """Undo `delay_samples` and return exactly `length` samples (zero padding where the signal is missing)."""
    degraded = np.asarray(degraded).reshape(-1)
    out = np.zeros(length, dtype=degraded.dtype)
    if delay_samples >= 0:
        part = degraded[delay_samples : delay_samples + length]
        out[: len(part)] = part
    else:
        part = degraded[: max(0, length + delay_samples)]
        out[-delay_samples : -delay_samples + len(part)] = part
    return out


class DelayCache:
    """Delays measured once per file, kept in a JSON file keyed by path (invalidated by size or mtime)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self._entries: dict[str, dict] = {}
        self._dirty = False
        if self.path and self.path.is_file():
            try:
                self._entries = json.loads(self.path.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"delay cache {self.path} is not valid JSON ({err}); delete it to re-measure") from err

    @staticmethod
    def _stamp(file: Path) -> list[float]:
        stat = file.stat()
        return [stat.st_size, round(stat.st_mtime, 3)]

    def get(self, file: str | os.PathLike) -> int | None:
        file = Path(file)
        entry = self._entries.get(str(file))
        if entry is None or entry.get("stamp") != self._stamp(file):
            return None
        return int(entry["delay_samples"])

    def put(self, file: str | os.PathLike, delay_samples: int) -> None:
        file = Path(file)
        self._entries[str(file)] = {"delay_samples": int(delay_samples), "stamp": self._stamp(file)}
        self._dirty = True

    def save(self) -> None:
        """Merge with the file on disk and write atomically (temp file + rename): concurrent writers lose no
        more than their last few entries and readers never see half a file."""
        if not self.path or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():  # other processes (DataLoader workers) may have added entries meanwhile
            try:
                self._entries = {**json.loads(self.path.read_text()), **self._entries}
            except json.JSONDecodeError:
                pass  # replaced below by a valid file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(self._entries, handle, indent=0, sort_keys=True)
        os.replace(tmp, self.path)
        self._dirty = False

    def __len__(self) -> int:
        return len(self._entries)
