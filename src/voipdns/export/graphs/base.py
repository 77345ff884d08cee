"""What every graph kind shares: the spec of a graph to trace, the kind itself, and a method-as-module wrapper.

A ``GraphKind`` pairs ``build(net, audio) -> GraphSpec`` (the module and example inputs to trace) with
``bind(net, run, metadata, output_names)``, which makes an untrained net of the same config call the ONNX
session (``run``) in place of its learned core, so the signal processing around it is the PyTorch one.
Self-contained graphs (``waveform``) have no ``bind``: the runtime runs them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from voipdns.models.base import EnhancementNet

#: ``run(*inputs) -> outputs``: one ONNX Runtime call on torch tensors
Session = Callable[..., list[torch.Tensor]]
Binder = Callable[[EnhancementNet, Session, dict, list], None]


class UnsupportedExportError(ValueError):
    """A net voipdns cannot export (the message says which and why)."""


@dataclass
class GraphSpec:
    graph: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphKind:
    name: str
    build: Callable[[EnhancementNet, torch.Tensor], GraphSpec]
    bind: Binder | None = None


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


#: Metadata key: regular expressions (joined by ``|``) of node names that static INT8 leaves in FP32.
KEEP_FLOAT_KEY = "int8_keep_float"
