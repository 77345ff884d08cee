"""Streaming FullSubNet (causal variant: cumulative Laplace normalisation for both LSTMs).

Per 16 ms hop the streamer cuts one 512-sample frame of the centred STFT (reflect padding at the clip's
start, as ``torch.stft(center=True)``), feeds its magnitude to ``FullSubNetStreamCore`` (one LSTM step of
the full-band and sub-band models, running sums for the cumulative normalisation) and gets the compressed
cIRM of the frame ``look_ahead_frames`` (2) earlier: the offline model pads two zero frames at the end and
drops the first two mask frames, i.e. its mask for frame t comes out of the LSTM step at t + 2. The masked
frame is inverted and overlap-added with the same window-power normalisation as ``torch.istft`` (the
framing and overlap-add GTCRN shares: ``voipdns.streaming.centred_stft``).

Latency: 1024 samples (64 ms) = one window + two look-ahead hops. ``flush`` reflect-pads the end and feeds
the two zero frames, so ``feed + flush`` equals the offline causal model within float32 rounding (the
running sums accumulate in a different order than ``cumsum``).
"""

from __future__ import annotations

import json

import torch

from voipdns.dsp.complex_mask import apply_complex_mask, decompress_cirm
from voipdns.dsp.laplace_norm import CUMULATIVE_EPS
from voipdns.models.fullsubnet import FullSubNet, unfold_neighbours
from voipdns.streaming.base import StepRunner, StreamingCore, TorchStepRunner
from voipdns.streaming.cells import lstm_step
from voipdns.streaming.centred_stft import CentredStftStreamer


def _lstm_step(head, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
    """One step of a ``SequenceHead``: ``x[N, features] -> (out[N, output_size], h, c)``."""
    out, h, c = lstm_step(head.sequence_model, x, h, c)
    return head.activation(head.fc_output_layer(out)), h, c


class FullSubNetStreamCore(StreamingCore):
    """``forward(magnitude[B, F], *states) -> (mask[B, 2, F], *states)``: mask of the frame 2 steps back."""

    input_names = ("magnitude",)
    output_names = ("mask",)
    state_names = ("frames", "fb_sum", "sb_sum", "fb_h", "fb_c", "sb_h", "sb_c")

    def __init__(self, net: FullSubNet):
        super().__init__()
        if not net.causal:
            raise ValueError(
                "FullSubNet streaming needs the causal variant: fb_norm and sb_norm = cumulative_laplace "
                f"(this net has {net.fb_norm_name!r} / {net.sb_norm_name!r})"
            )
        self.net = net.eval()
        self.num_freqs = net.stft.num_bins

    def example_inputs(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(batch, self.num_freqs)]

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        fb, sb = self.net.fb_model.sequence_model, self.net.sb_model.sequence_model
        return [
            torch.zeros(1),
            torch.zeros(batch),
            torch.zeros(batch, self.num_freqs),
            torch.zeros(fb.num_layers, batch, fb.hidden_size),
            torch.zeros(fb.num_layers, batch, fb.hidden_size),
            torch.zeros(sb.num_layers, batch * self.num_freqs, sb.hidden_size),
            torch.zeros(sb.num_layers, batch * self.num_freqs, sb.hidden_size),
        ]

    def state_batch_axes(self) -> dict[str, int]:
        return {"frames": -1, "fb_sum": 0, "sb_sum": 0, "fb_h": 1, "fb_c": 1, "sb_h": 1, "sb_c": 1}

    def forward(self, magnitude, frames, fb_sum, sb_sum, fb_h, fb_c, sb_h, sb_c):
        net, freqs = self.net, self.num_freqs
        batch = magnitude.shape[0]
        frames = frames + 1
        # full band: cumulative mean over frequencies and all frames so far
        fb_sum = fb_sum + magnitude.sum(-1)
        fb_in = magnitude / (fb_sum / (frames * freqs) + CUMULATIVE_EPS).unsqueeze(-1)
        fb_out, fb_h, fb_c = _lstm_step(net.fb_model, fb_in, fb_h, fb_c)
        # sub band: each bin with its neighbours + the full-band output, cumulative mean per bin
        sb_in = torch.cat(
            [
                unfold_neighbours(magnitude.view(batch, 1, freqs, 1), net.sb_num_neighbors),
                unfold_neighbours(fb_out.view(batch, 1, freqs, 1), net.fb_num_neighbors),
            ],
            dim=2,
        )[..., 0]  # [B, F, features]
        features = sb_in.shape[-1]
        sb_sum = sb_sum + sb_in.sum(-1)
        sb_in = sb_in / (sb_sum / (frames * features) + CUMULATIVE_EPS).unsqueeze(-1)
        mask, sb_h, sb_c = _lstm_step(net.sb_model, sb_in.reshape(batch * freqs, features), sb_h, sb_c)
        mask = mask.reshape(batch, freqs, 2).transpose(1, 2)
        return mask, frames, fb_sum, sb_sum, fb_h, fb_c, sb_h, sb_c

    def export_metadata(self) -> dict[str, str]:
        stft = self.net.stft
        return {"voipdns.stream.stft": json.dumps([stft.n_fft, stft.hop_samples, stft.win_samples])}


class FullSubNetStreamer(CentredStftStreamer):
    """Frame-by-frame causal FullSubNet; output aligned with the input (see ``Streamer``).

    Framing and overlap-add: ``CentredStftStreamer``; each step here keeps the frame's spectrum until the
    core returns its mask ``look_ahead`` steps later (the last ones in ``flush``'s zero-magnitude steps)."""

    def __init__(self, net: FullSubNet, runner: StepRunner | None = None):
        super().__init__(net.stft, net.valid_length(1), "FullSubNet")
        self.core = FullSubNetStreamCore(net)
        self.runner = runner or TorchStepRunner(self.core)
        self.net = net
        self.name = "fullsubnet"
        self.family = "fullsubnet"
        self.sample_rate = int(net.sample_rate)
        self.look_ahead = self.tail_steps = net.look_ahead_frames
        self.latency_samples = net.latency_samples
        self._reset()

    def _reset_core(self) -> None:
        self.states = self.core.initial_state(1)
        self.spectra: list[torch.Tensor] = []  # spectra waiting for their mask

    def _step(self, spectrum: torch.Tensor | None) -> list[torch.Tensor]:
        if spectrum is None:  # past the end: the offline net appends zero magnitude frames
            magnitude = torch.zeros(1, self.core.num_freqs)
        else:
            self.spectra.append(spectrum)
            magnitude = spectrum.abs().view(1, -1)
        (mask,), self.states = self.runner([magnitude], self.states)
        if spectrum is not None and len(self.spectra) <= self.look_ahead:
            return []
        return [self._apply_mask(self.spectra.pop(0), mask)]

    def _apply_mask(self, spectrum: torch.Tensor, compressed_mask: torch.Tensor) -> torch.Tensor:
        net = self.net
        mask = decompress_cirm(compressed_mask.view(1, 2, -1, 1), k=net.cirm_k, limit=net.mask_limit)
        return apply_complex_mask(spectrum.view(1, -1, 1), mask).view(-1)
