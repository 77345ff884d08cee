"""Run an exported voipdns ONNX file with ONNX Runtime: ``onnx_enhancer(path) -> Enhancer``.

For graphs that are only the learned core (see ``voipdns.export.adapters``), the runtime builds the net from
the config stored in the file *without weights* and binds the ONNX session in place of its core, so the
STFT/iSTFT and DSP around it are exactly the PyTorch ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch.nn import functional as F

from voipdns.enhancers import Enhancer
from voipdns.export.metadata import OnnxMetadataError, net_config_of, read_metadata
from voipdns.models.base import EnhancementNet

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
    from voipdns.pretrained import build_net  # deferred: pulls in the checkpoint machinery

    return build_net(config, source).eval()


Session = Callable[..., list[torch.Tensor]]


def _bind_mask(net, run: Session, frames_multiple: int) -> None:
    def mask_from_magnitude(magnitude: torch.Tensor, drop_band_groups: int = 1) -> torch.Tensor:
        frames = magnitude.shape[-1]
        padded = (
            F.pad(magnitude, (0, -frames % frames_multiple, 0, 0), mode="replicate")
            if frames_multiple > 1
            else magnitude
        )
        return run(padded)[0][..., :frames]

    net.mask_from_magnitude = mask_from_magnitude


def _bind_percepnet(net, run: Session, output_names) -> None:
    def predict(features: torch.Tensor, conditioning: torch.Tensor | None) -> dict[str, torch.Tensor]:
        inputs = [features] + ([conditioning] if conditioning is not None else [])
        return dict(zip(output_names, run(*inputs), strict=True))

    net.predict = predict


def _bind_controller(net, run: Session, output_names) -> None:
    def forward(features: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(output_names, run(features), strict=True))

    net.controller.forward = forward


class OnnxNet:
    """An exported file as ``enhance(noisy[B, 1, T]) -> estimate[B, 1, T]`` (torch tensors, CPU)."""

    def __init__(self, path: str | Path, threads: int = 1, optimization: str = "all"):
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        self.graph = self.metadata["graph"]
        self.sample_rate = int(self.metadata["sample_rate"])
        self.session = make_session(self.path, threads, optimization)
        names = [node.name for node in self.session.get_inputs()]
        outputs = [node.name for node in self.session.get_outputs()]

        def run(*inputs: torch.Tensor) -> list[torch.Tensor]:  # through the attribute: it can be wrapped
            return run_session(self.session, names, *inputs)

        self.net: EnhancementNet | None = None
        if self.graph == "waveform":
            self._run: Callable[[torch.Tensor], torch.Tensor] = lambda noisy: run(noisy)[0]
            return
        if self.graph.startswith("stream_"):
            raise OnnxMetadataError(
                f"{self.path} is a streaming graph ({self.graph}): "
                "use voipdns.streaming.onnx.load_onnx_streamer"
            )
        self.net = build_skeleton(net_config_of(self.metadata), str(self.path))
        if self.graph == "magnitude_mask":
            _bind_mask(self.net, run, int(self.metadata.get("frames_multiple", "1")))
        elif self.graph == "percepnet_core":
            _bind_percepnet(self.net, run, outputs)
        elif self.graph == "knob_controller":
            _bind_controller(self.net, run, outputs)
        else:
            raise OnnxMetadataError(f"{self.path}: unknown graph kind {self.graph!r}")
        self._run = self.net

    @torch.inference_mode()
    def enhance(self, noisy: torch.Tensor) -> torch.Tensor:
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"{self.path}: expects noisy [batch, 1, samples], got {list(noisy.shape)}")
        return self._run(noisy.float())


def onnx_enhancer(path: str | Path, threads: int = 1, optimization: str = "all") -> Enhancer:
    """An ``Enhancer`` (numpy chunk -> numpy chunk) running an exported voipdns ONNX file.

    A streaming graph (``voipdns-export stream=true``) is run frame by frame, from a fresh state per chunk.
    """
    if read_metadata(path)["graph"].startswith("stream_"):
        from voipdns.streaming import stream_enhancer
        from voipdns.streaming.onnx import load_onnx_streamer

        return stream_enhancer(load_onnx_streamer(path, threads))
    model = OnnxNet(path, threads, optimization)

    def enhance(chunk: np.ndarray) -> np.ndarray:
        noisy = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)).view(1, 1, -1)
        return model.enhance(noisy).view(-1).numpy()

    return Enhancer(str(path), model.sample_rate, enhance)
