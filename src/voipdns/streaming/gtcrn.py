"""Streaming GTCRN: one 16 ms hop per step, the same arithmetic as the offline net.

GTCRN is causal in frames: its grouped temporal convolutions look back ``2 x dilation`` frames and its
recurrent layers (each block's TRA GRU, the inter-frame GRUs of the two dual-path RNNs) run forward in time;
everything else works within a frame. ``GTCRN.step`` runs any number of frames from an explicit state, so
``GTCRNStreamCore`` is that call on one frame, the state being 14 tensors: per grouped temporal conv block
its ``history`` (the depthwise conv's past input frames) and ``gru`` (TRA) state, then the inter-frame GRU
state of each dual-path RNN. The framing (centred STFT, sqrt-Hann, overlap-add) is
``voipdns.streaming.centred_stft``, shared with FullSubNet.

Latency: 512 samples (32 ms) = one window; ``feed + flush`` equals the offline ``net(noisy)`` within float32
rounding (the FFTs of single frames vs ``torch.stft``).
"""

from __future__ import annotations

import json

import torch

from voipdns.models.gtcrn import GTCRN
from voipdns.streaming.base import StepRunner, StreamingCore, TorchStepRunner
from voipdns.streaming.centred_stft import CentredStftStreamer


def state_names(net: GTCRN) -> tuple[str, ...]:
    """Names of ``net.initial_state()``'s tensors, in its order: conv blocks' pairs, then the two RNNs."""
    blocks = (len(net.initial_state(1)) - 2) // 2
    pairs = [(f"gtconv{index}_history", f"gtconv{index}_gru") for index in range(blocks)]
    return (*(name for pair in pairs for name in pair), "dpgrnn1", "dpgrnn2")


class GTCRNStreamCore(StreamingCore):
    """``forward(spectrum[B, F, 1, 2], *states) -> (enhanced[B, F, 1, 2], *states)``: ``GTCRN.step``."""

    input_names = ("spectrum",)
    output_names = ("enhanced",)
    # a step is ~0.5 M multiply-adds, so per-node overhead dominates: with batch 1 fixed in the exported graph
    # ONNX Runtime folds the shape arithmetic away (593 -> 348 nodes after its optimisation)
    dynamic_batch = False

    def __init__(self, net: GTCRN):
        super().__init__()
        self.net = net.eval()
        self.num_freqs = net.stft.num_bins
        self.state_names = state_names(net)

    def example_inputs(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(batch, self.num_freqs, 1, 2)]

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return self.net.initial_state(batch)

    def state_batch_axes(self) -> dict[str, int]:
        # conv histories are [B, channels, frames, bands]; GRU states [layers, B (x bands), hidden]
        return {name: 0 if name.endswith("_history") else 1 for name in self.state_names}

    def forward(self, spectrum: torch.Tensor, *states: torch.Tensor):
        enhanced, next_state = self.net.step(spectrum, list(states))
        return (enhanced, *next_state)

    def export_metadata(self) -> dict[str, str]:
        stft = self.net.stft
        return {"voipdns.stream.stft": json.dumps([stft.n_fft, stft.hop_samples, stft.win_samples])}


class GTCRNStreamer(CentredStftStreamer):
    """Frame-by-frame GTCRN; output aligned with the input (see ``Streamer``), 512 samples of latency."""

    def __init__(self, net: GTCRN, runner: StepRunner | None = None):
        super().__init__(net.stft, net.valid_length(1), "GTCRN")
        self.core = GTCRNStreamCore(net)
        self.runner = runner or TorchStepRunner(self.core)
        self.net = net
        self.name = "gtcrn"
        self.family = "gtcrn"
        self.sample_rate = int(net.sample_rate)
        self.latency_samples = int(net.latency_samples)
        self._reset()

    def _reset_core(self) -> None:
        self.states = self.core.initial_state(1)

    def _step(self, spectrum: torch.Tensor | None) -> list[torch.Tensor]:
        frame = torch.view_as_real(spectrum).reshape(1, -1, 1, 2)
        (enhanced,), self.states = self.runner([frame], self.states)
        return [torch.view_as_complex(enhanced.reshape(-1, 2).contiguous())]
