"""A fast source-filter speech synthesiser (numpy only) for the embedded synthetic data.

An utterance is a plan of phrases separated by pauses; a phrase is syllables of optional consonant onset
(fricative, plosive closure + burst, or voiced fricative) and a vowel nucleus (sometimes a diphthong).
- Voiced source: a glottal pulse train following a pitch contour (phrase declination, syllable accents, slow
  wander) with per-pulse jitter and shimmer, plus aspiration noise.
- Vocal tract: a Klatt-style cascade of formant resonators whose F1-F3 glide between vowel targets
  (Peterson & Barney averages scaled per talker), with glottal roll-off and lip radiation.
- Unvoiced sounds: white noise shaped by fricative/burst spectra (s, sh, f; p, t, k).
Filtering is done frame-wise in a 50 %-overlap sqrt-Hann STFT (time-varying filters without a Python loop
over samples), so a 4 s utterance takes a few milliseconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft

# (F1, F2, F3) in Hz, adult male averages (Peterson & Barney 1952): i I E ae a O U u V 3r
VOWEL_FORMANTS_HZ = np.array(
    [
        [270, 2290, 3010],
        [390, 1990, 2550],
        [530, 1840, 2480],
        [660, 1720, 2410],
        [730, 1090, 2440],
        [570, 840, 2410],
        [440, 1020, 2240],
        [300, 870, 2240],
        [640, 1190, 2390],
        [490, 1350, 1690],
    ],
    dtype=np.float64,
)
# unvoiced spectra: (low Hz, high Hz, relative level dB) of a band-pass: floor, fricatives, bursts
UNVOICED_BANDS = {
    "floor": (60, 7000, 0),  # recording noise floor; fills pauses (real recordings are never digital silence)
    "s": (3800, 8000, 0),
    "sh": (1900, 5500, 0),
    "f": (900, 8000, -8),
    "p": (300, 1600, 0),
    "t": (2800, 7000, 0),
    "k": (1300, 3200, 0),
}
# (F, bandwidth) in Hz of the fixed higher formants, scaled by the talker's formant_scale
HIGHER_FORMANTS_HZ = ((3400.0, 250.0), (4400.0, 320.0), (5400.0, 420.0), (6400.0, 520.0), (7400.0, 620.0))
UNVOICED_NAMES = tuple(UNVOICED_BANDS)
FRICATIVES = (1, 2, 3)
BURSTS = (4, 5, 6)
CONTROL_STEP_SAMPLES = 32  # pitch control grid (2 ms at 16 kHz)
FLOOR_DB_RANGE = (-70.0, -55.0)  # recording floor relative to the vowels


@dataclass(frozen=True)
class Talker:
    f0_hz: float  # mean pitch
    formant_scale: float  # vocal-tract length factor: ~1.0 adult male, ~1.17 adult female
    rate: float  # speaking-rate factor (>1 faster)
    jitter: float  # std of pulse-period perturbation, fraction of the period
    shimmer: float  # std of pulse amplitude, fraction
    breathiness: float  # aspiration noise power relative to the pulse power
    tilt_hz: float  # glottal roll-off corner (-12 dB/oct above it, +6 dB/oct radiation)


def random_talker(rng: np.random.Generator) -> Talker:
    female = rng.random() < 0.5
    return Talker(
        f0_hz=float(rng.uniform(165, 250) if female else rng.uniform(85, 150)),
        formant_scale=float(rng.uniform(1.1, 1.22) if female else rng.uniform(0.94, 1.04)),
        rate=float(rng.uniform(0.8, 1.25)),
        jitter=float(rng.uniform(0.003, 0.012)),
        shimmer=float(rng.uniform(0.03, 0.12)),
        breathiness=float(rng.uniform(0.005, 0.05)),
        tilt_hz=float(rng.uniform(150, 450)),
    )


@dataclass
class _Plan:
    """Per-sample envelopes and control anchors of one utterance."""

    voiced_env: np.ndarray
    unvoiced_env: np.ndarray
    unvoiced_kind: np.ndarray  # int index into UNVOICED_NAMES, per sample (0 = floor)
    f0_times: list
    f0_values: list
    formant_times: list
    formant_values: list  # each [F1, F2, F3]


def _ramp_window(n: int, ramp: int) -> np.ndarray:
    window = np.ones(n)
    ramp = max(1, min(ramp, n // 2))
    edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    window[:ramp] = edge
    window[n - ramp :] = np.minimum(window[n - ramp :], edge[::-1])
    return window


def _plan_utterance(rng: np.random.Generator, talker: Talker, num_samples: int, sr: int) -> _Plan:
    plan = _Plan(np.zeros(num_samples), np.zeros(num_samples), np.zeros(num_samples, np.int8), [], [], [], [])
    vowels = VOWEL_FORMANTS_HZ * talker.formant_scale
    t = int(rng.uniform(0.05, 0.6) * sr)  # leading pause
    while t < num_samples:
        n_syllables = int(rng.integers(2, 8))
        for k in range(n_syllables):
            if t >= num_samples:
                break
            t = _add_onset(rng, plan, t, sr, talker)
            t = _add_vowel(rng, plan, t, sr, talker, vowels, k / max(1, n_syllables - 1))
        t += int(rng.uniform(0.15, 0.7) * sr)  # pause between phrases
    return plan


def _add_onset(rng: np.random.Generator, plan: _Plan, t: int, sr: int, talker: Talker) -> int:
    n_total = plan.voiced_env.shape[0]
    choice = rng.random()
    if choice < 0.35:  # fricative, sometimes voiced (z, v)
        n = int(rng.uniform(0.05, 0.14) / talker.rate * sr)
        end = min(t + n, n_total)
        if end > t:
            amp = 10 ** (rng.uniform(-12, -3) / 20)
            plan.unvoiced_env[t:end] = amp * _ramp_window(end - t, int(0.012 * sr))[: end - t]
            plan.unvoiced_kind[t:end] = rng.choice(FRICATIVES)
            if rng.random() < 0.3:
                plan.voiced_env[t:end] = 0.25 * _ramp_window(end - t, int(0.01 * sr))
        return end
    if choice < 0.65:  # plosive: closure silence, burst, short aspiration
        t += int(rng.uniform(0.025, 0.07) * sr)
        n = int(rng.uniform(0.006, 0.02) * sr)
        end = min(t + n, n_total)
        if end > t:
            amp = 10 ** (rng.uniform(-10, -2) / 20)
            decay = np.exp(-np.arange(end - t) / max(1.0, 0.004 * sr))
            plan.unvoiced_env[t:end] = amp * decay
            plan.unvoiced_kind[t:end] = rng.choice(BURSTS)
        return end
    return t  # vowel-initial syllable


def _add_vowel(
    rng: np.random.Generator,
    plan: _Plan,
    t: int,
    sr: int,
    talker: Talker,
    vowels: np.ndarray,
    phrase_pos: float,
) -> int:
    n_total = plan.voiced_env.shape[0]
    n = int(rng.uniform(0.08, 0.26) / talker.rate * sr)
    end = min(t + n, n_total)
    if end <= t:
        return end
    amp = 10 ** ((rng.uniform(-7, 0) - 4 * phrase_pos) / 20)  # phrases get quieter towards the end
    plan.voiced_env[t:end] = np.maximum(plan.voiced_env[t:end], amp * _ramp_window(end - t, int(0.02 * sr)))
    first = vowels[rng.integers(len(vowels))] * rng.uniform(0.95, 1.05, 3)
    last = vowels[rng.integers(len(vowels))] * rng.uniform(0.95, 1.05, 3) if rng.random() < 0.3 else first
    plan.formant_times += [t / sr, end / sr]
    plan.formant_values += [first, last]
    # pitch: declination over the phrase (+15 % -> -12 %) and an accent on some syllables
    decline = 1.15 - 0.27 * phrase_pos
    accent = 1.0 + (rng.uniform(0.05, 0.2) if rng.random() < 0.35 else rng.uniform(-0.04, 0.04))
    plan.f0_times += [t / sr, (t + end) / (2 * sr)]
    plan.f0_values += [talker.f0_hz * decline, talker.f0_hz * decline * accent]
    return end


def _glottal_source(rng: np.random.Generator, talker: Talker, plan: _Plan, sr: int) -> np.ndarray:
    """Unit-power pulse train along the pitch contour (jitter, shimmer) plus aspiration noise.

    The pitch contour lives on a 2 ms control grid; pulse k sits where the integrated pitch (cycles) reaches
    k, found by interpolation, so the cost grows with the number of pulses, not of samples.
    """
    n = plan.voiced_env.shape[0]
    grid = np.arange(0, n + CONTROL_STEP_SAMPLES, CONTROL_STEP_SAMPLES, dtype=np.float64)
    times = grid / sr
    f0 = np.interp(times, plan.f0_times, plan.f0_values) if plan.f0_times else np.full(grid.shape, talker.f0_hz)
    wander_t = np.arange(0, n / sr + 0.1, 0.1)
    f0 *= 1.0 + np.interp(times, wander_t, rng.normal(0, 0.02, wander_t.shape[0]))
    cycles = np.concatenate([[rng.random()], (f0[1:] + f0[:-1]) * (CONTROL_STEP_SAMPLES / (2 * sr))]).cumsum()
    pulse_numbers = np.arange(np.ceil(cycles[0]), np.floor(cycles[-1]) + 1)
    positions = np.interp(pulse_numbers, cycles, grid)
    period = sr / np.interp(positions, grid, f0)
    positions = np.rint(positions + rng.normal(0, talker.jitter, positions.shape) * period)
    keep = (positions >= 0) & (positions < n)
    source = np.zeros(n, dtype=np.float32)
    # sqrt(period) makes the pulse train unit power whatever the pitch
    amplitudes = np.sqrt(period) * (1.0 + rng.normal(0, talker.shimmer, period.shape))
    source[positions[keep].astype(np.int64)] = amplitudes[keep]
    source += np.float32(np.sqrt(talker.breathiness)) * rng.standard_normal(n, dtype=np.float32)
    return source


class _Stft:
    """50 %-overlap sqrt-Hann STFT: analysis + synthesis windows give perfect reconstruction."""

    def __init__(self, sr: int):
        self.n_fft = int(2 ** round(np.log2(0.032 * sr)))
        self.hop = self.n_fft // 2
        self.window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n_fft) / self.n_fft)).astype(np.float32)
        self.freqs_hz = np.fft.rfftfreq(self.n_fft, 1.0 / sr)
        omega = 2 * np.pi * self.freqs_hz / sr
        # float32 halves the cost of the per-frame envelopes and FFTs; the synthesis needs no more precision
        self.cos1, self.cos2 = np.cos(omega).astype(np.float32), np.cos(2 * omega).astype(np.float32)

    def frames(self, num_samples: int) -> int:
        return -(-num_samples // self.hop) + 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        """`[..., T]` -> `[..., frames, bins]`."""
        n_frames = self.frames(x.shape[-1])
        padded = np.zeros((*x.shape[:-1], (n_frames + 1) * self.hop), dtype=np.float32)
        padded[..., self.hop : self.hop + x.shape[-1]] = x
        framed = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft, axis=-1)[..., :: self.hop, :]
        return scipy.fft.rfft(framed * self.window, axis=-1)

    def inverse(self, spec: np.ndarray, num_samples: int) -> np.ndarray:
        framed = scipy.fft.irfft(spec, n=self.n_fft, axis=-1) * self.window
        blocks = np.zeros((framed.shape[0] + 1, self.hop), dtype=np.float32)
        blocks[:-1] += framed[:, : self.hop]
        blocks[1:] += framed[:, self.hop :]
        return blocks.reshape(-1)[self.hop : self.hop + num_samples]

    def frame_times(self, n_frames: int, sr: int) -> np.ndarray:
        return np.arange(n_frames) * self.hop / sr


@functools.lru_cache(maxsize=8)
def _stft_for(sr: int) -> _Stft:
    return _Stft(sr)


def _resonator_denominator_power(stft: _Stft, formant_hz, bandwidth_hz, sr: int) -> np.ndarray:
    """|1 - b z^-1 - c z^-2|^2 of a Klatt resonator over `stft.freqs_hz`, expanded to
    1 + b^2 + c^2 - 2b(1 - c) cos(w) - 2c cos(2w) (no complex arithmetic). Formant and bandwidth are scalars
    or [frames, 1] columns."""
    c = -np.exp(-2 * np.pi * bandwidth_hz / sr)
    b = 2 * np.exp(-np.pi * bandwidth_hz / sr) * np.cos(2 * np.pi * formant_hz / sr)
    alpha, beta, gamma = (
        np.float32(v) if np.ndim(v) == 0 else v.astype(np.float32) for v in (1 + b * b + c * c, 2 * b * (1 - c), 2 * c)
    )
    return alpha - beta * stft.cos1 - gamma * stft.cos2


def _voiced_envelopes(talker: Talker, plan: _Plan, stft: _Stft, n_frames: int, sr: int) -> np.ndarray:
    """Per-frame magnitude response of the vocal tract, glottis and lips, normalised to unit mean square per
    frame (so the time-domain envelope alone sets loudness; the resonators' own gains then cancel)."""
    freqs = stft.freqs_hz
    times = stft.frame_times(n_frames, sr)
    if plan.formant_times:
        values = np.asarray(plan.formant_values)
        tracks = np.stack([np.interp(times, plan.formant_times, values[:, i]) for i in range(3)], axis=1)
    else:
        tracks = np.tile(VOWEL_FORMANTS_HZ[8] * talker.formant_scale, (n_frames, 1))
    bandwidths = np.array([70.0, 100.0, 150.0]) * (1 + 0.3 * (talker.formant_scale - 1))
    denominator = _resonator_denominator_power(stft, tracks[:, :1], bandwidths[0], sr)
    for i in (1, 2):
        denominator *= _resonator_denominator_power(stft, tracks[:, i : i + 1], bandwidths[i], sr)
    fixed = np.ones_like(freqs)
    # F4.. up to Nyquist stand in for the rest of the all-pole tract (a cascade that stops at F3 would fall at
    # -36 dB/oct above it and leave 4-8 kHz empty, unlike real speech)
    for formant_hz, bandwidth_hz in HIGHER_FORMANTS_HZ:
        if formant_hz * talker.formant_scale < 0.45 * sr:
            fixed /= _resonator_denominator_power(stft, formant_hz * talker.formant_scale, bandwidth_hz, sr)
    glottal = 1.0 / (1.0 + (freqs / talker.tilt_hz) ** 2)
    radiation = np.abs(1 - 0.9 * np.exp(-2j * np.pi * freqs / sr))
    power = (fixed * (glottal * radiation) ** 2).astype(np.float32) / denominator
    return np.sqrt(power / power.mean(axis=1, keepdims=True))


def _unvoiced_table(freqs: np.ndarray, talker: Talker) -> np.ndarray:
    rows = []
    for low, high, level_db in UNVOICED_BANDS.values():
        low, high = low * talker.formant_scale, high * talker.formant_scale
        f = np.maximum(freqs, 1.0)
        band = 1 / np.sqrt(1 + (f / high) ** 8) / np.sqrt(1 + (low / f) ** 8)
        band /= np.sqrt(np.mean(band**2)) + 1e-20
        rows.append(band * 10 ** (level_db / 20))
    return np.stack(rows).astype(np.float32)


def synthesize_speech(
    rng: np.random.Generator, num_samples: int, sample_rate: int, talker: Talker | None = None
) -> np.ndarray:
    """One utterance of `num_samples` at `sample_rate` Hz, float64, RMS over active speech about 0.1."""
    talker = talker or random_talker(rng)
    plan = _plan_utterance(rng, talker, num_samples, sample_rate)
    stft = _stft_for(sample_rate)
    voiced = _glottal_source(rng, talker, plan, sample_rate) * plan.voiced_env
    floor = 10 ** (rng.uniform(*FLOOR_DB_RANGE) / 20)
    unvoiced = rng.standard_normal(num_samples, dtype=np.float32) * (plan.unvoiced_env + floor)
    n_frames = stft.frames(num_samples)
    env_voiced = _voiced_envelopes(talker, plan, stft, n_frames, sample_rate)
    centres = np.minimum(np.arange(n_frames) * stft.hop, num_samples - 1)
    env_unvoiced = _unvoiced_table(stft.freqs_hz, talker)[plan.unvoiced_kind[centres]]
    spec = stft.forward(voiced) * env_voiced + stft.forward(unvoiced) * env_unvoiced
    speech = stft.inverse(spec, num_samples)
    active = plan.voiced_env + plan.unvoiced_env > 0.05
    rms = np.sqrt(np.mean(speech[active] ** 2)) if active.any() else 0.0
    return speech * (0.1 / rms) if rms > 0 else speech
