"""Complex ideal ratio masks (cIRM, Williamson et al. 2016) and their hyperbolic-tangent compression.

A cIRM ``M`` satisfies ``clean = M * noisy`` bin by bin (complex product). Its real and imaginary parts are
unbounded, so networks predict the compressed mask ``K (1 - e^{-C m}) / (1 + e^{-C m})`` in ``(-K, K)``;
``decompress_cirm`` inverts it after clipping to ``+-limit`` (the inverse diverges at ``+-K``).
FullSubNet uses ``K = 10``, ``C = 0.1`` and ``limit = 9.9``. Masks are ``[B, 2, F, frames]`` (real, imag).
"""

from __future__ import annotations

import torch

#: float32 machine epsilon: keeps the cIRM denominator positive on digital silence.
EPSILON = float(torch.finfo(torch.float32).eps)


def compress_cirm(mask: torch.Tensor, k: float = 10.0, c: float = 0.1) -> torch.Tensor:
    """``(-inf, inf) -> (-K, K)``; values below -100 are clamped first so ``exp`` cannot overflow."""
    mask = mask.clamp(min=-100.0)
    decay = torch.exp(-c * mask)
    return k * (1 - decay) / (1 + decay)


def decompress_cirm(mask: torch.Tensor, k: float = 10.0, limit: float = 9.9) -> torch.Tensor:
    """Inverse of ``compress_cirm`` after clipping to ``[-limit, limit]`` (``limit < K``)."""
    if not 0 < limit < k:
        raise ValueError(f"decompress_cirm needs 0 < limit < K, got limit {limit}, K {k}")
    mask = mask.clamp(-limit, limit)
    return -k * torch.log((k - mask) / (k + mask))


def ideal_cirm(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Uncompressed cIRM ``clean / noisy`` of complex ``[B, F, frames]`` spectra, ``[B, 2, F, frames]``."""
    denominator = noisy.real.square() + noisy.imag.square() + EPSILON
    real = (noisy.real * clean.real + noisy.imag * clean.imag) / denominator
    imag = (noisy.real * clean.imag - noisy.imag * clean.real) / denominator
    return torch.stack((real, imag), dim=1)


def apply_complex_mask(spec: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Complex product of ``spec[B, F, frames]`` and ``mask[B, 2, F, frames]`` (real, imag parts)."""
    real = mask[:, 0] * spec.real - mask[:, 1] * spec.imag
    imag = mask[:, 1] * spec.real + mask[:, 0] * spec.imag
    return torch.complex(real, imag)
