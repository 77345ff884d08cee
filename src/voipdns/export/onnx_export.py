"""Net -> ONNX file with the legacy (TorchScript-tracing) exporter, dynamic batch/time axes and metadata.

The dynamo exporter hangs on the LSTMs of these nets (torch 2.13), so ``dynamo=False`` throughout.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from voipdns.export.adapters import GraphSpec, graph_spec
from voipdns.export.metadata import net_metadata, write_metadata
from voipdns.models.base import EnhancementNet

DEFAULT_OPSET = 17


def trace_to_onnx(
    module: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int = DEFAULT_OPSET,
) -> Path:
    """``torch.onnx.export(..., dynamo=False)`` with tracer warnings silenced (shape checks get traced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    module = module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, inputs, str(temporary), dynamo=False, opset_version=opset,
                input_names=list(input_names), output_names=list(output_names), dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )  # fmt: skip
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def export_onnx(
    net: EnhancementNet,
    path: str | Path,
    name: str,
    config: dict,
    opset: int = DEFAULT_OPSET,
    example_seconds: float = 1.0,
) -> GraphSpec:
    """Writes the net's ONNX graph (see ``voipdns.export.adapters``) with its metadata; returns the spec."""
    net = net.eval()
    spec = graph_spec(net, example_seconds)
    trace_to_onnx(spec.module, spec.inputs, path, spec.input_names, spec.output_names, spec.dynamic_axes, opset)
    write_metadata(path, {**net_metadata(net, name, config, spec.graph), **spec.metadata})
    return spec
