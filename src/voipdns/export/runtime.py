"""Run an exported voipdns ONNX file with ONNX Runtime: ``OnnxNet(path).enhance(noisy) -> estimate``.

For graphs that are only the learned core (see ``voipdns.export.adapters``), the runtime builds the net from
the config stored in the file *without weights* and lets the file's graph kind bind the ONNX session in
place of its core, so the STFT/iSTFT and DSP around it are exactly the PyTorch ones. Streaming graphs run
in ``voipdns.export.stream_graph``; ``voipdns.enhancers`` turns either into an ``Enhancer``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from voipdns.export.adapters import GRAPH_KINDS
from voipdns.export.metadata import OnnxMetadataError, net_config_of, read_metadata
from voipdns.models.base import EnhancementNet
from voipdns.pretrained import build_net

OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def make_session(path: str | Path, threads: int = 1, optimization: str = "all") -> ort.InferenceSession:
    """A CPU session with ``threads`` intra-op threads (1: the real-time setting), sequential execution."""
    if optimization not in OPTIMIZATION_LEVELS:
        raise ValueError(f"optimization={optimization!r}: choose one of {sorted(OPTIMIZATION_LEVELS)}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = OPTIMIZATION_LEVELS[optimization]
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_session(session: ort.InferenceSession, names: list[str], *inputs: torch.Tensor) -> list[torch.Tensor]:
    feed = {
        name: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        for name, x in zip(names, inputs, strict=True)
    }
    return [torch.from_numpy(out) for out in session.run(None, feed)]


def build_skeleton(config: dict, source: str) -> EnhancementNet:
    """The net of ``config`` with untrained weights: only its signal processing is used around the graph."""
    return build_net(config, source).eval()


class OnnxNet:
    """An exported file as ``enhance(noisy[B, 1, T]) -> estimate[B, 1, T]`` (torch tensors, CPU)."""

    def __init__(self, path: str | Path, threads: int = 1, optimization: str = "all", metadata: dict | None = None):
        self.path = Path(path)
        self.metadata = metadata or read_metadata(self.path)
        self.graph = self.metadata["graph"]
        self.sample_rate = int(self.metadata["sample_rate"])
        self.session = make_session(self.path, threads, optimization)
        names = [node.name for node in self.session.get_inputs()]
        outputs = [node.name for node in self.session.get_outputs()]

        def run(*inputs: torch.Tensor) -> list[torch.Tensor]:  # through the attribute: it can be wrapped
            return run_session(self.session, names, *inputs)

        self.net: EnhancementNet | None = None
        if self.graph.startswith("stream_"):
            raise OnnxMetadataError(
                f"{self.path} is a streaming graph ({self.graph}): use voipdns.export.stream_graph.load_onnx_streamer"
            )
        kind = GRAPH_KINDS.get(self.graph)
        if kind is None:
            raise OnnxMetadataError(f"{self.path}: unknown graph kind {self.graph!r}; known: {sorted(GRAPH_KINDS)}")
        if kind.bind is None:  # self-contained: the graph is the whole net
            self._run: Callable[[torch.Tensor], torch.Tensor] = lambda noisy: run(noisy)[0]
            return
        self.net = build_skeleton(net_config_of(self.metadata), str(self.path))
        kind.bind(self.net, run, self.metadata, outputs)
        self._run = self.net

    @torch.inference_mode()
    def enhance(self, noisy: torch.Tensor) -> torch.Tensor:
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"{self.path}: expects noisy [batch, 1, samples], got {list(noisy.shape)}")
        return self._run(noisy.float())
