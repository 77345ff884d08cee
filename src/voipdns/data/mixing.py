"""On-the-fly mixing of clean speech and noise, shared by every synthesised dataset.

Conventions (the DNS-Challenge synthesiser uses the same):
- Levels are dBFS of the RMS with full scale = 1.0: `level_dbfs = 20*log10(rms)`, so -25 dBFS is rms 0.056.
- SNR is `10*log10(P_speech / P_noise)` where P_speech is the mean power over *active* speech frames (frames
  within `ACTIVE_FLOOR_DB` of the loudest 20 ms frame) and P_noise the mean power over the *whole* noise
  segment. Pauses therefore do not lower the speech power, so a sentence with long pauses is not mixed louder.
- Randomness always comes from an explicit `numpy.random.Generator`, so an item is a function of its seed.

Tensors are `[..., T]` float32 (time last); the item convention is `[1, T]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

EPS = 1e-10
ACTIVE_FLOOR_DB = 40.0  # frames quieter than the loudest frame by more than this are pauses
ACTIVE_FRAME_SECONDS = 0.02


def power(wav: torch.Tensor) -> float:
    """Mean power over all samples."""
    return float(wav.double().pow(2).mean()) if wav.numel() else 0.0


def level_dbfs(wav: torch.Tensor) -> float:
    """RMS level in dBFS (full scale = 1.0)."""
    return 10.0 * float(np.log10(power(wav) + EPS))


def active_frame_mask(wav: torch.Tensor, sample_rate: int, floor_db: float = ACTIVE_FLOOR_DB) -> torch.Tensor:
    """Bool mask over 20 ms frames of `wav` (leading dims averaged): True where speech is active."""
    frame = max(1, int(round(ACTIVE_FRAME_SECONDS * sample_rate)))
    flat = wav.reshape(-1, wav.shape[-1]).double().pow(2).mean(0)
    n_frames = max(1, flat.shape[-1] // frame)
    frames = flat[: n_frames * frame].reshape(n_frames, -1) if flat.shape[-1] >= frame else flat[None]
    energy = frames.mean(-1)
    peak = float(energy.max())
    if peak <= EPS:
        return torch.zeros(n_frames, dtype=torch.bool)
    return energy > peak * 10.0 ** (-floor_db / 10.0)


def active_power(wav: torch.Tensor, sample_rate: int, floor_db: float = ACTIVE_FLOOR_DB) -> float:
    """Mean power over active frames (see module doc); 0.0 for digital silence."""
    frame = max(1, int(round(ACTIVE_FRAME_SECONDS * sample_rate)))
    mask = active_frame_mask(wav, sample_rate, floor_db)
    if not bool(mask.any()):
        return 0.0
    flat = wav.reshape(-1, wav.shape[-1]).double().pow(2).mean(0)
    if flat.shape[-1] < frame:
        return float(flat.mean())
    frames = flat[: mask.shape[0] * frame].reshape(mask.shape[0], -1)
    return float(frames[mask].mean())


def snr_db(clean: torch.Tensor, noise: torch.Tensor, sample_rate: int, active_speech: bool = True) -> float:
    """SNR in dB as used by `mix_at_snr` (speech power over active frames when `active_speech`)."""
    p_speech = active_power(clean, sample_rate) if active_speech else power(clean)
    return 10.0 * float(np.log10((p_speech + EPS) / (power(noise) + EPS)))


def scale_to_level(wav: torch.Tensor, target_dbfs: float) -> tuple[torch.Tensor, float]:
    """Scale `wav` to an RMS of `target_dbfs`; returns (scaled, linear gain). Silence is left unchanged."""
    current = power(wav)
    if current <= EPS:
        return wav, 1.0
    gain = 10.0 ** (target_dbfs / 20.0) / np.sqrt(current)
    return wav * gain, float(gain)


def scale_noise_to_snr(
    clean: torch.Tensor,
    noise: torch.Tensor,
    snr_db_value: float,
    sample_rate: int,
    active_speech: bool = True,
) -> torch.Tensor:
    """Noise scaled so that `snr_db(clean, noise) == snr_db_value`; unchanged if speech or noise is silent."""
    p_speech = active_power(clean, sample_rate) if active_speech else power(clean)
    p_noise = power(noise)
    if p_speech <= EPS or p_noise <= EPS:
        return noise
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db_value / 10.0)))
    return noise * float(gain)


@dataclass
class ClipReport:
    """What `prevent_clipping` did: `gain` (1.0 when nothing was needed) and the peak before it."""

    clipped: bool
    gain: float
    peak_before: float


def prevent_clipping(
    noisy: torch.Tensor, *others: torch.Tensor, max_abs: float = 0.99
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], ClipReport]:
    """If |noisy| exceeds `max_abs`, rescale noisy and `others` (clean, noise) by one gain so SNR is kept."""
    peak = float(noisy.abs().max()) if noisy.numel() else 0.0
    if peak <= max_abs:
        return noisy, others, ClipReport(clipped=False, gain=1.0, peak_before=peak)
    gain = max_abs / peak
    return (
        noisy * gain,
        tuple(o * gain for o in others),
        ClipReport(clipped=True, gain=gain, peak_before=peak),
    )


def crop_or_pad(wav: torch.Tensor, length_samples: int, rng: np.random.Generator) -> torch.Tensor:
    """A random `length_samples` window of `wav`; shorter input is zero-padded at a random offset."""
    total = wav.shape[-1]
    if total == length_samples:
        return wav
    if total > length_samples:
        start = int(rng.integers(0, total - length_samples + 1))
        return wav[..., start : start + length_samples]
    left = int(rng.integers(0, length_samples - total + 1))
    return torch.nn.functional.pad(wav, (left, length_samples - total - left))


def loop_to_length(wav: torch.Tensor, length_samples: int, rng: np.random.Generator) -> torch.Tensor:
    """Tile `wav` (starting at a random offset) until it is `length_samples` long; used for short noises."""
    total = wav.shape[-1]
    if total == 0:
        raise ValueError("cannot loop an empty signal to length")
    if total >= length_samples:
        return crop_or_pad(wav, length_samples, rng)
    start = int(rng.integers(0, total))
    rolled = torch.roll(wav, -start, dims=-1)
    repeats = -(-length_samples // total)
    return rolled.repeat(*([1] * (wav.dim() - 1)), repeats)[..., :length_samples]


@dataclass
class Mixture:
    """A mixed example: `noisy = clean + noise` exactly, at `snr_db` and `level_dbfs` (before clip fixing)."""

    clean: torch.Tensor
    noise: torch.Tensor
    noisy: torch.Tensor
    snr_db: float
    level_dbfs: float
    clip: ClipReport


def mix(
    clean: torch.Tensor,
    noise: torch.Tensor,
    snr_db_value: float,
    level_dbfs_value: float,
    sample_rate: int,
    *,
    active_speech: bool = True,
    max_abs: float = 0.99,
) -> Mixture:
    """Mix at `snr_db_value`, scale the mixture to `level_dbfs_value` (clean and noise by the same gain),
    then rescale all three if the mixture would clip. `clean` and `noise` must have the same shape."""
    if clean.shape != noise.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and noise {tuple(noise.shape)} must have the same shape")
    noise = scale_noise_to_snr(clean, noise, snr_db_value, sample_rate, active_speech)
    noisy, gain = scale_to_level(clean + noise, level_dbfs_value)
    clean, noise = clean * gain, noise * gain
    noisy, (clean, noise), report = prevent_clipping(noisy, clean, noise, max_abs=max_abs)
    return Mixture(clean, noise, noisy, float(snr_db_value), float(level_dbfs_value), report)


def uniform(rng: np.random.Generator, value_range: tuple[float, float] | float) -> float:
    """A draw from [low, high] (a single number is returned as is); used for SNR and level ranges."""
    if isinstance(value_range, (int, float)):
        return float(value_range)
    low, high = as_range(value_range, "range")
    return float(rng.uniform(low, high)) if high > low else low


def as_range(value, name: str) -> tuple[float, float]:
    """A (low, high) float pair from a list/tuple/ListConfig; a clear error otherwise."""
    if isinstance(value, (int, float)):
        return float(value), float(value)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be [low, high], got {value!r}") from err
    if low > high:
        raise ValueError(f"{name} must be [low, high] with low <= high, got {value!r}")
    return low, high
