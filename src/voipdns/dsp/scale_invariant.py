"""The scale-invariant SDR / SNR formula (Le Roux et al. 2019), written once for numpy arrays and torch tensors.

The metric (``voipdns.metrics.intrusive.si_sdr``, numpy, float64, no torch in scoring workers) and the loss
(``voipdns.losses.sisnr``, torch, differentiable) both call these, so they cannot drift apart. Only operations
numpy and torch spell alike are used; the last axis is time.
"""

from __future__ import annotations

from typing import TypeVar

Signal = TypeVar("Signal")  # numpy.ndarray or torch.Tensor


def zero_mean(signal: Signal) -> Signal:
    return signal - signal.mean(-1)[..., None]


def projection_energies(estimate: Signal, reference: Signal, eps: float = 0.0) -> tuple[Signal, Signal]:
    """``(|target|^2, |estimate - target|^2)`` with ``target = <est, ref> / (|ref|^2 + eps) * ref``: the part
    of the estimate along the reference and what is left. Pass zero-mean signals (``zero_mean``)."""
    scale = (estimate * reference).sum(-1) / ((reference * reference).sum(-1) + eps)
    target = scale[..., None] * reference
    residual = estimate - target
    return (target * target).sum(-1), (residual * residual).sum(-1)
