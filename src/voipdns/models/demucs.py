"""Demucs (Defossez et al., Interspeech 2020): a waveform U-Net with an LSTM bottleneck.

Same constructor arguments, parameter names and numerics as the official ``denoiser`` package, so the
official checkpoints (dns48, dns64, master64) load with ``strict=True`` and give the same output.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from voipdns.dsp.sinc_resample import downsample2, upsample2
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE

#: Extra input the streaming resampler needs past a frame (samples at the input rate), as in the reference.
RESAMPLE_LOOKAHEAD_SAMPLES = 64


class BottleneckLSTM(nn.Module):
    """Two-layer LSTM over time; bidirectional (+ a Linear back to ``dim``) only for non-causal models.

    Parameter names (``lstm.*``, ``linear.*``) are those of the official checkpoints.
    """

    def __init__(self, dim: int, layers: int = 2, bidirectional: bool = True):
        super().__init__()
        self.lstm = nn.LSTM(input_size=dim, hidden_size=dim, num_layers=layers, bidirectional=bidirectional)
        self.linear = nn.Linear(2 * dim, dim) if bidirectional else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[time, batch, dim] -> [time, batch, dim]``."""
        x, _ = self.lstm(x)
        return self.linear(x) if self.linear is not None else x


def rescale_conv_weights(module: nn.Module, reference: float) -> None:
    """Divide each conv's weight and bias by ``sqrt(weight.std() / reference)``.

    Done once at init: it shrinks the initial weights, which the Demucs paper found speeds up training.
    """
    for sub in module.modules():
        if isinstance(sub, (nn.Conv1d, nn.ConvTranspose1d)):
            scale = (sub.weight.detach().std() / reference) ** 0.5
            with torch.no_grad():
                sub.weight.div_(scale)
                if sub.bias is not None:
                    sub.bias.div_(scale)


class Demucs(EnhancementNet):
    """Causal or non-causal Demucs; ``forward(noisy[B, chin, T]) -> estimate[B, chout, T]``.

    Args:
        chin, chout: input / output channels (1 for mono).
        hidden: channels of the first encoder layer; layer ``i`` has ``min(hidden * growth**i, max_hidden)``.
        depth: number of encoder (and decoder) layers.
        kernel_size, stride: of every strided conv, in samples of the upsampled signal.
        causal: unidirectional LSTM (streamable); otherwise a bidirectional LSTM + Linear.
        resample: 1, 2 or 4; the input is upsampled by this factor before the U-Net.
        normalize: divide the input by ``floor + std`` and multiply the output back.
        glu: GLU after the 1x1 convs (else ReLU, with half the 1x1 channels).
        rescale: reference std for the init-time weight rescale (0 disables it).
        floor: added to the input std before dividing (avoids blowing up silence).
        sample_rate: in Hz; 16000 for the official checkpoints.
    """

    def __init__(
        self,
        chin: int = 1,
        chout: int = 1,
        hidden: int = 48,
        depth: int = 5,
        kernel_size: int = 8,
        stride: int = 4,
        causal: bool = True,
        resample: int = 4,
        growth: float = 2,
        max_hidden: int = 10_000,
        normalize: bool = True,
        glu: bool = True,
        rescale: float = 0.1,
        floor: float = 1e-3,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
    ):
        super().__init__()
        if resample not in (1, 2, 4):
            raise ValueError(f"Demucs: resample must be 1, 2 or 4, got {resample}")
        self.chin, self.chout, self.hidden, self.depth = chin, chout, hidden, depth
        self.kernel_size, self.stride, self.causal, self.resample = kernel_size, stride, causal, resample
        self.normalize, self.floor, self.sample_rate = normalize, floor, sample_rate
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        # Built outermost first, in the reference's order, so the same seed gives the same initial weights.
        for index in range(depth):
            self.encoder.append(self._encoder_layer(chin, hidden, glu))
            # decoder[0] is the deepest layer; only the outermost decoder has no final ReLU.
            self.decoder.insert(0, self._decoder_layer(hidden, chout, glu, final_relu=index > 0))
            chin = chout = hidden
            hidden = min(int(growth * hidden), max_hidden)
        self.lstm = BottleneckLSTM(chin, bidirectional=not causal)
        if rescale:
            rescale_conv_weights(self, reference=rescale)
        # Streaming look-ahead: one valid frame + the resampler's look-ahead (661 samples for the defaults).
        self.latency_samples = self.valid_length(1) + RESAMPLE_LOOKAHEAD_SAMPLES if causal else 0

    def _encoder_layer(self, chin: int, hidden: int, glu: bool) -> nn.Sequential:
        ch_scale = 2 if glu else 1
        return nn.Sequential(
            nn.Conv1d(chin, hidden, self.kernel_size, self.stride),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden * ch_scale, 1),
            nn.GLU(dim=1) if glu else nn.ReLU(),
        )

    def _decoder_layer(self, hidden: int, chout: int, glu: bool, final_relu: bool) -> nn.Sequential:
        ch_scale = 2 if glu else 1
        layers: list[nn.Module] = [
            nn.Conv1d(hidden, hidden * ch_scale, 1),
            nn.GLU(dim=1) if glu else nn.ReLU(),
            nn.ConvTranspose1d(hidden, chout, self.kernel_size, self.stride),
        ]
        if final_relu:
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    @property
    def total_stride(self) -> int:
        """Input samples per bottleneck frame (256 = 16 ms at 16 kHz for the defaults)."""
        return self.stride**self.depth // self.resample

    def valid_length(self, length: int) -> int:
        """Smallest input length >= ``length`` (samples) whose convolutions leave no sample unused."""
        frames = math.ceil(length * self.resample)
        for _ in range(self.depth):
            frames = max(math.ceil((frames - self.kernel_size) / self.stride) + 1, 1)
        for _ in range(self.depth):
            frames = (frames - 1) * self.stride + self.kernel_size
        return int(math.ceil(frames / self.resample))

    def _check_input(self, noisy: torch.Tensor) -> None:
        if noisy.dim() != 3 or noisy.shape[1] != self.chin:
            raise ValueError(
                f"Demucs expects noisy audio shaped [batch, {self.chin}, samples], got {list(noisy.shape)}"
            )

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        self._check_input(noisy)
        if self.normalize:
            mono = noisy.mean(dim=1, keepdim=True)
            # The unbiased std of a single sample is NaN; treat it as silence (the reference returns NaN).
            std = mono.std(dim=-1, keepdim=True) if mono.shape[-1] > 1 else torch.zeros_like(mono)
            x = noisy / (self.floor + std)
        else:
            std, x = 1.0, noisy
        length = x.shape[-1]
        x = nn.functional.pad(x, (0, self.valid_length(length) - length))
        for _ in range(int(math.log2(self.resample))):
            x = upsample2(x)
        skips = []
        for encode in self.encoder:
            x = encode(x)
            skips.append(x)
        x = self.lstm(x.permute(2, 0, 1)).permute(1, 2, 0)
        for decode in self.decoder:
            skip = skips.pop()
            x = decode(x + skip[..., : x.shape[-1]])
        for _ in range(int(math.log2(self.resample))):
            x = downsample2(x)
        return std * x[..., :length]
