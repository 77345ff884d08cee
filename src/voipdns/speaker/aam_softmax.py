"""Additive angular margin softmax (AAM-softmax / ArcFace) head for speaker-embedder training.

``logit_target = s cos(theta_y + m)``, other classes ``s cos(theta_j)``, with ``theta`` the angle between the
L2-normalised embedding and class weight. Past ``theta + m > pi`` the margin is replaced by the monotone
``cos(theta) - m sin(m)`` so the target logit keeps decreasing with the angle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AamSoftmax(nn.Module):
    def __init__(self, embedding_dim: int, n_classes: int, margin: float = 0.2, scale: float = 30.0):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"AAM-softmax needs >= 2 classes, got {n_classes}")
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))
        nn.init.xavier_normal_(self.weight)
        self.margin, self.scale = margin, scale
        self.cos_m, self.sin_m = math.cos(margin), math.sin(margin)
        self.threshold = math.cos(math.pi - margin)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``[B, n_classes]`` cosine similarities (margin-free, for accuracy or scoring)."""
        return F.linear(F.normalize(embeddings, dim=-1), F.normalize(self.weight, dim=-1))

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosine = self.cosine(embeddings).clamp(-1.0, 1.0)
        sine = torch.sqrt((1.0 - cosine.square()).clamp(min=1e-7))
        with_margin = cosine * self.cos_m - sine * self.sin_m
        with_margin = torch.where(cosine > self.threshold, with_margin, cosine - self.margin * self.sin_m)
        target = F.one_hot(labels, cosine.shape[-1]).bool()
        return self.scale * torch.where(target, with_margin, cosine)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy on the margin logits (a scalar)."""
        if labels.min() < 0 or labels.max() >= self.weight.shape[0]:
            raise ValueError(f"speaker labels must lie in [0, {self.weight.shape[0]}), got {labels.tolist()}")
        return F.cross_entropy(self.logits(embeddings, labels), labels)
