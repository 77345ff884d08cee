"""The ``gtcrn_spectrum`` graph: ``spectrum[B, F, frames, 2] -> enhanced[B, F, frames, 2]`` (GTCRN).

The graph is ``GTCRN.spectral_forward``, the official module's call: real and imaginary parts of the centred
STFT in, the enhanced spectrum out (the complex ratio mask is applied inside). ONNX has no complex tensors,
so the STFT and iSTFT stay outside, in PyTorch: the runtime keeps the net's ``analysis`` / ``synthesis`` and
replaces ``spectral_forward`` with the session. Batch and frames are dynamic.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from voipdns.export.graphs.base import KEEP_FLOAT_KEY, GraphKind, GraphSpec, MethodGraph, Session
from voipdns.models.gtcrn import GTCRN

#: Nodes static INT8 keeps in FP32: the ERB band merge and the two frequency-strided encoder convs, which see
#: the raw spectrum (magnitude, real, imaginary: a wide dynamic range that one uint8 activation scale
#: flattens). Official DNS3 weights on the 6 VoiceBank-DEMAND pairs, PESQ-WB change of static INT8 vs FP32:
#: -0.227 with every Conv/MatMul quantised (INT8-vs-FP32 SNR 13.7 dB), +0.013 with these kept (27.9 dB).
#: Names are the exporter's module scopes.
GTCRN_KEEP_FLOAT = r"^/erb_fc/|^/en_convs\.[01]/"


def gtcrn_spec(net: GTCRN, audio: torch.Tensor) -> GraphSpec:
    spectrum = net.analysis(F.pad(audio, (0, net.valid_length(audio.shape[-1]) - audio.shape[-1])))
    axes = {0: "batch", 2: "frames"}
    return GraphSpec(
        "gtcrn_spectrum", MethodGraph(net, "spectral_forward"), (spectrum,), ("spectrum",), ("enhanced",),
        {"spectrum": axes, "enhanced": axes}, {KEEP_FLOAT_KEY: GTCRN_KEEP_FLOAT},
    )  # fmt: skip


def bind_gtcrn(net: GTCRN, run: Session, metadata: dict, output_names: list) -> None:
    def spectral_forward(spectrum: torch.Tensor) -> torch.Tensor:
        return run(spectrum)[0]

    net.spectral_forward = spectral_forward


GTCRN_SPECTRUM = GraphKind("gtcrn_spectrum", gtcrn_spec, bind_gtcrn)
