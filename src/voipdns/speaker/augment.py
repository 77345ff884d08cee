"""Enrollment augmentation: N noisy / reverberant variants of each enrollment utterance (UPN uses 10).

Each variant is reverberated with probability ``reverb_probability`` (RT60 uniform in ``rt60_range_seconds``,
synthetic or pyroomacoustics RIR) and mixed with a random crop of a random noise at an SNR uniform in
``snr_range_db``. The first variant can be the clean utterance itself (``include_clean``).
"""

from __future__ import annotations

import torch

from voipdns.dsp.room_impulse import reverberate, shoebox_rir, synthetic_rir
from voipdns.rates import DEFAULT_SAMPLE_RATE

RIR_METHODS = {"synthetic": synthetic_rir, "pyroomacoustics": shoebox_rir}


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``speech + a * noise`` with ``a`` set so that speech / scaled-noise power is ``snr_db``."""
    speech_power = speech.square().mean()
    noise_power = noise.square().mean().clamp(min=1e-12)
    scale = torch.sqrt(speech_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return speech + scale * noise


def crop_or_loop(noise: torch.Tensor, length: int, generator: torch.Generator | None) -> torch.Tensor:
    """A random ``[1, length]`` window of ``noise[1, N]``, looping noises shorter than ``length``."""
    if noise.shape[-1] < length:
        noise = noise.repeat(1, -(-length // noise.shape[-1]))
    start = int(torch.randint(0, noise.shape[-1] - length + 1, (1,), generator=generator))
    return noise[..., start : start + length]


class EnrollmentAugmenter:
    def __init__(
        self,
        noises: list[torch.Tensor],
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_variants: int = 10,
        snr_range_db: tuple[float, float] = (0.0, 20.0),
        reverb_probability: float = 0.5,
        rt60_range_seconds: tuple[float, float] = (0.2, 0.8),
        rir_method: str = "synthetic",
        include_clean: bool = False,
    ):
        if not noises:
            raise ValueError("EnrollmentAugmenter needs at least one noise recording")
        if rir_method not in RIR_METHODS:
            raise ValueError(f"rir_method must be one of {sorted(RIR_METHODS)}, got {rir_method!r}")
        if n_variants < 1:
            raise ValueError(f"n_variants must be >= 1, got {n_variants}")
        self.noises = [n.reshape(1, -1) for n in noises]
        self.sample_rate = sample_rate
        self.n_variants = n_variants
        self.snr_range_db = tuple(snr_range_db)
        self.reverb_probability = reverb_probability
        self.rt60_range_seconds = tuple(rt60_range_seconds)
        self.make_rir = RIR_METHODS[rir_method]
        self.include_clean = include_clean

    def variant(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = wave
        if float(torch.rand((), generator=generator)) < self.reverb_probability:
            rir = self.make_rir(_uniform(*self.rt60_range_seconds, generator), self.sample_rate, generator)
            out = reverberate(out, rir)
        noise = self.noises[int(torch.randint(0, len(self.noises), (1,), generator=generator))]
        noise = crop_or_loop(noise, out.shape[-1], generator)
        return mix_at_snr(out, noise, _uniform(*self.snr_range_db, generator))

    def __call__(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """``wave[1, T]`` -> ``n_variants`` tensors ``[1, T]``."""
        if wave.dim() != 2 or wave.shape[0] != 1:
            raise ValueError(f"enrollment audio must be [1, samples], got {tuple(wave.shape)}")
        variants = [wave] if self.include_clean else []
        while len(variants) < self.n_variants:
            variants.append(self.variant(wave, generator))
        return variants
