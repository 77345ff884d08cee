"""Streaming PercepNet / PPN / UPN: one 10 ms frame per step, 320 samples (20 ms) of latency at 16 kHz.

Every stage of PercepNet is causal: the pitch search and the comb filter look back only, the convolutions
are left-padded and the GRUs unidirectional. Per hop the streamer keeps just enough past input for the comb
filter's 7 pitch periods (``history_samples``), runs the net's own analysis on that window and keeps its last
frame (identical to the offline frame, which sees the same samples), steps ``PercepNetStreamCore`` (the
conv inputs and GRU states carried), applies gains and pitch-filter strengths with the net's DSP and
overlap-adds the frame. ``feed + flush`` equals the offline net within float32 rounding (measured 1e-5 on
speech-level input), except the last frames of a clip: they see the zero padding, where the pitch picker's
parabolic refinement is ill-conditioned and ulp-level differences between the offline (batched) and the
streamed computation of the same frame move the period by ~0.01 sample (~1 % of the peak on the last 20 ms).
The offline net in float32 is itself ~1e-4 off its float64 result on long clips (its comb filter indexes
absolute positions in float32); the stream indexes short windows and stays closer to float64.

PPN/UPN: the speaker embedding is fixed per stream (``set_speaker_embedding``); UPN's per-frame flag ``q``
is ``streamer.q`` (1 personalises, 0 keeps all speech), changeable between chunks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from voipdns.models.percepnet import PercepNet
from voipdns.streaming.base import StepRunner, Streamer, StreamingCore, TorchStepRunner, empty
from voipdns.streaming.cells import gru_step


class PercepNetStreamCore(StreamingCore):
    """``forward(features[B, 1, n], [conditioning[B, 1, c]], *states) -> (gains, strengths, [vad], *states)``.

    Inputs/outputs in brackets exist only for PPN/UPN (conditioning) and nets with a VAD head."""

    def __init__(self, net: PercepNet):
        super().__init__()
        self.net = net.eval()
        self.input_names = ("features",) + (("conditioning",) if net.conditioning_dim else ())
        self.output_names = ("gains", "strengths") + (("vad_logits",) if net.vad_head is not None else ())
        self.state_names = (
            ("conv1_in", "conv2_in") + tuple(f"gru_{i}" for i in range(len(net.grus))) + ("strength_gru",)
        )

    def example_inputs(self, batch: int = 1) -> list[torch.Tensor]:
        inputs = [torch.zeros(batch, 1, self.net.dsp.n_features)]
        if self.net.conditioning_dim:
            inputs.append(torch.zeros(batch, 1, self.net.conditioning_dim))
        return inputs

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        net = self.net
        states = [
            torch.zeros(batch, net.conv1.in_channels, net.conv1.kernel_size[0] - 1),
            torch.zeros(batch, net.conv2.in_channels, net.conv2.kernel_size[0] - 1),
        ]
        states += [torch.zeros(1, batch, gru.hidden_size) for gru in net.grus]
        states.append(torch.zeros(1, batch, net.strength_gru.hidden_size))
        return states

    def state_batch_axes(self) -> dict[str, int]:
        return {name: (0 if name.startswith("conv") else 1) for name in self.state_names}

    @staticmethod
    def _conv_step(conv: nn.Conv1d, state: torch.Tensor, x: torch.Tensor):
        """The causal conv on [past inputs | new frame] without its own left padding."""
        window = torch.cat([state, x], -1)
        return nn.Conv1d.forward(conv, window), window[..., 1:]

    def forward(self, *args: torch.Tensor):
        net = self.net
        features = args[0]
        conditioning = args[1] if net.conditioning_dim else None
        states = args[len(self.input_names) :]
        conv1_in, conv2_in, gru_states, strength_state = states[0], states[1], states[2:-1], states[-1]
        hidden = torch.tanh(net.fc(features)).transpose(1, 2)  # [B, fc, 1]
        hidden, conv1_in = self._conv_step(net.conv1, conv1_in, hidden)
        hidden, conv2_in = self._conv_step(net.conv2, conv2_in, torch.tanh(hidden))
        hidden = torch.tanh(hidden)[..., 0]  # [B, C]
        if conditioning is not None:
            hidden = torch.cat([hidden, conditioning[:, 0]], -1)
        outputs, new_gru_states = [], []
        for gru, state in zip(net.grus, gru_states, strict=True):
            hidden, state = gru_step(gru, hidden, state)
            outputs.append(hidden)
            new_gru_states.append(state)
        stacked = torch.cat(outputs, -1)
        strength_hidden, strength_state = gru_step(net.strength_gru, hidden, strength_state)
        result = [
            torch.sigmoid(net.gain_head(stacked)).unsqueeze(1),
            torch.sigmoid(net.strength_head(strength_hidden)).unsqueeze(1),
        ]  # [B, 1, bands]
        if net.vad_head is not None:
            result.append(net.vad_head(stacked))  # [B, 1]
        return (*result, conv1_in, conv2_in, *new_gru_states, strength_state)


def history_samples(net: PercepNet) -> int:
    """Input kept per step: the frame (two hops) plus the pitch search's and comb filter's look-back."""
    dsp = net.dsp
    look_back = max(dsp.max_period + 2, (dsp.comb_taps - 1) * (dsp.max_period + 1) + 1)
    hop = dsp.hop_samples
    return hop * -(-(2 * hop + look_back) // hop)


class PercepNetStreamer(Streamer):
    """Frame-by-frame PercepNet (any of the three variants); output aligned with the input."""

    def __init__(self, net: PercepNet, runner: StepRunner | None = None):
        super().__init__()
        self.core = PercepNetStreamCore(net)
        self.runner = runner or TorchStepRunner(self.core)
        self.net = net
        self.name = type(net).__name__.lower()
        self.family = "percepnet"
        self.sample_rate = int(net.sample_rate)
        self.hop_samples = net.dsp.hop_samples
        self.latency_samples = net.dsp.window_samples
        self.history = history_samples(net)
        self.embedding: torch.Tensor | None = net.speaker_embedding
        self.q: float | None = None  # UPN flag; None: 1 when an embedding is set, else 0
        self._reset()

    def set_speaker_embedding(self, embedding: torch.Tensor | np.ndarray | None) -> None:
        if embedding is not None:
            embedding = torch.as_tensor(np.asarray(embedding, dtype=np.float32)).reshape(1, -1)
            if embedding.shape[-1] != self.net.embedding_dim:
                raise ValueError(
                    f"speaker embedding has dim {embedding.shape[-1]}, {self.name} expects {self.net.embedding_dim}"
                )
        self.embedding = embedding

    def _reset(self) -> None:
        self.states = self.core.initial_state(1)
        self.buffer = np.zeros(self.history, dtype=np.float32)  # zeros before the clip, as offline
        self.pending = np.zeros(0, dtype=np.float32)
        self.ola_tail = torch.zeros(self.hop_samples)
        self.frames_done = 0

    def _conditioning(self) -> torch.Tensor | None:
        if not self.net.conditioning_dim:
            return None
        q = None
        if self.net.use_q_flag and self.q is not None:
            q = torch.full((1, 1), float(self.q))
        return self.net.conditioning(1, 1, self.embedding, q)

    @torch.inference_mode()
    def _frame(self) -> np.ndarray:
        """Enhances the frame ending at the newest sample; returns the hop it completes."""
        started = self.timer.start()
        net, hop = self.net, self.hop_samples
        analysis = net.dsp.analyze(torch.from_numpy(self.buffer).view(1, -1))
        index = self.history // hop - 1  # the frame covering the last two hops of the window
        frame = dataclasses.replace(
            analysis,
            **{f.name: getattr(analysis, f.name)[:, index : index + 1] for f in dataclasses.fields(analysis)},
        )
        inputs = [net.dsp.features(frame)]
        conditioning = self._conditioning()
        if conditioning is not None:
            inputs.append(conditioning)
        outputs, self.states = self.runner(inputs, self.states)
        spectrum = net.dsp.apply(frame, outputs[0], outputs[1], net.postfilter)
        samples = torch.fft.irfft(spectrum.view(-1), n=2 * hop) * net.dsp.window
        block = self.ola_tail + samples[:hop]
        self.ola_tail = samples[hop:]
        self.frames_done += 1
        self.timer.stop(started)
        # block t covers input [hop (t - 1), hop t): block 0 lies before the clip
        return block.numpy() if self.frames_done > 1 else empty()

    def _feed(self, chunk: np.ndarray) -> np.ndarray:
        self.pending = np.concatenate([self.pending, chunk])
        hop, out = self.hop_samples, []
        while self.pending.size >= hop:
            self.buffer = np.concatenate([self.buffer[hop:], self.pending[:hop]])
            self.pending = self.pending[hop:]
            out.append(self._frame())
        return np.concatenate(out) if out else empty()

    def _flush(self) -> np.ndarray:
        """Zero input up to the offline net's last frame (``ceil(T / hop) + 1`` frames)."""
        frames_total = self.net.num_frames(max(self.samples_in, 1))
        out = []
        while self.frames_done < frames_total:
            out.append(self._feed(np.zeros(self.hop_samples - self.pending.size, dtype=np.float32)))
        return np.concatenate(out) if out else empty()
