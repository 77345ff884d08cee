"""The ``knob_controller`` graph: DspDenoiser's controller, ``features[B, 2 bands, frames]`` -> the four knobs.

The spectral gate itself (attack/release recursion) stays in PyTorch around the session.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from voipdns.export.graphs.base import GraphKind, GraphSpec, MethodGraph, Session, UnsupportedExportError
from voipdns.models.dsp_denoiser import KNOBS, DspDenoiser


def controller_spec(net: DspDenoiser, audio: torch.Tensor) -> GraphSpec:
    if net.overrides:
        raise UnsupportedExportError(
            f"DspDenoiser with fixed knobs {sorted(net.overrides)}: export the net without overrides"
        )
    spec = net.stft.analysis(F.pad(audio, (0, net.valid_length(audio.shape[-1]) - audio.shape[-1])))
    level_db, floor_db = net.band_levels(spec)
    features = torch.cat([level_db / 20, (level_db - floor_db) / 10], dim=1)  # as DspDenoiser.knobs
    axes = {0: "batch", 2: "frames"}
    return GraphSpec(
        "knob_controller", MethodGraph(net.controller, "forward", KNOBS), (features,), ("features",), KNOBS,
        {"features": axes, **{name: axes for name in KNOBS}},
    )  # fmt: skip


def bind_controller(net: DspDenoiser, run: Session, metadata: dict, output_names: list) -> None:
    def forward(features: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(output_names, run(features), strict=True))

    net.controller.forward = forward


KNOB_CONTROLLER = GraphKind("knob_controller", controller_spec, bind_controller)
