"""Generated noises for the synthetic data: babble, coloured (white/pink/brown), mains hum, clicks.

Each generator returns float64 `[num_samples]` with roughly unit RMS; the mixer sets the SNR afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft
from scipy import signal

from voipdns.data.speech_synth import synthesize_speech

COLOURED_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum ~ 1 / f**exponent


def coloured_noise(
    rng: np.random.Generator, num_samples: int, sample_rate: int, exponent: float, low_hz: float = 20.0
) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent above `low_hz` (flat below, so brown noise does not
    drift by DC)."""
    spectrum = scipy.fft.rfft(rng.standard_normal(num_samples))
    freqs_hz = np.maximum(np.fft.rfftfreq(num_samples, 1.0 / sample_rate), low_hz)
    spectrum *= freqs_hz ** (-exponent / 2.0)
    spectrum[0] = 0.0
    noise = scipy.fft.irfft(spectrum, n=num_samples)
    return noise / (np.std(noise) + 1e-12)


def babble(rng: np.random.Generator, num_samples: int, sample_rate: int) -> np.ndarray:
    """3 to 7 other synthetic talkers at random levels (-6..0 dB)."""
    n_talkers = int(rng.integers(3, 8))
    mix = np.zeros(num_samples)
    for _ in range(n_talkers):
        mix += 10 ** (rng.uniform(-6, 0) / 20) * synthesize_speech(rng, num_samples, sample_rate)
    return mix / (np.std(mix) + 1e-12)


def mains_hum(rng: np.random.Generator, num_samples: int, sample_rate: int) -> np.ndarray:
    """50 or 60 Hz hum with harmonics (odd ones stronger in 'buzz'), slow level wobble, faint hiss."""
    mains_hz = (50.0 if rng.random() < 0.5 else 60.0) * (1 + rng.uniform(-0.002, 0.002))
    n_harmonics = int(min(40, (0.45 * sample_rate) // mains_hz))
    harmonics = np.arange(1, n_harmonics + 1)
    amplitudes = harmonics ** -rng.uniform(0.4, 1.5)
    if rng.random() < 0.5:  # buzz: rectifier / transformer distortion favours odd harmonics
        amplitudes[1::2] *= rng.uniform(0.05, 0.4)
    phases = rng.uniform(0, 2 * np.pi, n_harmonics)
    # one period tabulated finely, then read along the running phase: no [T x harmonics] sin evaluations
    table_size = 1024  # >= 25 points per period of the 40th harmonic: linear interpolation is enough
    cycle = np.linspace(0, 2 * np.pi, table_size, endpoint=False)
    table = (amplitudes[:, None] * np.sin(harmonics[:, None] * cycle[None] + phases[:, None])).sum(0)
    position = ((mains_hz * np.arange(num_samples) / sample_rate + rng.random()) % 1.0) * table_size
    index = position.astype(np.int64)
    fraction = position - index
    table = np.append(table, table[0])
    hum = table[index] * (1 - fraction) + table[index + 1] * fraction
    wobble_t = np.linspace(0, num_samples, 6)
    hum *= 1 + np.interp(np.arange(num_samples), wobble_t, rng.uniform(-0.1, 0.1, 6))
    hum /= np.std(hum) + 1e-12
    return hum + 10 ** (rng.uniform(-45, -30) / 20) * rng.standard_normal(num_samples, dtype=np.float32)


def clicks(rng: np.random.Generator, num_samples: int, sample_rate: int) -> np.ndarray:
    """Clicks (keyboard, mouse, crackle): decaying noise bursts at 2-20 per second over a faint hiss."""
    rate_per_second = rng.uniform(2, 20)
    n_clicks = max(1, rng.poisson(rate_per_second * num_samples / sample_rate))
    impulses = np.zeros(num_samples)
    positions = rng.integers(0, num_samples, n_clicks)
    impulses[positions] = rng.choice([-1.0, 1.0], n_clicks) * 10 ** (rng.uniform(-20, 0, n_clicks) / 20)
    kernel_samples = max(8, int(rng.uniform(0.001, 0.006) * sample_rate))
    decay = np.exp(-np.arange(kernel_samples) / (kernel_samples / 4))
    kernel = rng.standard_normal(kernel_samples) * decay
    burst = signal.oaconvolve(impulses, kernel)[:num_samples]
    burst /= np.sqrt(np.mean(burst**2)) + 1e-12
    floor = coloured_noise(rng, num_samples, sample_rate, 1.0) * 10 ** (rng.uniform(-40, -25) / 20)
    return burst + floor


def _coloured(name: str) -> Callable[[np.random.Generator, int, int], np.ndarray]:
    exponent = COLOURED_EXPONENTS[name]
    return lambda rng, num_samples, sample_rate: coloured_noise(rng, num_samples, sample_rate, exponent)


NOISE_GENERATORS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "babble": babble,
    "white": _coloured("white"),
    "pink": _coloured("pink"),
    "brown": _coloured("brown"),
    "hum": mains_hum,
    "clicks": clicks,
}


def generate_noise(name: str, rng: np.random.Generator, num_samples: int, sample_rate: int) -> np.ndarray:
    if name not in NOISE_GENERATORS:
        raise ValueError(f"unknown synthetic noise type {name!r}; choose from {sorted(NOISE_GENERATORS)}")
    return NOISE_GENERATORS[name](rng, num_samples, sample_rate)
