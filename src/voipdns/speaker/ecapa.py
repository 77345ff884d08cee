"""ECAPA-TDNN speaker embedder (Desplanques et al. 2020), written from the paper.

80 log-mel fbank (25 ms / 10 ms) -> TDNN(C0, k5) -> SE-Res2Blocks (k3, dilations 2, 3, 4) ->
multi-layer feature aggregation (concat of the block outputs -> TDNN(C4, k1)) -> attentive statistics pooling
with global context (attention 128) -> BN -> Linear(192). Defaults are the paper's sizes
(channels [1024, 1024, 1024, 1024, 3072]); every size is configurable so tests use tiny ones.
"""

from __future__ import annotations

import torch
from torch import nn

from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.speaker.fbank import LogMelFbank


class TdnnBlock(nn.Sequential):
    """Conv1d (same length, dilated) -> ReLU -> BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=padding),
            nn.ReLU(),
            nn.BatchNorm1d(out_channels),
        )


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, bottleneck: int):
        super().__init__()
        self.gate = nn.Sequential(
            nn.Conv1d(channels, bottleneck, 1), nn.ReLU(), nn.Conv1d(bottleneck, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(-1, keepdim=True))


class Res2Conv(nn.Module):
    """Res2Net hierarchy: split channels into ``scale`` groups; group i also sees group i-1's output."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, scale: int):
        super().__init__()
        if channels % scale:
            raise ValueError(f"ECAPA channels ({channels}) must be divisible by res2net_scale ({scale})")
        width = channels // scale
        self.scale = scale
        self.convs = nn.ModuleList(TdnnBlock(width, width, kernel_size, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = x.chunk(self.scale, dim=1)
        outputs = [groups[0]]
        previous = None
        for conv, group in zip(self.convs, groups[1:], strict=False):
            previous = conv(group if previous is None else group + previous)
            outputs.append(previous)
        return torch.cat(outputs, 1)


class SeRes2Block(nn.Module):
    def __init__(self, in_channels: int, channels: int, kernel_size: int, dilation: int, scale: int, se: int):
        super().__init__()
        self.body = nn.Sequential(
            TdnnBlock(in_channels, channels, 1),
            Res2Conv(channels, kernel_size, dilation, scale),
            TdnnBlock(channels, channels, 1),
            SqueezeExcitation(channels, se),
        )
        self.shortcut = nn.Conv1d(in_channels, channels, 1) if in_channels != channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class AttentiveStatsPooling(nn.Module):
    """Channel-wise attention over time with global context (mean and std appended); returns [mean, std]."""

    def __init__(self, channels: int, attention_channels: int = 128):
        super().__init__()
        self.attention = nn.Sequential(
            TdnnBlock(3 * channels, attention_channels, 1),
            nn.Tanh(),
            nn.Conv1d(attention_channels, channels, 1),
        )

    @staticmethod
    def _stats(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (weights * x).sum(-1)
        var = (weights * (x - mean.unsqueeze(-1)).square()).sum(-1)
        return mean, var.clamp(min=1e-6).sqrt()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        uniform = torch.full_like(x[:, :1], 1.0 / frames)
        mean, std = self._stats(x, uniform)
        context = torch.cat([x, mean.unsqueeze(-1).expand_as(x), std.unsqueeze(-1).expand_as(x)], 1)
        weights = torch.softmax(self.attention(context), dim=-1)
        mean, std = self._stats(x, weights)
        return torch.cat([mean, std], 1)


class EcapaTdnn(nn.Module):
    """``wave[B, T]`` or ``[B, 1, T]`` at ``sample_rate`` -> embedding ``[B, embedding_dim]``."""

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_mels: int = 80,
        channels: list[int] | tuple[int, ...] = (1024, 1024, 1024, 1024, 3072),
        kernel_sizes: list[int] | tuple[int, ...] = (5, 3, 3, 3, 1),
        dilations: list[int] | tuple[int, ...] = (1, 2, 3, 4, 1),
        attention_channels: int = 128,
        res2net_scale: int = 8,
        se_channels: int = 128,
        embedding_dim: int = 192,
        normalize: bool = False,
    ):
        super().__init__()
        if not len(channels) == len(kernel_sizes) == len(dilations) or len(channels) < 3:
            raise ValueError(
                "ECAPA channels, kernel_sizes and dilations must have the same length (>= 3), got "
                f"{list(channels)}, {list(kernel_sizes)}, {list(dilations)}"
            )
        self.sample_rate = sample_rate
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.fbank = LogMelFbank(sample_rate, n_mels)
        self.stem = TdnnBlock(n_mels, channels[0], kernel_sizes[0], dilations[0])
        self.blocks = nn.ModuleList(
            SeRes2Block(channels[i - 1], channels[i], kernel_sizes[i], dilations[i], res2net_scale, se_channels)
            for i in range(1, len(channels) - 1)
        )
        self.aggregate = TdnnBlock(sum(channels[1:-1]), channels[-1], kernel_sizes[-1], dilations[-1])
        self.pooling = AttentiveStatsPooling(channels[-1], attention_channels)
        self.pool_norm = nn.BatchNorm1d(2 * channels[-1])
        self.projection = nn.Linear(2 * channels[-1], embedding_dim)

    def embed_features(self, feats: torch.Tensor) -> torch.Tensor:
        """``feats[B, n_mels, frames]`` -> ``[B, embedding_dim]``."""
        x = self.stem(feats)
        block_outputs = []
        for block in self.blocks:
            x = block(x)
            block_outputs.append(x)
        x = self.aggregate(torch.cat(block_outputs, 1))
        embedding = self.projection(self.pool_norm(self.pooling(x)))
        return nn.functional.normalize(embedding, dim=-1) if self.normalize else embedding

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.fbank(wave))
