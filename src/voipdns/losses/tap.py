"""TAPLoss (ICASSP 2023): distance between the TAP estimator's LLDs of the estimate and of the clean speech.

The estimator (``voipdns.tap.estimator``) is a frozen measuring instrument, never a trained part:
its weights have ``requires_grad=False``, it stays in eval mode, and it is deliberately NOT registered as a
submodule, so it is absent from ``parameters()``, from the optimizer, from ``state_dict()`` and therefore
from enhancement checkpoints (19.5 MB saved per checkpoint; the estimator is reloaded from
``estimator_path``). ``.to(device)`` / ``.half()`` still move it (``_apply`` below).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

from voipdns.losses.waveform import _pair
from voipdns.tap.estimator import (
    TAPEstimator,
    estimator_stft,
    frame_energy,
    interleave_real_imag,
    load_estimator,
)

DISTANCES = ("l1", "l2")
FRAME_WEIGHTINGS = ("none", "energy")


class TAPLoss(nn.Module):
    """``mean_frames(w_t * mean_features(dist(TAP(estimate)_t, TAP(clean)_t)))`` in z-score units.

    Args:
        estimator_path: an official TAPLoss estimator file or one written by ``voipdns-train-tap``.
        distance: ``"l1"`` (paper default) or ``"l2"``.
        frame_weighting: ``"none"``, or ``"energy"``: w_t = sigmoid(short-time energy of the enhanced STFT
            frame), the paper's "frame energy weighted" variant (gradients flow through w_t as in the paper).
        ramp: a schedule ``step -> multiplier`` (``voipdns.losses.ramp``) exposed as ``weight_at(step)``.
        estimator: an already built estimator instead of a path (tests, notebooks).

    Inputs are 16 kHz ``[B, 1, T]`` (the estimator's STFT is fixed at 512/160 samples).
    """

    def __init__(
        self,
        estimator_path: str | os.PathLike | None = None,
        distance: str = "l1",
        frame_weighting: str = "none",
        ramp: Callable[[int], float] | None = None,
        estimator: TAPEstimator | None = None,
    ):
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"TAPLoss: distance must be one of {DISTANCES}, got {distance!r}")
        if frame_weighting not in FRAME_WEIGHTINGS:
            raise ValueError(f"TAPLoss: frame_weighting must be one of {FRAME_WEIGHTINGS}, got {frame_weighting!r}")
        if (estimator_path is None) == (estimator is None):
            raise ValueError("TAPLoss: give exactly one of estimator_path and estimator")
        if estimator is None:
            estimator = load_estimator(estimator_path)
        self.estimator_path = None if estimator_path is None else str(estimator_path)
        self.distance, self.frame_weighting, self.ramp = distance, frame_weighting, ramp
        # A tuple hides the module from nn.Module registration (see the module docstring for why).
        self._frozen: tuple[TAPEstimator] = (estimator.freeze(),)

    @property
    def estimator(self) -> TAPEstimator:
        return self._frozen[0]

    def _apply(self, fn, recurse: bool = True):  # type: ignore[override]
        super()._apply(fn, recurse)
        self.estimator._apply(fn)  # follow .to(device)/.half() although it is not a submodule
        return self

    def weight_at(self, step: int) -> float:
        return 1.0 if self.ramp is None else float(self.ramp(step))

    def frame_distances(self, estimate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Per-frame distance ``[B, frames]`` (mean over the 25 features), frame weighting applied."""
        estimator = self.estimator
        # float32 STFT: half-precision FFTs are unsupported or lossy under mixed precision
        estimate_spec = estimator_stft(estimate.float())
        with torch.no_grad():  # the clean branch is a constant target
            clean_tap = estimator.forward_spectrogram(interleave_real_imag(estimator_stft(clean.float())))
        estimate_tap = estimator.forward_spectrogram(interleave_real_imag(estimate_spec))
        diff = estimate_tap - clean_tap
        per_frame = (diff.abs() if self.distance == "l1" else diff.square()).mean(dim=-1)
        if self.frame_weighting == "energy":
            per_frame = torch.sigmoid(frame_energy(estimate_spec)) * per_frame
        return per_frame

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        return self.frame_distances(estimate, clean).mean()

    def extra_repr(self) -> str:
        return (
            f"estimator_path={self.estimator_path!r}, distance={self.distance!r}, "
            f"frame_weighting={self.frame_weighting!r}, ramp={self.ramp!r}"
        )
