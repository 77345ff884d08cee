"""The ``waveform`` graph: Demucs whole, ``noisy[B, 1, T] -> estimate[B, 1, T]``, self-contained (no bind)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.export.graphs.base import KEEP_FLOAT_KEY, GraphKind, GraphSpec
from voipdns.export.polyphase import with_polyphase_transposed_convs
from voipdns.models.demucs import Demucs


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


def demucs_spec(net: Demucs, audio: torch.Tensor) -> GraphSpec:
    axes = {0: "batch", 2: "samples"}
    return GraphSpec(
        "waveform", DemucsWaveformGraph(net), (audio,), ("noisy",), ("estimate",),
        {"noisy": axes, "estimate": axes}, {KEEP_FLOAT_KEY: demucs_keep_float(net)},
    )  # fmt: skip


WAVEFORM = GraphKind("waveform", demucs_spec)
