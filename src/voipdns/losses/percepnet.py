"""PercepNet losses on band gains and pitch-filter strengths (gamma = 0.5), and the PPN/UPN VAD term.

    gain:     mean((g^0.5 - ghat^0.5)^2) + 10 * mean((g^0.5 - ghat^0.5)^4)
    strength: mean(((1 - r)^0.5 - (1 - rhat)^0.5)^2)
    vad:      binary cross-entropy of the frame-wise VAD logits against ``batch["vad"]``

Values are clamped to ``[EPS, 1]`` before the power: ``d sqrt(x)/dx`` is infinite at 0, and a silent frame
(target 0) or a saturated sigmoid (``1 - r = 0``) would otherwise give NaN gradients. The targets come from
the net (``outputs["gains_target"]``, ``outputs["strengths_target"]``, see ``PercepNet.training_outputs``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8


def _compressed(values: torch.Tensor, gamma: float) -> torch.Tensor:
    return values.clamp(EPS, 1.0).pow(gamma)


def _require(outputs: dict, key: str, term: str) -> torch.Tensor:
    if key not in outputs:
        raise KeyError(f"{term} needs outputs['{key}'] (got keys {sorted(outputs)}); use a PercepNet-family net")
    return outputs[key]


def gain_loss_frames(
    gains: torch.Tensor, target: torch.Tensor, gamma: float = 0.5, quartic_weight: float = 10.0
) -> torch.Tensor:
    """Per-frame gain loss ``[B, F]`` (mean over bands) for gains ``[B, F, bands]``."""
    diff = _compressed(target, gamma) - _compressed(gains, gamma)
    return diff.square().mean(-1) + quartic_weight * diff.pow(4).mean(-1)


def strength_loss_frames(strengths: torch.Tensor, target: torch.Tensor, gamma: float = 0.5) -> torch.Tensor:
    diff = _compressed(1.0 - target, gamma) - _compressed(1.0 - strengths, gamma)
    return diff.square().mean(-1)


class _FrameLoss(nn.Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.mean() if self.reduction == "mean" else frames


class PercepNetGainLoss(_FrameLoss):
    """Gain loss; ``reduction="none"`` returns ``[B, frames]`` for frame-weighted wrappers."""

    def __init__(self, gamma: float = 0.5, quartic_weight: float = 10.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.gamma, self.quartic_weight = gamma, quartic_weight

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        gains = _require(outputs, "gains", "PercepNetGainLoss")
        target = _require(outputs, "gains_target", "PercepNetGainLoss")
        return self._reduce(gain_loss_frames(gains, target, self.gamma, self.quartic_weight))


class PitchStrengthLoss(_FrameLoss):
    """Pitch-filter strength loss; ``reduction="none"`` returns ``[B, frames]``."""

    def __init__(self, gamma: float = 0.5, reduction: str = "mean"):
        super().__init__(reduction)
        self.gamma = gamma

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        strengths = _require(outputs, "strengths", "PitchStrengthLoss")
        target = _require(outputs, "strengths_target", "PitchStrengthLoss")
        return self._reduce(strength_loss_frames(strengths, target, self.gamma))


def align_frames(labels: torch.Tensor, frames: int, key: str, tolerance: int = 2) -> torch.Tensor:
    """Crop or edge-pad frame labels ``[B, F']`` to ``frames``; a mismatch > ``tolerance`` is an error."""
    if labels.dim() != 2:
        raise ValueError(f"batch['{key}'] must be [batch, frames], got shape {tuple(labels.shape)}")
    diff = frames - labels.shape[1]
    if abs(diff) > tolerance:
        raise ValueError(
            f"batch['{key}'] has {labels.shape[1]} frames but the net produced {frames} "
            "(PercepNet frames = ceil(samples / hop) + 1)"
        )
    if diff <= 0:
        return labels[:, :frames]
    return torch.cat([labels, labels[:, -1:].expand(-1, diff)], 1)


class VadBceLoss(_FrameLoss):
    """BCE between ``outputs["vad_logits"][B, F]`` and ``batch["vad"][B, F]`` (1 = target speaker active)."""

    def __init__(self, pos_weight: float | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        logits = _require(outputs, "vad_logits", "VadBceLoss")
        if "vad" not in batch:
            raise KeyError("VadBceLoss needs batch['vad'] [batch, frames] (target-speaker activity labels)")
        labels = align_frames(batch["vad"], logits.shape[1], "vad").to(logits)
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        frames = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight, reduction="none")
        return self._reduce(frames)
