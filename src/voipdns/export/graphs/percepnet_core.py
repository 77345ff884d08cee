"""The ``percepnet_core`` graph: ``features[B, frames, n]`` (+ ``conditioning``) -> gains, strengths (+ VAD).

Pitch analysis, the comb filter and the envelope post-filter stay in PyTorch around the session.
"""

from __future__ import annotations

import torch
from torch import nn

from voipdns.export.graphs.base import GraphKind, GraphSpec, Session
from voipdns.models.percepnet import PercepNet


class PercepNetCoreGraph(nn.Module):
    """``PercepNet.predict`` (features, optional conditioning) with tuple outputs."""

    def __init__(self, net: PercepNet, output_keys: tuple[str, ...]):
        super().__init__()
        self.net, self.output_keys = net, output_keys

    def forward(self, features: torch.Tensor, conditioning: torch.Tensor | None = None):
        result = self.net.predict(features, conditioning)
        return tuple(result[key] for key in self.output_keys)


def percepnet_spec(net: PercepNet, audio: torch.Tensor) -> GraphSpec:
    frames = net.dsp.analyze(audio[:, 0])
    features = net.dsp.features(frames)
    inputs, names = [features], ["features"]
    if net.conditioning_dim:
        inputs.append(torch.zeros(*features.shape[:2], net.conditioning_dim))
        names.append("conditioning")
    outputs = ("gains", "strengths") + (("vad_logits",) if net.vad_head is not None else ())
    axes = {0: "batch", 1: "frames"}
    return GraphSpec(
        "percepnet_core", PercepNetCoreGraph(net, outputs), tuple(inputs), tuple(names), outputs,
        {name: axes for name in (*names, *outputs)},
    )  # fmt: skip


def bind_percepnet(net: PercepNet, run: Session, metadata: dict, output_names: list) -> None:
    def predict(features: torch.Tensor, conditioning: torch.Tensor | None) -> dict[str, torch.Tensor]:
        inputs = [features] + ([conditioning] if conditioning is not None else [])
        return dict(zip(output_names, run(*inputs), strict=True))

    net.predict = predict


PERCEPNET_CORE = GraphKind("percepnet_core", percepnet_spec, bind_percepnet)
