"""FullSubNet's input normalisations: divide magnitudes by a mean (a Laplace-style scale estimate).

Both take ``[B, C, F, frames]``:
- ``offline_laplace_norm``: one mean per batch item over channels, frequencies and all frames (non-causal).
- ``cumulative_laplace_norm``: for each batch item and channel, the running mean over frequencies and the
  frames up to ``t`` (causal: frame ``t`` never sees frames after ``t``).
The constants (``1e-5`` offline, float32 eps cumulative) are those of the released checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

OFFLINE_EPS = 1e-5
CUMULATIVE_EPS = float(torch.finfo(torch.float32).eps)


def offline_laplace_norm(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return x / (mean + OFFLINE_EPS)


def cumulative_laplace_norm(x: torch.Tensor) -> torch.Tensor:
    batch, channels, freqs, frames = x.shape
    flat = x.reshape(batch * channels, freqs, frames)
    running_sum = flat.sum(dim=1).cumsum(dim=-1)  # [B*C, frames]
    count = torch.arange(1, frames + 1, dtype=x.dtype, device=x.device) * freqs
    running_mean = (running_sum / count).unsqueeze(1)  # [B*C, 1, frames]
    return (flat / (running_mean + CUMULATIVE_EPS)).reshape(batch, channels, freqs, frames)


NORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "offline_laplace": offline_laplace_norm,
    "cumulative_laplace": cumulative_laplace_norm,
}
CAUSAL_NORMS = frozenset({"cumulative_laplace"})


def get_norm(name: str, what: str = "norm") -> Callable[[torch.Tensor], torch.Tensor]:
    """The normalisation called ``name`` (the official ``*_norm`` spellings are accepted too)."""
    key = name.removesuffix("_norm")
    if key not in NORMS:
        raise ValueError(f"{what}: unknown normalisation {name!r}; choose one of {sorted(NORMS)}")
    return NORMS[key]
