"""Streaming FullSubNet (causal variant: cumulative Laplace normalisation for both LSTMs).

Per 16 ms hop the streamer cuts one 512-sample frame of the centred STFT (reflect padding at the clip's
start, as ``torch.stft(center=True)``), feeds its magnitude to ``FullSubNetStreamCore`` (one LSTM step of
the full-band and sub-band models, running sums for the cumulative normalisation) and gets the compressed
cIRM of the frame ``look_ahead_frames`` (2) earlier: the offline model pads two zero frames at the end and
drops the first two mask frames, i.e. its mask for frame t comes out of the LSTM step at t + 2. The masked
frame is inverted and overlap-added with the same window-power normalisation as ``torch.istft``.

Latency: 1024 samples (64 ms) = one window + two look-ahead hops. ``flush`` reflect-pads the end and feeds
the two zero frames, so ``feed + flush`` equals the offline causal model within float32 rounding (the
running sums accumulate in a different order than ``cumsum``).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from voipdns.dsp.complex_mask import apply_complex_mask, decompress_cirm
from voipdns.dsp.laplace_norm import CUMULATIVE_EPS
from voipdns.models.fullsubnet import FullSubNet, unfold_neighbours
from voipdns.streaming.base import StepRunner, Streamer, StreamingCore, TorchStepRunner, empty
from voipdns.streaming.cells import lstm_step


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


class FullSubNetStreamer(Streamer):
    """Frame-by-frame causal FullSubNet; output aligned with the input (see ``Streamer``)."""

    def __init__(self, net: FullSubNet, runner: StepRunner | None = None):
        super().__init__()
        self.core = FullSubNetStreamCore(net)
        self.runner = runner or TorchStepRunner(self.core)
        self.net = net
        stft = net.stft
        if stft.win_samples != stft.n_fft or stft.n_fft != 2 * stft.hop_samples:
            raise ValueError(
                "FullSubNet streaming supports win = n_fft = 2 hop (the released 512/256), got "
                f"n_fft {stft.n_fft}, win {stft.win_samples}, hop {stft.hop_samples}"
            )
        self.name = "fullsubnet"
        self.family = "fullsubnet"
        self.sample_rate = int(net.sample_rate)
        self.hop_samples = stft.hop_samples
        self.look_ahead = net.look_ahead_frames
        self.latency_samples = net.latency_samples
        self.window = stft.window.detach().float()
        power = self.window.square()
        hop = self.hop_samples
        self.envelope = power[:hop] + power[hop:]  # window power of the two frames over each output sample
        self.last_envelope = power[hop:]  # after the last frame only its second half remains
        self._reset()

    def _reset(self) -> None:
        self.states = self.core.initial_state(1)
        self.raw = np.zeros(0, dtype=np.float32)  # real input not yet framed (plus the frame overlap)
        self.padded_started = False
        self.spectra: list[torch.Tensor] = []  # spectra waiting for their mask
        self.ola_tail = torch.zeros(self.hop_samples)
        self.frames_done = 0  # frames whose masked output was overlap-added
        self.recent = np.zeros(0, dtype=np.float32)  # last n_fft input samples (for the end's reflection)

    # --- frames ------------------------------------------------------------------------------------------
    def _take_frames(self) -> list[np.ndarray]:
        n_fft, hop = 2 * self.hop_samples, self.hop_samples
        frames = []
        while self.raw.size >= n_fft:
            frames.append(self.raw[:n_fft].copy())
            self.raw = self.raw[hop:]
        return frames

    def _push(self, samples: np.ndarray) -> list[np.ndarray]:
        """Adds input (already reflect-prefixed at the start) and returns the frames now complete."""
        self.raw = np.concatenate([self.raw, samples])
        return self._take_frames()

    def _analyse(self, frame: np.ndarray) -> list[np.ndarray]:
        started = self.timer.start()
        spectrum = torch.fft.rfft(torch.from_numpy(frame) * self.window)
        self.spectra.append(spectrum)
        (mask,), self.states = self.runner([spectrum.abs().view(1, -1)], self.states)
        out = self._synthesise(mask) if len(self.spectra) > self.look_ahead else []
        self.timer.stop(started)
        return out

    def _synthesise(self, compressed_mask: torch.Tensor) -> list[np.ndarray]:
        net, hop = self.net, self.hop_samples
        spectrum = self.spectra.pop(0)
        mask = decompress_cirm(compressed_mask.view(1, 2, -1, 1), k=net.cirm_k, limit=net.mask_limit)
        masked = apply_complex_mask(spectrum.view(1, -1, 1), mask).view(-1)
        frame = torch.fft.irfft(masked, n=2 * hop) * self.window
        block = (self.ola_tail + frame[:hop]) / self.envelope
        self.ola_tail = frame[hop:]
        self.frames_done += 1
        # block j covers input samples [hop (j - 1), hop j): block 0 lies before the clip
        return [block.numpy()] if self.frames_done > 1 else []

    def _run_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        out = [block for frame in frames for block in self._analyse(frame)]
        return np.concatenate(out).astype(np.float32) if out else empty()

    # --- streaming ---------------------------------------------------------------------------------------
    def _feed(self, chunk: np.ndarray) -> np.ndarray:
        n_fft = 2 * self.hop_samples
        self.recent = np.concatenate([self.recent, chunk])[-n_fft:]
        if not self.padded_started:
            self.raw = np.concatenate([self.raw, chunk])
            if self.raw.size <= self.hop_samples:  # the reflection needs sample hop (index 256)
                return empty()
            self.raw = np.concatenate([self.raw[1 : self.hop_samples + 1][::-1], self.raw])
            self.padded_started = True
            return self._run_frames(self._take_frames())
        return self._run_frames(self._push(chunk))

    def _flush(self) -> np.ndarray:
        hop = self.hop_samples
        minimum = self.net.valid_length(1)  # the offline net zero-pads short clips to this many samples
        out = []
        if self.samples_in < minimum:
            out.append(self._feed(np.zeros(minimum - self.samples_in, dtype=np.float32)))
        total = max(self.samples_in, minimum)
        frames_total = total // hop + 1
        out.append(self._run_frames(self._push(self.recent[-hop - 1 : -1][::-1].copy())))
        if self.frames_done + len(self.spectra) != frames_total:
            raise RuntimeError(
                f"internal: {self.frames_done + len(self.spectra)} frames, expected {frames_total}"
            )
        for _ in range(self.look_ahead):  # the offline net appends zero magnitude frames
            started = self.timer.start()
            (mask,), self.states = self.runner([torch.zeros(1, self.core.num_freqs)], self.states)
            out.extend(self._synthesise(mask))
            self.timer.stop(started)
        out.append((self.ola_tail / self.last_envelope).numpy())  # covered by the last frame only
        return np.concatenate(out).astype(np.float32)
