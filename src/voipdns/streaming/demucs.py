"""Streaming causal Demucs: 16 ms per step, 661 samples (41.3 ms) before the first output for dns48.

Each step takes one hop (``TS`` = 256 samples) plus ``lookahead_samples`` (64) of future input for the
band-limited upsampler, and returns one hop of output. What is carried between steps (all explicit tensors,
see ``DemucsStreamCore.state_names``):

* ``history``: the previous input hop (past context of the upsampler);
* ``carry_l``: the last ``kernel - stride`` input positions of each encoder conv (the next window overlaps);
* ``skip_l``: encoder outputs the decoder has not consumed yet (the encoder runs ahead of the decoder);
* ``tail_l``: each transposed conv's partial sums that the next step's input completes (overlap-add);
* ``lstm_h``, ``lstm_c``: the bottleneck LSTM state; ``out_history``: two hops of output for the downsampler;
* ``step``, ``sumsq``: step counter and running sum of squares (running variance normalisation).

The decoder output is exact up to the end of the newest bottleneck frame. The downsampler needs ~84
samples beyond it: they come from a *preview*, the decoder tail computed as if no further frame came
(what the offline net does at the end of a clip). So with the default latency the output differs from the
offline net's near the end of each hop, by an amount set by the sinc taps reaching past the preview
(measured in ``tests/test_streaming.py`` and ``bench/README.md``). ``extra_frames=1`` emits each hop one step
later, when the downsampler's look-ahead is complete: with ``lookahead_samples >= 88`` (exact upsampling) the
stream then equals the offline net within float32 rounding, at 16 ms more latency.

Normalisation: offline Demucs divides by ``floor + std`` of the whole clip; the stream divides by
``floor + sqrt(mean square of all input so far)`` (look-ahead included) and multiplies the output back.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch.nn import functional as F

from voipdns.dsp.sinc_resample import downsample2, upsample2
from voipdns.models.demucs import Demucs
from voipdns.streaming.base import StepRunner, Streamer, StreamingCore, TorchStepRunner, empty
from voipdns.streaming.cells import lstm_step
from voipdns.streaming.demucs_layout import demucs_stream_layout

#: the reference streamer's resampler look-ahead: 64 samples, total latency 661 samples for dns48
DEFAULT_LOOKAHEAD_SAMPLES = 64
#: input look-ahead from which the two factor-2 sinc upsamplers (56 zero crossings) are exact
EXACT_LOOKAHEAD_SAMPLES = 88
#: ``samples_left`` while the end of the input is not known
NO_END = 1e7


def keep_range(x: torch.Tensor, start: torch.Tensor, stop: torch.Tensor | None) -> torch.Tensor:
    """Zeroes ``x[..., p]`` outside ``start <= p < stop`` (tensor bounds, so the masks export to ONNX)."""
    position = torch.arange(x.shape[-1], dtype=x.dtype, device=x.device)
    keep = position >= start
    if stop is not None:
        keep = keep & (position < stop)
    return x * keep.to(x.dtype)


class DemucsStreamCore(StreamingCore):
    """One 16 ms step of a causal Demucs with all state explicit (exportable to ONNX).

    ``forward(frame[B, 1, TS + lookahead], *states) -> (window[B, 1, 2 TS + preview], *new_states)``;
    ``window`` holds the previous hop, the new hop and the preview, in input sample positions
    ``[TS (s - lag - 1), TS (s - lag + 1) + preview)`` for step ``s``.
    """

    input_names = ("frame", "samples_left")
    output_names = ("window",)

    def __init__(self, net: Demucs, lookahead_samples: int = DEFAULT_LOOKAHEAD_SAMPLES):
        super().__init__()
        if lookahead_samples < 0:
            raise ValueError(f"lookahead_samples must be >= 0, got {lookahead_samples}")
        self.net = net.eval()
        self.layout = demucs_stream_layout(net)
        self.lookahead_samples = int(lookahead_samples)
        depth = self.layout.depth
        self.state_names = (
            ("step", "sumsq", "history")
            + tuple(f"carry_{level}" for level in range(depth))
            + tuple(f"skip_{level}" for level in range(depth - 1))
            + tuple(f"tail_{index}" for index in range(depth))  # decoder order: tail_0 is the deepest
            + ("lstm_h", "lstm_c", "out_history")
        )

    # --- shapes ------------------------------------------------------------------------------------------
    @property
    def frame_samples(self) -> int:
        return self.layout.total_stride + self.lookahead_samples

    def example_inputs(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(batch, 1, self.frame_samples), torch.full((1,), NO_END)]

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        lay, lstm = self.layout, self.net.lstm.lstm
        states = [torch.zeros(1), torch.zeros(batch), torch.zeros(batch, 1, lay.total_stride)]
        states += [torch.zeros(batch, ch, lay.overlap) for ch in lay.channels_in]
        states += [torch.zeros(batch, lay.channels_out[lvl], lay.ahead[lvl]) for lvl in range(lay.depth - 1)]
        states += [torch.zeros(batch, ch, lay.overlap) for ch in reversed(lay.channels_in)]  # decoder order
        hidden = torch.zeros(lstm.num_layers, batch, lstm.hidden_size)
        states += [hidden, hidden.clone()]
        states.append(torch.zeros(batch, 1, 2 * lay.total_stride * lay.resample))
        return states

    def state_batch_axes(self) -> dict[str, int]:
        axes = {name: 0 for name in self.state_names}
        axes.update(step=-1, lstm_h=1, lstm_c=1)  # step is shared by the batch
        return axes

    def export_metadata(self) -> dict[str, str]:
        return {
            "voipdns.stream.lookahead_samples": str(self.lookahead_samples),
            "voipdns.stream.layout": json.dumps(self.layout.__dict__),
        }

    # --- the step ----------------------------------------------------------------------------------------
    def _normalise(self, frame, history, step, sumsq):
        """(normalised upsampler input, scale to multiply the output by, new sum of squares)."""
        lay = self.layout
        new_sumsq = sumsq + frame[..., : lay.total_stride].square().sum(dim=(1, 2))
        if not self.net.normalize:
            return torch.cat([history, frame], -1), torch.ones_like(sumsq).view(-1, 1, 1), new_sumsq
        lookahead_sq = frame[..., lay.total_stride :].square().sum(dim=(1, 2))
        seen = lay.total_stride * (step + 1) - lay.prefix + self.lookahead_samples  # real samples so far
        std = torch.sqrt((new_sumsq + lookahead_sq) / seen).view(-1, 1, 1)
        return torch.cat([history, frame], -1) / (self.net.floor + std), std, new_sumsq

    def _upsample(self, x: torch.Tensor, first: torch.Tensor, samples_left: torch.Tensor) -> torch.Tensor:
        """Upsampled positions of the new hop only (history and look-ahead are context).

        ``first``: input index of ``x[0]``; ``samples_left``: input samples from the hop start to the end
        of the clip. Intermediate rates are zeroed outside the clip, as the offline net zero-pads each stage.
        """
        lay = self.layout
        stages = int(np.log2(lay.resample))
        for stage in range(stages):
            x = upsample2(x)
            if stage < stages - 1:
                rate = 2 ** (stage + 1)
                x = keep_range(x, -first * rate, (samples_left + lay.total_stride) * rate)
        start = lay.resample * lay.total_stride
        return x[..., start : start + lay.resample * lay.total_stride]

    def _encode(self, x, carries):
        skips, new_carries = [], []
        for encode, carry in zip(self.net.encoder, carries, strict=True):
            x = torch.cat([carry, x], -1)
            new_carries.append(x[..., x.shape[-1] - self.layout.overlap :])
            x = encode(x)
            skips.append(x)
        return skips, new_carries

    def _transpose(self, decode, h: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
        """Transposed conv without bias, the carried partial sums added to its first positions."""
        lay = self.layout
        z = F.conv_transpose1d(h, decode[2].weight, None, stride=lay.stride)
        return torch.cat([z[..., : lay.overlap] + tail, z[..., lay.overlap :]], -1)

    def _finish(self, decode, z: torch.Tensor) -> torch.Tensor:
        z = z + decode[2].bias.view(1, -1, 1)
        return torch.relu(z) if len(decode) > 3 else z

    def _decode(self, x, skips, skip_states, tails, valid):
        """Complete positions of each level; returns (output positions, new skip states, new tails)."""
        lay = self.layout
        new_skips, new_tails = [None] * (lay.depth - 1), []
        for index, decode in enumerate(self.net.decoder):
            level = lay.depth - 1 - index
            if level == lay.depth - 1:
                skip = skips[level]
            else:
                buffer = torch.cat([skip_states[level], skips[level]], -1)
                count = x.shape[-1]
                skip, new_skips[level] = buffer[..., :count], buffer[..., count:]
            h = decode[1](decode[0](x + skip)) * valid  # positions before t = 0 contribute nothing
            z = self._transpose(decode, h, tails[index])
            complete = lay.stride * x.shape[-1]
            new_tails.append(z[..., complete:])
            x = self._finish(decode, z[..., :complete])
        return x, new_skips, new_tails

    def _preview(self, new_skips, new_tails):
        """The decoder's tail as if no further bottleneck frame came (offline behaviour at a clip's end)."""
        lay = self.layout
        preview = None
        for index, decode in enumerate(self.net.decoder):
            level = lay.depth - 1 - index
            if preview is None:
                z = new_tails[index]
            else:
                h = decode[1](decode[0](preview + new_skips[level]))
                z = self._transpose(decode, h, new_tails[index])
            preview = self._finish(decode, z)
        return preview

    def _downsample(self, x: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Back to the input rate; ``first``: input index of ``x[0]`` (intermediate rates zeroed before 0)."""
        stages = int(np.log2(self.layout.resample))
        for stage in range(stages):
            x = downsample2(x)
            if stage < stages - 1:
                x = keep_range(x, -first * (self.layout.resample // 2 ** (stage + 1)), None)
        return x

    def forward(self, frame: torch.Tensor, samples_left: torch.Tensor, *states: torch.Tensor):
        lay, depth = self.layout, self.layout.depth
        step, sumsq, history = states[0], states[1], states[2]
        carries = states[3 : 3 + depth]
        skip_states = states[3 + depth : 2 + 2 * depth]
        tails = states[2 + 2 * depth : 2 + 3 * depth]
        lstm_h, lstm_c, out_history = states[2 + 3 * depth :]
        valid = (step >= lay.lag).to(frame.dtype)  # bottleneck frame s - lag exists (index >= 0)
        # Input index of the history's first sample; clamped (masks only matter near t = 0, and float32
        # step counts stay exact).
        near = torch.clamp(step, max=float(lay.lag + 4))
        first_in = lay.total_stride * (near - 1) - lay.prefix
        first_out = lay.total_stride * (near - lay.lag - 2)

        x, scale, new_sumsq = self._normalise(frame, history, step, sumsq)
        new_history = frame[..., : lay.total_stride]
        skips, new_carries = self._encode(self._upsample(x, first_in, samples_left), carries)
        out, h, c = lstm_step(self.net.lstm.lstm, skips[-1][..., 0], lstm_h, lstm_c)
        h, c = h * valid, c * valid  # frames before t = 0 leave no state
        decoded, new_skips, new_tails = self._decode(out.unsqueeze(-1), skips, skip_states, tails, valid)
        decoded = decoded * valid
        preview = self._preview(new_skips, new_tails)
        window = self._downsample(torch.cat([out_history, decoded, preview], -1), first_out)
        keep = out_history.shape[-1]
        new_out_history = torch.cat([out_history, decoded], -1)[..., -keep:]
        window = window[..., lay.total_stride :] * scale
        return (
            window, step + 1, new_sumsq, new_history, *new_carries, *new_skips, *new_tails,
            h, c, new_out_history,
        )  # fmt: skip


class DemucsStreamer(Streamer):
    """Feeds any chunk sizes through ``DemucsStreamCore``; output aligned with the input (see ``Streamer``).

    Args:
        net: a causal ``voipdns.models.demucs.Demucs`` (e.g. ``load_net("dns48")``).
        lookahead_samples: input beyond the hop given to the upsampler (64 as in the reference streamer).
        extra_frames: 0 (lowest latency) or 1 (one hop later: equals the offline net, see the module doc).
        runner: executes the core (default PyTorch; ``voipdns.export.stream_graph`` gives an ONNX Runtime one).
    """

    options = {"lookahead_samples": DEFAULT_LOOKAHEAD_SAMPLES, "extra_frames": 0}

    def __init__(
        self,
        net: Demucs,
        lookahead_samples: int = DEFAULT_LOOKAHEAD_SAMPLES,
        extra_frames: int = 0,
        runner: StepRunner | None = None,
    ):
        super().__init__()
        if extra_frames not in (0, 1):
            raise ValueError(f"extra_frames must be 0 or 1, got {extra_frames}")
        self.core = DemucsStreamCore(net, lookahead_samples)
        self.runner = runner or TorchStepRunner(self.core)
        self.extra_frames = extra_frames
        lay = self.core.layout
        self.name = "demucs"
        self.family = "demucs"
        self.sample_rate = int(net.sample_rate)
        self.hop_samples = lay.total_stride
        self.latency_samples = lay.frame_samples + lookahead_samples + extra_frames * lay.total_stride
        self._valid_length = net.valid_length
        self._reset()

    def _reset(self) -> None:
        self.states = self.core.initial_state(1)
        self.pending = np.zeros(self.core.layout.prefix, dtype=np.float32)  # the virtual prefix
        self.steps = 0
        self.window = None

    def _step(self, frame: np.ndarray, samples_left: float = NO_END) -> np.ndarray:
        """Runs one step; returns the hop it completes (empty while the first frame is not complete)."""
        started = self.timer.start()
        inputs = [
            torch.from_numpy(np.ascontiguousarray(frame)).view(1, 1, -1),
            torch.tensor([samples_left], dtype=torch.float32),
        ]
        (window,), self.states = self.runner(inputs, self.states)
        self.timer.stop(started)
        self.window = window.view(-1).numpy()
        step, hop = self.steps, self.hop_samples
        self.steps += 1
        if step < self.core.layout.lag + self.extra_frames:
            return empty()
        start = hop * (1 - self.extra_frames)  # window = [previous hop | new hop | preview]
        return self.window[start : start + hop]

    def _feed(self, chunk: np.ndarray) -> np.ndarray:
        self.pending = np.concatenate([self.pending, chunk])
        size, hop, out = self.core.frame_samples, self.hop_samples, []
        while self.pending.size >= size:
            out.append(self._step(self.pending[:size]))
            self.pending = self.pending[hop:]
        return np.concatenate(out) if out else empty()

    def _flush(self) -> np.ndarray:
        """Runs the steps up to the last frame the offline net would compute, then emits its preview."""
        lay, hop = self.core.layout, self.hop_samples
        total = max(self.samples_in, 1)
        valid = self._valid_length(total)  # the offline net zero-pads the clip to this length
        frames = (valid - lay.frame_samples) // hop + 1
        last_step = frames - 1 + lay.lag
        out = []
        while self.steps <= last_step:
            needed = self.core.frame_samples - self.pending.size
            if needed > 0:
                self.pending = np.concatenate([self.pending, np.zeros(needed, dtype=np.float32)])
            samples_left = valid - (hop * self.steps - lay.prefix)
            out.append(self._step(self.pending[: self.core.frame_samples], float(samples_left)))
            self.pending = self.pending[hop:]
        # Window of the last step starts at sample hop * (frames - 2); emit what follows the output so far.
        emitted = self.samples_out + sum(part.size for part in out)
        start = emitted - hop * (frames - 2)
        if self.window is not None and start >= 0:
            out.append(self.window[start:])
        return np.concatenate(out) if out else empty()
