"""GTCRN's building blocks (Rong et al., ICASSP 2024), with the official module names and shapes.

Every block that looks back in time takes an optional ``state`` and returns its next one, so one code path
serves the offline net (``state=None``: zero history, as the official padding) and the frame-by-frame
streamer (``voipdns.streaming.gtcrn``): a ``[B, C, T, F]`` tensor with ``T = 1`` and the carried state give the
same numbers as the offline pass. Tensors are ``[batch, channels, frames, bands]`` throughout.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from voipdns.rates import DEFAULT_SAMPLE_RATE


def erb_filterbank(low_bins: int, erb_bands: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """``[erb_bands, n_fft // 2 + 1 - low_bins]``: triangular ERB bands above the ``low_bins`` kept bins.

    Band edges are spaced linearly on the ERB scale ``21.4 log10(0.00437 f + 1)`` from bin ``low_bins``'s
    frequency to Nyquist and rounded to bins; neighbouring triangles sum to one.
    """

    def hz_to_erb(hz):
        return 21.4 * np.log10(0.00437 * hz + 1)

    def erb_to_hz(erb):
        return (10 ** (erb / 21.4) - 1) / 0.00437

    edges_erb = np.linspace(hz_to_erb(low_bins / n_fft * sample_rate), hz_to_erb(sample_rate / 2), erb_bands)
    bins = np.round(erb_to_hz(edges_erb) / sample_rate * n_fft).astype(np.int64)
    eps = 1e-12
    filters = np.zeros([erb_bands, n_fft // 2 + 1], dtype=np.float32)

    def rising(band: int, start: int, stop: int) -> None:
        filters[band, start:stop] = (np.arange(start, stop) - start + eps) / (stop - start + eps)

    def falling(band: int, start: int, stop: int) -> None:
        filters[band, start:stop] = (stop - np.arange(start, stop) + eps) / (stop - start + eps)

    falling(0, bins[0], bins[1])
    for band in range(1, erb_bands - 1):
        rising(band, bins[band - 1], bins[band])
        falling(band, bins[band], bins[band + 1])
    last = slice(bins[-2], bins[-1] + 1)
    filters[-1, last] = 1 - filters[-2, last]
    return torch.from_numpy(np.abs(filters[:, low_bins:]))


class ERB(nn.Module):
    """Band merging ``bm`` (257 bins -> 65 + 64 ERB bands) and its transpose ``bs``; both matrices are fixed."""

    def __init__(
        self, low_bins: int = 65, erb_bands: int = 64, n_fft: int = 512, sample_rate: int = DEFAULT_SAMPLE_RATE
    ):
        super().__init__()
        filters = erb_filterbank(low_bins, erb_bands, n_fft, sample_rate)
        self.low_bins = low_bins
        self.erb_fc = nn.Linear(filters.shape[1], erb_bands, bias=False)
        self.ierb_fc = nn.Linear(erb_bands, filters.shape[1], bias=False)
        self.erb_fc.weight = nn.Parameter(filters, requires_grad=False)
        self.ierb_fc.weight = nn.Parameter(filters.T.contiguous(), requires_grad=False)

    def bm(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., : self.low_bins], self.erb_fc(x[..., self.low_bins :])], dim=-1)

    def bs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., : self.low_bins], self.ierb_fc(x[..., self.low_bins :])], dim=-1)


def subband_features(x: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """SFE: each band with its ``kernel`` neighbours (zero-padded) as channels: ``[B, C, T, F] -> [B, kC, T, F]``.

    Channel ``c * kernel + j`` holds band ``f + j - kernel // 2`` of channel ``c`` (the official unfold order).
    """
    half = kernel // 2
    padded = F.pad(x, (half, half))
    bands = x.shape[-1]
    shifted = torch.stack([padded[..., j : j + bands] for j in range(kernel)], dim=2)  # [B, C, k, T, F]
    return shifted.flatten(1, 2)


class ConvBlock(nn.Module):
    """Conv (or transposed conv) along frequency + BatchNorm + PReLU (Tanh for the last decoder block)."""

    def __init__(self, in_ch, out_ch, kernel, stride, padding, groups=1, transposed=False, last=False):
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = conv(in_ch, out_ch, kernel, stride, padding, groups=groups)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.Tanh() if last else nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class TRA(nn.Module):
    """Temporal recurrent attention: frame energy per channel -> GRU -> Linear -> sigmoid gate."""

    def __init__(self, channels: int):
        super().__init__()
        self.att_gru = nn.GRU(channels, channels * 2, 1, batch_first=True)
        self.att_fc = nn.Linear(channels * 2, channels)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        energy = x.pow(2).mean(dim=-1).transpose(1, 2)  # [B, T, C]
        gate, state = self.att_gru(energy, state)
        gate = torch.sigmoid(self.att_fc(gate)).transpose(1, 2)
        return x * gate[..., None], state


class GTConvBlock(nn.Module):
    """Grouped temporal convolution: half the channels through SFE, point/depthwise/point convs and TRA, then
    interleaved with the untouched half. The depthwise conv is causal: ``2 * dilation`` frames of history,
    which the offline net zero-pads and the streamer carries as ``state`` (with TRA's GRU state)."""

    def __init__(self, channels: int, hidden: int, dilation: int, transposed: bool = False):
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        half = channels // 2
        self.hidden, self.history = hidden, 2 * dilation  # (kernel 3 - 1) x dilation frames
        # a transposed conv of padding 2d over the left-padded input is the causal conv with a flipped kernel
        time_padding = self.history if transposed else 0
        self.point_conv1 = conv(half * 3, hidden, 1)
        self.point_bn1 = nn.BatchNorm2d(hidden)
        self.point_act = nn.PReLU()
        self.depth_conv = conv(hidden, hidden, (3, 3), padding=(time_padding, 1), dilation=(dilation, 1), groups=hidden)
        self.depth_bn = nn.BatchNorm2d(hidden)
        self.depth_act = nn.PReLU()
        self.point_conv2 = conv(hidden, half, 1)
        self.point_bn2 = nn.BatchNorm2d(half)
        self.tra = TRA(half)

    def initial_state(self, batch: int, bands: int) -> tuple[torch.Tensor, torch.Tensor]:
        gru = self.tra.att_gru
        return torch.zeros(batch, self.hidden, self.history, bands), torch.zeros(1, batch, gru.hidden_size)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        if state is None:
            state = self.initial_state(x.shape[0], x.shape[-1])
        history, tra_state = state
        x1, x2 = torch.chunk(x, 2, dim=1)
        h = self.point_act(self.point_bn1(self.point_conv1(subband_features(x1))))
        h = torch.cat([history.to(h), h], dim=2)
        history = h[:, :, h.shape[2] - self.history :]
        h = self.depth_act(self.depth_bn(self.depth_conv(h)))
        h, tra_state = self.tra(self.point_bn2(self.point_conv2(h)), tra_state)
        shuffled = torch.stack([h, x2], dim=2).flatten(1, 2)  # channel shuffle: h0, x0, h1, x1, ...
        return shuffled, (history, tra_state)


class GRNN(nn.Module):
    """Grouped GRU: two GRUs, each on half of the features (and half of the hidden state)."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False):
        super().__init__()
        self.hidden_size, self.directions = hidden_size, 2 if bidirectional else 1
        args = dict(batch_first=True, bidirectional=bidirectional)
        self.rnn1 = nn.GRU(input_size // 2, hidden_size // 2, 1, **args)
        self.rnn2 = nn.GRU(input_size // 2, hidden_size // 2, 1, **args)

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(self.directions, batch, self.hidden_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = self.initial_state(x.shape[0]).to(x)
        x1, x2 = torch.chunk(x, 2, dim=-1)
        h1, h2 = (part.contiguous() for part in torch.chunk(state, 2, dim=-1))
        y1, h1 = self.rnn1(x1, h1)
        y2, h2 = self.rnn2(x2, h2)
        return torch.cat([y1, y2], dim=-1), torch.cat([h1, h2], dim=-1)


class DPGRNN(nn.Module):
    """Grouped dual-path RNN: a bidirectional GRU across bands within each frame, a causal GRU across frames
    for each band, each followed by Linear + LayerNorm and a residual. Only the inter-frame GRU has state."""

    def __init__(self, channels: int, width: int, hidden: int):
        super().__init__()
        self.width, self.hidden = width, hidden
        self.intra_rnn = GRNN(channels, hidden // 2, bidirectional=True)
        self.intra_fc = nn.Linear(hidden, hidden)
        self.intra_ln = nn.LayerNorm((width, hidden), eps=1e-8)
        self.inter_rnn = GRNN(channels, hidden, bidirectional=False)
        self.inter_fc = nn.Linear(hidden, hidden)
        self.inter_ln = nn.LayerNorm((width, hidden), eps=1e-8)

    def initial_state(self, batch: int) -> torch.Tensor:
        return self.inter_rnn.initial_state(batch * self.width)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, frames, bands = x.shape
        x = x.permute(0, 2, 3, 1)  # [B, T, F, C]
        intra = self.intra_rnn(x.reshape(batch * frames, bands, -1))[0]
        intra = self.intra_ln(self.intra_fc(intra).reshape(batch, frames, self.width, self.hidden))
        x = x + intra
        inter_in = x.permute(0, 2, 1, 3).reshape(batch * bands, frames, -1)  # [B F, T, C]
        inter, state = self.inter_rnn(inter_in, state)
        inter = self.inter_fc(inter).reshape(batch, self.width, frames, self.hidden).permute(0, 2, 1, 3)
        x = x + self.inter_ln(inter)
        return x.permute(0, 3, 1, 2), state
