"""Factor-2 band-limited resampling with a windowed-sinc kernel (what Demucs uses inside the net).

Upsampling keeps the input samples and fills the half-sample positions by sinc interpolation; downsampling
averages each even sample with the sinc-interpolated value of its odd neighbours (an anti-aliased decimation).
Both work on the last axis of any ``[..., samples]`` tensor.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn import functional as F

#: Zero crossings of the sinc on each side; 56 matches the official Demucs checkpoints' training setup.
DEFAULT_ZEROS = 56


@functools.lru_cache(maxsize=8)
def _half_sample_kernel(zeros: int) -> torch.Tensor:
    """Hann-windowed sinc taps that estimate the value half a sample away, ``[1, 1, 2 * zeros]`` (float64).

    The taps sit at offsets ``-zeros + 0.5 ... zeros - 0.5`` samples; the window is the odd-indexed half of a
    symmetric Hann window of ``4 * zeros + 1`` points, i.e. the window evaluated at those same offsets.
    """
    offsets = torch.arange(2 * zeros, dtype=torch.float64) - (zeros - 0.5)
    phase = math.pi * offsets
    sinc = torch.sin(phase) / phase  # offsets are never 0, so no special case
    window = torch.hann_window(4 * zeros + 1, periodic=False, dtype=torch.float64)[1::2]
    return (sinc * window).view(1, 1, -1)


def _interpolate_half_sample(x: torch.Tensor, zeros: int) -> torch.Tensor:
    """``out[..., i + 1] ~ x(i + 0.5)``, with ``out[..., 0] ~ x(-0.5)``; shape ``[..., samples + 1]``."""
    *batch, samples = x.shape
    kernel = _half_sample_kernel(zeros).to(device=x.device, dtype=x.dtype)
    out = F.conv1d(x.reshape(-1, 1, samples), kernel, padding=zeros)
    return out.view(*batch, samples + 1)


def upsample2(x: torch.Tensor, zeros: int = DEFAULT_ZEROS) -> torch.Tensor:
    """Double the sample rate: ``[..., T] -> [..., 2T]``, even outputs are the inputs unchanged."""
    samples = x.shape[-1]
    odd = _interpolate_half_sample(x, zeros)[..., 1:]
    return torch.stack([x, odd], dim=-1).reshape(*x.shape[:-1], 2 * samples)


def downsample2(x: torch.Tensor, zeros: int = DEFAULT_ZEROS) -> torch.Tensor:
    """Halve the sample rate: ``[..., T] -> [..., ceil(T / 2)]`` (odd lengths get one zero appended)."""
    if x.shape[-1] % 2:
        x = F.pad(x, (0, 1))
    even, odd = x[..., ::2], x[..., 1::2]
    # Interpolating the odd samples at -0.5 lands on the even positions; drop the trailing extra value.
    odd_at_even = _interpolate_half_sample(odd, zeros)[..., :-1]
    return 0.5 * (even + odd_at_even)
