"""Which part of each net becomes the ONNX graph (the learned core), and with which inputs.

ONNX has no complex tensors and the legacy exporter unrolls Python loops, so STFT/iSTFT and recursive DSP
stay outside the graph and run around the ONNX Runtime session in PyTorch (``voipdns.export.runtime``
rebuilds that signal processing from the net config stored in the file):

| graph             | nets                   | inputs -> outputs                                          |
|-------------------|------------------------|------------------------------------------------------------|
| ``waveform``      | Demucs                 | ``noisy[B, 1, T]`` -> ``estimate[B, 1, T]`` (self-contained) |
| ``magnitude_mask``| FullSubNet, MaskUNet   | ``magnitude[B, 1, F, frames]`` -> ``mask`` (cIRM / real)     |
| ``percepnet_core``| PercepNet, PPN, UPN    | ``features[B, frames, n]`` (+ ``conditioning``) -> gains, ... |
| ``knob_controller``| DspDenoiser           | ``features[B, 2 bands, frames]`` -> the four knobs          |

Batch and time/frame axes are dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.export.polyphase import with_polyphase_transposed_convs
from voipdns.models.base import EnhancementNet
from voipdns.models.demucs import Demucs
from voipdns.models.dsp_denoiser import KNOBS, DspDenoiser
from voipdns.models.fullsubnet import FullSubNet
from voipdns.models.percepnet import PercepNet
from voipdns.models.unet import STAGES, MaskUNet


class UnsupportedExportError(ValueError):
    """A net voipdns cannot export (the message says which and why)."""


def _ceil_div(numerator: torch.Tensor, denominator: int) -> torch.Tensor:
    return -torch.div(-numerator, denominator, rounding_mode="floor")


class DemucsWaveformGraph(nn.Module):
    """Demucs with its padding computed in the graph, so one file takes any length.

    ``Demucs.forward`` computes the padded length in Python (``valid_length``), which tracing would freeze
    at the example's length; here the same arithmetic runs on the traced input length, the net runs with
    normalisation off on the padded signal, and normalisation (std of the unpadded input, as
    ``Demucs.forward``) is done around it. The core's transposed convolutions are exported in their
    polyphase form (``voipdns.export.polyphase``) so that static INT8 quantisation reaches them.
    """

    def __init__(self, net: Demucs):
        super().__init__()
        self.net = net
        self.core = with_polyphase_transposed_convs(net)  # same function; `normalize`, `valid_length` differ
        self.core.normalize = False
        # The core receives valid lengths; its own padding (Python arithmetic, frozen by tracing as
        # "example valid length - input length") must trace as "length - length" = 0 instead.
        self.core.valid_length = lambda length: length
        self.max_padding = net.valid_length(1)

    def valid_length(self, length: torch.Tensor) -> torch.Tensor:
        """``Demucs.valid_length`` on a tensor (same loops, integer tensor arithmetic)."""
        net = self.net
        frames = length * net.resample
        for _ in range(net.depth):
            frames = torch.clamp(_ceil_div(frames - net.kernel_size, net.stride) + 1, min=1)
        for _ in range(net.depth):
            frames = (frames - 1) * net.stride + net.kernel_size
        return _ceil_div(frames, net.resample)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        length = noisy.shape[-1]
        if self.net.normalize:
            std = noisy.mean(dim=1, keepdim=True).std(dim=-1, keepdim=True)
            x = noisy / (self.net.floor + std)
        else:
            std, x = torch.ones_like(noisy[..., :1]), noisy
        valid = self.valid_length(torch.as_tensor(length))
        x = F.pad(x, (0, self.max_padding))[..., :valid]
        return std * self.core(x)[..., :length]


class MethodGraph(nn.Module):
    """Exports one method of a net (its learned core); tuple outputs in ``output_keys`` order."""

    def __init__(self, net: nn.Module, method: str, output_keys: tuple[str, ...] = ()):
        super().__init__()
        self.net, self.method, self.output_keys = net, method, output_keys

    def forward(self, *inputs: torch.Tensor):
        result = getattr(self.net, self.method)(*inputs)
        if self.output_keys:
            return tuple(result[key] for key in self.output_keys)
        return result


class PercepNetCoreGraph(nn.Module):
    """``PercepNet.predict`` (features, optional conditioning) with tuple outputs."""

    def __init__(self, net: PercepNet, output_keys: tuple[str, ...]):
        super().__init__()
        self.net, self.output_keys = net, output_keys

    def forward(self, features: torch.Tensor, conditioning: torch.Tensor | None = None):
        result = self.net.predict(features, conditioning)
        return tuple(result[key] for key in self.output_keys)


@dataclass
class GraphSpec:
    graph: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, str] = field(default_factory=dict)


#: Metadata key: regular expressions (joined by ``|``) of node names that static INT8 leaves in FP32.
KEEP_FLOAT_KEY = "int8_keep_float"


#: Demucs levels (encoder i with its mirror decoder) that static INT8 keeps in FP32, outermost first.
DEMUCS_FP32_LEVELS = 2


def demucs_keep_float(net: Demucs, levels: int = DEMUCS_FP32_LEVELS) -> str:
    """The resampler and the ``levels`` outermost encoder/decoder levels: they carry the signal itself at the
    highest rates. For dns48 they are 24 % of the multiply-adds, and quantising them costs most of the
    quality: trained dns48, PESQ-WB change -0.007 with 2 levels kept (RTF 0.033), -0.058 with 1 (RTF 0.027),
    see bench/README.md. Names are the exporter's module scopes."""
    levels = min(levels, net.depth)
    encoders = "|".join(str(index) for index in range(levels))
    decoders = "|".join(str(net.depth - 1 - index) for index in range(levels))
    return rf"^/core/Conv(_\d+)?$|^/core/encoder\.({encoders})/|^/core/decoder\.({decoders})/"


def _example_audio(net: EnhancementNet, seconds: float, batch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    samples = max(int(seconds * net.sample_rate), net.valid_length(1))
    return 0.1 * torch.randn(batch, 1, samples, generator=generator)


def _demucs_spec(net: Demucs, audio: torch.Tensor) -> GraphSpec:
    axes = {0: "batch", 2: "samples"}
    return GraphSpec(
        "waveform", DemucsWaveformGraph(net), (audio,), ("noisy",), ("estimate",),
        {"noisy": axes, "estimate": axes}, {KEEP_FLOAT_KEY: demucs_keep_float(net)},
    )  # fmt: skip


def _mask_spec(net: FullSubNet | MaskUNet, audio: torch.Tensor) -> GraphSpec:
    _, magnitude = net.analysis(F.pad(audio, (0, net.valid_length(audio.shape[-1]) - audio.shape[-1])))
    multiple = 2**STAGES if isinstance(net, MaskUNet) else 1
    frames = magnitude.shape[-1]
    # MaskUNet pads frames to a multiple of 16 with Python arithmetic: trace on a multiple, pad at run time
    magnitude = (
        F.pad(magnitude, (0, -frames % multiple, 0, 0), mode="replicate") if multiple > 1 else magnitude
    )
    axes = {0: "batch", 3: "frames"}
    return GraphSpec(
        "magnitude_mask", MethodGraph(net, "mask_from_magnitude"), (magnitude,), ("magnitude",), ("mask",),
        {"magnitude": axes, "mask": axes}, {"frames_multiple": str(multiple)},
    )  # fmt: skip


def _percepnet_spec(net: PercepNet, audio: torch.Tensor) -> GraphSpec:
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


def _controller_spec(net: DspDenoiser, audio: torch.Tensor) -> GraphSpec:
    spec = net.stft.analysis(F.pad(audio, (0, net.valid_length(audio.shape[-1]) - audio.shape[-1])))
    level_db, floor_db = net.band_levels(spec)
    features = torch.cat([level_db / 20, (level_db - floor_db) / 10], dim=1)  # as DspDenoiser.knobs
    axes = {0: "batch", 2: "frames"}
    return GraphSpec(
        "knob_controller", MethodGraph(net.controller, "forward", KNOBS), (features,), ("features",), KNOBS,
        {"features": axes, **{name: axes for name in KNOBS}},
    )  # fmt: skip


def graph_spec(net: EnhancementNet, seconds: float = 1.0, batch: int = 1) -> GraphSpec:
    """The graph to export for ``net`` and an example input of ``seconds`` of audio."""
    audio = _example_audio(net, seconds, batch)
    with torch.no_grad():
        if isinstance(net, Demucs):
            return _demucs_spec(net, audio)
        if isinstance(net, (FullSubNet, MaskUNet)):
            return _mask_spec(net, audio)
        if isinstance(net, PercepNet):
            return _percepnet_spec(net, audio)
        if isinstance(net, DspDenoiser):
            if net.overrides:
                raise UnsupportedExportError(
                    f"DspDenoiser with fixed knobs {sorted(net.overrides)}: export the net without overrides"
                )
            return _controller_spec(net, audio)
    raise UnsupportedExportError(
        f"{type(net).__name__} has no ONNX export adapter (supported: Demucs, FullSubNet, MaskUNet, "
        "PercepNet/PPN/UPN, DspDenoiser)"
    )
