"""Metadata stored inside every exported ONNX file (``metadata_props``), so a file is self-describing.

Keys (all strings; prefix ``voipdns.``): ``graph`` (what the graph computes, see ``voipdns.export.adapters``
and ``voipdns.export.stream_graph``), ``model_name``, ``model_target`` (the net class), ``sample_rate`` (Hz),
``hop_samples``, ``latency_samples``, ``net_config`` (JSON of the Hydra net config: the runtime rebuilds the
signal processing around the graph from it), ``version`` (voipdns), ``quantization`` (``none``,
``int8_dynamic`` or ``int8_static``), plus graph-specific keys (``int8_keep_float``: node-name patterns
static INT8 leaves in FP32).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

import voipdns
from voipdns.models.base import EnhancementNet

PREFIX = "voipdns."
REQUIRED = (
    "graph",
    "model_name",
    "model_target",
    "sample_rate",
    "hop_samples",
    "latency_samples",
    "net_config",
)


class OnnxMetadataError(ValueError):
    """An ONNX file without the metadata voipdns needs; the message names the file and the missing keys."""


def hop_samples(net: EnhancementNet) -> int:
    """Input samples per frame of the net (its natural streaming step)."""
    for attribute in ("total_stride", "hop_samples"):
        value = getattr(net, attribute, None)
        if isinstance(value, int):
            return value
    stft = getattr(net, "stft", None)
    return int(stft.hop_samples) if stft is not None else 1


def net_metadata(net: EnhancementNet, name: str, config: dict, graph: str) -> dict[str, str]:
    target = config.get("_target_") or f"{type(net).__module__}.{type(net).__qualname__}"
    return {
        "graph": graph,
        "model_name": name,
        "model_target": str(target),
        "sample_rate": str(int(net.sample_rate)),
        "hop_samples": str(hop_samples(net)),
        "latency_samples": str(int(net.latency_samples)),
        "net_config": json.dumps(config, sort_keys=True),
        "version": voipdns.__version__,
        "quantization": "none",
    }


def write_metadata(path: str | Path, values: dict[str, Any]) -> None:
    """Adds or replaces ``voipdns.*`` keys in the ONNX file at ``path`` (weights untouched)."""
    model = onnx.load(str(path))
    set_metadata(model, values)
    onnx.save(model, str(path))


def set_metadata(model: onnx.ModelProto, values: dict[str, Any]) -> None:
    keys = {PREFIX + key if not key.startswith(PREFIX) else key: str(value) for key, value in values.items()}
    kept = [prop for prop in model.metadata_props if prop.key not in keys]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in keys.items():
        model.metadata_props.add(key=key, value=value)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``voipdns.*`` keys of an ONNX file, prefix removed; raises when the required ones are missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and others on non-ONNX files
        raise OnnxMetadataError(f"{path}: not a readable ONNX file ({error})") from error
    values = {p.key[len(PREFIX) :]: p.value for p in model.metadata_props if p.key.startswith(PREFIX)}
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise OnnxMetadataError(
            f"{path}: not a voipdns export (metadata lacks {missing}); export it with voipdns-export"
        )
    return values


def net_config_of(values: dict[str, str]) -> dict:
    return json.loads(values["net_config"])
