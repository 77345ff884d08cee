"""The export capability table: which part of each net becomes the ONNX graph (its graph kind).

ONNX has no complex tensors and the legacy exporter unrolls Python loops, so STFT/iSTFT and recursive DSP
stay outside the graph and run around the ONNX Runtime session in PyTorch (``voipdns.export.runtime``
rebuilds that signal processing from the net config stored in the file and binds the session in):

| graph kind (``graphs/``) | nets                 | inputs -> outputs                                             |
|--------------------------|----------------------|---------------------------------------------------------------|
| ``waveform``             | Demucs               | ``noisy[B, 1, T]`` -> ``estimate[B, 1, T]`` (self-contained)  |
| ``magnitude_mask``       | FullSubNet, MaskUNet | ``magnitude[B, 1, F, frames]`` -> ``mask`` (cIRM / real)      |
| ``percepnet_core``       | PercepNet, PPN, UPN  | ``features[B, frames, n]`` (+ ``conditioning``) -> gains, ... |
| ``gtcrn_spectrum``       | GTCRN                | ``spectrum[B, F, frames, 2]`` -> ``enhanced`` (real, imag)    |
| ``knob_controller``      | DspDenoiser          | ``features[B, 2 bands, frames]`` -> the four knobs            |

Batch and time/frame axes are dynamic. Adding an exportable model = one entry in ``EXPORT_GRAPHS`` (an
existing kind, or a new ``export/graphs/<kind>.py`` listed in ``GRAPH_KINDS`` too). Streaming graphs
(``stream_<family>``) come from a net's streamer instead: ``voipdns.export.stream_graph``.
"""

from __future__ import annotations

import torch

from voipdns.class_table import class_names, entry_for
from voipdns.export.graphs.base import KEEP_FLOAT_KEY, GraphKind, GraphSpec, UnsupportedExportError
from voipdns.export.graphs.gtcrn_spectrum import GTCRN_SPECTRUM
from voipdns.export.graphs.knob_controller import KNOB_CONTROLLER
from voipdns.export.graphs.magnitude_mask import MAGNITUDE_MASK
from voipdns.export.graphs.percepnet_core import PERCEPNET_CORE
from voipdns.export.graphs.waveform import WAVEFORM, DemucsWaveformGraph, demucs_keep_float
from voipdns.models.base import EnhancementNet
from voipdns.models.demucs import Demucs
from voipdns.models.dsp_denoiser import DspDenoiser
from voipdns.models.fullsubnet import FullSubNet
from voipdns.models.gtcrn import GTCRN
from voipdns.models.percepnet import PercepNet
from voipdns.models.unet import MaskUNet

#: net class -> its graph kind; a subclass exports as its nearest registered base (PPN, UPN as PercepNet).
EXPORT_GRAPHS: dict[type[EnhancementNet], GraphKind] = {
    Demucs: WAVEFORM,
    FullSubNet: MAGNITUDE_MASK,
    MaskUNet: MAGNITUDE_MASK,
    PercepNet: PERCEPNET_CORE,
    DspDenoiser: KNOB_CONTROLLER,
    GTCRN: GTCRN_SPECTRUM,
}

#: graph name stored in the file (metadata ``graph``) -> its kind, for the runtime
GRAPH_KINDS: dict[str, GraphKind] = {
    kind.name: kind for kind in (WAVEFORM, MAGNITUDE_MASK, PERCEPNET_CORE, KNOB_CONTROLLER, GTCRN_SPECTRUM)
}


def graph_kind_for(net: EnhancementNet) -> GraphKind:
    kind = entry_for(EXPORT_GRAPHS, net)
    if kind is None:
        raise UnsupportedExportError(
            f"{type(net).__name__} has no ONNX export adapter (supported: {', '.join(class_names(EXPORT_GRAPHS))} "
            "and their subclasses)"
        )
    return kind


def _example_audio(net: EnhancementNet, seconds: float, batch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    samples = max(int(seconds * net.sample_rate), net.valid_length(1))
    return 0.1 * torch.randn(batch, 1, samples, generator=generator)


def graph_spec(net: EnhancementNet, seconds: float = 1.0, batch: int = 1) -> GraphSpec:
    """The graph to export for ``net`` and an example input of ``seconds`` of audio."""
    kind = graph_kind_for(net)
    with torch.no_grad():
        return kind.build(net, _example_audio(net, seconds, batch))


__all__ = [
    "EXPORT_GRAPHS",
    "GRAPH_KINDS",
    "KEEP_FLOAT_KEY",
    "DemucsWaveformGraph",
    "GraphKind",
    "GraphSpec",
    "UnsupportedExportError",
    "demucs_keep_float",
    "graph_kind_for",
    "graph_spec",
]
