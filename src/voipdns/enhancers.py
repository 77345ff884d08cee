"""The one place that turns a model spec from the command line into something that runs.

A spec is a registry name (``dns48``), a checkpoint path (official or voipdns), an exported ``.onnx`` file
(offline or streaming graph; its metadata is read once), or ``input`` (no processing, to score the
unprocessed input).

* ``load_enhancer(spec, stream=False) -> Enhancer``: ``numpy chunk -> numpy chunk``; ``stream=True`` runs the
  causal streamer frame by frame from a fresh state per chunk (what a live call would hear).
* ``load_streamer(spec) -> Streamer``: for voipdns-enhance ``stream=true`` and voipdns-live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voipdns.chunking import torch_batch_enhancer, torch_enhancer
from voipdns.export.metadata import read_metadata
from voipdns.export.runtime import OnnxNet
from voipdns.export.source import load_model
from voipdns.export.stream_graph import load_onnx_streamer
from voipdns.pretrained import load_net
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.streaming import Streamer, streamer_for

#: the spec that means "no model": evaluates the unprocessed input
IDENTITY_SPEC = "input"


@dataclass
class Enhancer:
    name: str
    sample_rate: int
    enhance: Callable[[np.ndarray], np.ndarray]
    #: several clips at once, zero-padded into one batch (PyTorch nets); None: voipdns-enhance calls ``enhance``
    enhance_batch: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None


def is_onnx(spec: str | Path) -> bool:
    return str(spec).endswith(".onnx")


def stream_enhancer(streamer: Streamer) -> Enhancer:
    """An ``Enhancer`` streaming each chunk from a fresh state (to evaluate streaming with voipdns-eval)."""
    return Enhancer(f"{streamer.name} (streaming)", streamer.sample_rate, lambda chunk: streamer.process(chunk))


def onnx_enhancer(path: str | Path, threads: int = 1, optimization: str = "all") -> Enhancer:
    """An ``Enhancer`` running an exported file; a streaming graph runs frame by frame from a fresh state."""
    metadata = read_metadata(path)
    if metadata["graph"].startswith("stream_"):
        return stream_enhancer(load_onnx_streamer(path, threads, metadata=metadata))
    model = OnnxNet(path, threads, optimization, metadata=metadata)

    def enhance(chunk: np.ndarray) -> np.ndarray:
        noisy = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)).view(1, 1, -1)
        return model.enhance(noisy).view(-1).numpy()

    return Enhancer(str(path), model.sample_rate, enhance)


def load_streamer(spec: str | Path, threads: int = 1, **options) -> Streamer:
    """A streamer from a registry name, a checkpoint or a streaming ONNX file (voipdns-export stream=true);
    ``options`` as ``voipdns.streaming.factory.known_options`` lists them."""
    if is_onnx(spec):
        return load_onnx_streamer(spec, threads, **options)
    return streamer_for(load_model(spec).net, **options)


def load_enhancer(
    spec: str, device: str = "cpu", sample_rate: int = DEFAULT_SAMPLE_RATE, stream: bool = False
) -> Enhancer:
    if spec == IDENTITY_SPEC:
        return Enhancer(IDENTITY_SPEC, sample_rate, lambda chunk: np.array(chunk, dtype=np.float32, copy=True))
    if stream:
        return stream_enhancer(load_streamer(spec))
    if is_onnx(spec):
        return onnx_enhancer(spec)
    net = load_net(spec)
    return Enhancer(str(spec), int(net.sample_rate), torch_enhancer(net, device), torch_batch_enhancer(net, device))
