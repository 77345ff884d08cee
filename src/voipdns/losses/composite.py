"""Weighted sum of named loss terms, each reported separately."""

from __future__ import annotations

import torch
from torch import nn


class CompositeLoss(nn.Module):
    """``total = sum(weight[name] * term(outputs, batch))``.

    Returns ``{"loss": total, name: value, ...}`` so every term is logged on its own (``train/loss_<name>``).
    A term may expose ``weight_at(step) -> float`` (a warm-up ramp); it then multiplies the configured weight.
    ``shared``: settings several terms take through interpolation, so a config (and a sweep) sets them once,
    e.g. ``mu`` of the VAD-weighted terms (``mu: ${...shared.mu}`` in each term); not used by the sum itself.
    """

    def __init__(
        self, terms: dict[str, nn.Module], weights: dict[str, float] | None = None, shared: dict | None = None
    ):
        super().__init__()
        if not terms:
            raise ValueError("CompositeLoss needs at least one term")
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(terms))
        if unknown:
            raise ValueError(f"weights given for unknown loss terms {unknown}; terms are {sorted(terms)}")
        self.terms = nn.ModuleDict(terms)
        self.weights = {name: float(weights.get(name, 1.0)) for name in terms}
        self.shared = dict(shared or {})
        self.step = 0

    def set_progress(self, step: int) -> None:
        self.step = int(step)

    def effective_weight(self, name: str) -> float:
        term = self.terms[name]
        ramp = term.weight_at(self.step) if hasattr(term, "weight_at") else 1.0
        return self.weights[name] * ramp

    def forward(self, outputs: dict, batch: dict) -> dict[str, torch.Tensor]:
        values = {name: term(outputs, batch) for name, term in self.terms.items()}
        total = sum(self.effective_weight(name) * value for name, value in values.items())
        return {"loss": total, **values}
