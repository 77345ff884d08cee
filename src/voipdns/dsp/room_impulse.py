"""Room impulse responses for enrollment augmentation: a fast synthetic exponential-decay RIR, or an
image-method shoebox room from pyroomacoustics. Both are returned with the direct path at sample 0 and
unit peak."""

from __future__ import annotations

import math

import numpy as np
import torch


def synthetic_rir(rt60_seconds: float, sample_rate: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Direct path + Gaussian tail decaying 60 dB in ``rt60_seconds`` (``exp(-3 ln(10) t / RT60)``)."""
    if rt60_seconds <= 0:
        raise ValueError(f"rt60_seconds must be > 0, got {rt60_seconds}")
    length = max(2, int(rt60_seconds * sample_rate))
    t_seconds = torch.arange(length) / sample_rate
    envelope = torch.exp(-3.0 * math.log(10.0) * t_seconds / rt60_seconds)
    tail = torch.randn(length, generator=generator) * envelope * 0.3
    tail[0] = 1.0  # direct path
    return tail / tail.abs().max()


def shoebox_rir(rt60_seconds: float, sample_rate: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Image-method RIR of a random shoebox room (3-10 m x 3-8 m x 2.5-4 m) with the requested RT60."""
    import pyroomacoustics as pra  # heavy import, only when used

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator))

    room_m = [uniform(3.0, 10.0), uniform(3.0, 8.0), uniform(2.5, 4.0)]
    absorption, max_order = pra.inverse_sabine(rt60_seconds, room_m)
    room = pra.ShoeBox(room_m, fs=sample_rate, materials=pra.Material(absorption), max_order=min(max_order, 20))

    def position() -> list[float]:
        return [uniform(0.5, side - 0.5) for side in room_m]

    room.add_source(position())
    room.add_microphone(np.array(position()))
    room.compute_rir()
    rir = torch.as_tensor(np.asarray(room.rir[0][0]), dtype=torch.float32)
    rir = rir[int(rir.abs().argmax()) :]  # align the direct path to sample 0 (no added delay)
    return rir / rir.abs().max()


def reverberate(wave: torch.Tensor, rir: torch.Tensor) -> torch.Tensor:
    """``wave[1, T]`` convolved with ``rir``, cropped to ``T`` samples (FFT convolution)."""
    length = wave.shape[-1] + rir.numel() - 1
    n_fft = 1 << (length - 1).bit_length()
    out = torch.fft.irfft(torch.fft.rfft(wave, n_fft) * torch.fft.rfft(rir.to(wave), n_fft), n_fft)
    return out[..., : wave.shape[-1]]
