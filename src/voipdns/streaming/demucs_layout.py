"""Frame arithmetic of a streaming causal Demucs: which positions each level sees at each step.

Step ``s`` consumes one hop of ``TS = stride**depth / resample`` input samples (256 = 16 ms for dns48) and
produces one bottleneck frame. Steps run on a *virtual* timeline that starts with ``prefix`` zeros
(``prefix = -valid_length(1) mod TS``, 171 samples for dns48), chosen so that

* the end of step ``s`` is exactly the end of bottleneck frame ``s - lag`` (frame ``f`` covers input
  ``[TS f, TS f + valid_length(1))``): no sample of latency is wasted;
* at every encoder level the first window of a step starts on the conv's stride grid, so every level keeps
  exactly ``kernel - stride`` input positions between steps (fixed-size state tensors, ONNX-friendly).

Positions with negative indices (from the virtual prefix) are masked out of the decoder and the LSTM so the
streamed output equals the offline net's output (the offline net never sees them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from voipdns.models.demucs import Demucs


@dataclass(frozen=True)
class DemucsStreamLayout:
    total_stride: int  # input samples per step (TS)
    resample: int
    kernel: int
    stride: int
    depth: int
    frame_samples: int  # valid_length(1): input of one bottleneck frame
    prefix: int  # virtual zeros before the real input
    lag: int  # step s produces bottleneck frame s - lag
    channels_in: tuple[int, ...]  # input channels of each encoder level (= decoder output channels)
    channels_out: tuple[int, ...]  # output channels of each encoder level (skip channels)
    per_step_out: tuple[int, ...]  # new outputs per step of each encoder level
    ahead: tuple[int, ...]  # skip positions the encoder is ahead of the decoder, per level (last: 0)
    preview: int  # positions (at the upsampled rate) of the tail estimate beyond the complete ones

    @property
    def overlap(self) -> int:
        """Input positions each level carries to the next step (kernel - stride)."""
        return self.kernel - self.stride

    @property
    def preview_samples(self) -> int:
        return self.preview // self.resample


def _first_window_starts(net: Demucs, prefix: int, step: int) -> list[int]:
    """Index (real, per level) of the first output a step produces, levels 0..depth-1."""
    start = net.resample * (net.total_stride * step - prefix)  # first new upsampled position
    firsts = []
    for _ in range(net.depth):
        window_start = start - (net.kernel_size - net.stride)
        if window_start % net.stride:
            raise ValueError(
                "this Demucs layout cannot be streamed with fixed-size state: a step does not start on "
                f"the conv grid (kernel {net.kernel_size}, stride {net.stride}, depth {net.depth})"
            )
        start = window_start // net.stride
        firsts.append(start)
    return firsts


def demucs_stream_layout(net: Demucs) -> DemucsStreamLayout:
    if not net.causal:
        raise ValueError("only a causal Demucs (unidirectional LSTM) can be streamed; this one has causal=False")
    if net.chin != 1 or net.chout != 1:
        raise ValueError(f"streaming needs a mono Demucs (chin = chout = 1), got {net.chin} -> {net.chout}")
    kernel, stride, depth = net.kernel_size, net.stride, net.depth
    if not stride <= kernel <= 2 * stride:
        raise ValueError(f"streaming needs stride <= kernel_size <= 2 * stride, got {kernel} / {stride}")
    total = net.total_stride
    frame = net.valid_length(1)
    prefix = -frame % total
    firsts0, firsts1 = _first_window_starts(net, prefix, 0), _first_window_starts(net, prefix, 1)
    per_step = tuple(b - a for a, b in zip(firsts0, firsts1, strict=True))
    if per_step != tuple(stride ** (depth - 1 - level) for level in range(depth)):
        raise ValueError(f"unexpected outputs per step {per_step} for this Demucs layout")
    lag = -firsts0[-1]
    if total - prefix != frame - total * lag:  # end of step 0 must be the end of frame -lag
        raise ValueError("internal: step ends do not line up with bottleneck frame ends")
    # The decoder at level l completes positions [n_l (s - lag), n_l (s - lag + 1)); the encoder has produced
    # up to firsts_l(s) + n_l: the difference is how far the skip buffer runs ahead (constant over steps).
    ahead = tuple(firsts0[level] + per_step[level] - per_step[level] * (1 - lag) for level in range(depth))
    if ahead[-1] != 0:
        raise ValueError(f"internal: the bottleneck skip should not run ahead, got {ahead[-1]}")
    preview = kernel - stride
    for level in range(depth - 2, -1, -1):
        if ahead[level] != preview:
            raise ValueError(f"internal: preview {preview} != skip look-ahead {ahead[level]} at level {level}")
        preview = stride * preview + kernel - stride
    if preview % net.resample:
        raise ValueError(f"internal: preview of {preview} positions is not whole input samples")
    channels_in, channels_out = [], []
    for encode in net.encoder:
        conv = encode[0]
        channels_in.append(conv.in_channels)
        channels_out.append(conv.out_channels)
    if math.log2(net.resample) % 1:
        raise ValueError(f"resample must be 1, 2 or 4, got {net.resample}")
    return DemucsStreamLayout(
        total_stride=total,
        resample=net.resample,
        kernel=kernel,
        stride=stride,
        depth=depth,
        frame_samples=frame,
        prefix=prefix,
        lag=lag,
        channels_in=tuple(channels_in),
        channels_out=tuple(channels_out),
        per_step_out=per_step,
        ahead=ahead,
        preview=preview,
    )
