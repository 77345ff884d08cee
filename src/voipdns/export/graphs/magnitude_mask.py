"""The ``magnitude_mask`` graph: ``magnitude[B, 1, F, frames] -> mask`` (FullSubNet's cIRM, MaskUNet's real mask).

The runtime keeps the net's STFT/iSTFT and replaces ``mask_from_magnitude`` with the session. A net whose mask
needs the frame count padded to a multiple (MaskUNet's stride-2 stages) says so in ``frames_multiple``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from voipdns.export.graphs.base import GraphKind, GraphSpec, MethodGraph, Session
from voipdns.models.base import EnhancementNet


def _pad_frames(magnitude: torch.Tensor, multiple: int) -> torch.Tensor:
    frames = magnitude.shape[-1]
    return F.pad(magnitude, (0, -frames % multiple, 0, 0), mode="replicate") if multiple > 1 else magnitude


def mask_spec(net: EnhancementNet, audio: torch.Tensor) -> GraphSpec:
    _, magnitude = net.analysis(F.pad(audio, (0, net.valid_length(audio.shape[-1]) - audio.shape[-1])))
    multiple = int(getattr(net, "frames_multiple", 1))
    # a net that pads frames with Python arithmetic is traced on a multiple and padded at run time
    magnitude = _pad_frames(magnitude, multiple)
    axes = {0: "batch", 3: "frames"}
    return GraphSpec(
        "magnitude_mask", MethodGraph(net, "mask_from_magnitude"), (magnitude,), ("magnitude",), ("mask",),
        {"magnitude": axes, "mask": axes}, {"frames_multiple": str(multiple)},
    )  # fmt: skip


def bind_mask(net: EnhancementNet, run: Session, metadata: dict, output_names: list) -> None:
    multiple = int(metadata.get("frames_multiple", "1"))

    def mask_from_magnitude(magnitude: torch.Tensor, drop_band_groups: int = 1) -> torch.Tensor:
        return run(_pad_frames(magnitude, multiple))[0][..., : magnitude.shape[-1]]

    net.mask_from_magnitude = mask_from_magnitude


MAGNITUDE_MASK = GraphKind("magnitude_mask", mask_spec, bind_mask)
