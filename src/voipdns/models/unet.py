"""The seed paper's real-time mask U-Net: a 2-D conv U-Net on the log-magnitude spectrogram.

STFT 32 ms window / 8 ms hop (512 / 128 samples at 16 kHz); input ``log(|X| + eps)`` as ``[B, 1, F, frames]``.
Encoder: Conv(1 -> c) then four stride-2 stages (c -> 2c -> 4c -> 8c -> 16c, the last is the bottleneck).
Decoder: per stage a stride-2 transposed conv (2x2) doubling frequency and time, concatenation with the
encoder skip, and a 3x3 conv; the head is a 1x1 conv + sigmoid giving a mask on the noisy magnitude
(noisy phase kept). Every conv is followed by BatchNorm + ReLU except the head.

Four stride-2 stages need sizes divisible by 16: the features are padded (replicating the edge) up to the
next multiple and the mask is cropped back. With ``causal=True`` (default) the time axis is padded on the past
side only, so the mask of frame ``t`` sees frames ``<= t``: the latency is one STFT window (32 ms).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.dsp.stft import Stft
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE

STAGES = 4  # stride-2 stages: sizes must be multiples of 2**STAGES
LOG_EPS = 1e-6
#: Frames of future context of the non-causal layout (3x3 convs at every scale, see ``future_frames``).
NONCAUSAL_FUTURE_FRAMES = 31


class Conv3x3(nn.Module):
    """3x3 conv + BatchNorm + ReLU; ``causal`` pads time (last axis) with 2 past frames instead of 1 + 1."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, causal: bool = True):
        super().__init__()
        self.time_padding = (2, 0) if causal else (1, 1)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=(1, 0))
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.pad(x, self.time_padding))))


class UpStage(nn.Module):
    """2x2 stride-2 transposed conv (in -> out), concat the skip (out), then Conv3x3 (2 out -> out)."""

    def __init__(self, in_channels: int, out_channels: int, causal: bool = True):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.up_norm = nn.BatchNorm2d(out_channels)
        self.fuse = Conv3x3(2 * out_channels, out_channels, causal=causal)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.up_norm(self.up(x)))
        return self.fuse(torch.cat([x, skip], dim=1))


class MaskUNet(EnhancementNet):
    """Magnitude-mask U-Net; ``forward(noisy[B, 1, T]) -> estimate[B, 1, T]``.

    Args:
        sample_rate: Hz.
        window_ms, hop_ms: STFT window and hop in milliseconds (32 / 8); ``n_fft`` = window samples.
        base_channels: channels of the first layer (32 gives ~3.83 M parameters; the count scales ~ c^2).
        causal: pad time on the past side only (streamable, latency = one window); else centred kernels.
    """

    #: the mask pads frames to a multiple of this with Python arithmetic (ONNX export traces on a multiple)
    frames_multiple = 2**STAGES

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        window_ms: float = 32.0,
        hop_ms: float = 8.0,
        base_channels: int = 32,
        causal: bool = True,
    ):
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"MaskUNet: base_channels must be >= 1, got {base_channels}")
        self.sample_rate = int(sample_rate)
        win_samples = round(sample_rate * window_ms / 1000)
        hop_samples = round(sample_rate * hop_ms / 1000)
        self.stft = Stft(win_samples, hop_samples, win_samples)
        self.causal = bool(causal)
        widths = [base_channels * 2**i for i in range(STAGES + 1)]  # 32, 64, 128, 256, 512
        self.input_conv = Conv3x3(1, widths[0], causal=causal)
        self.down = nn.ModuleList(Conv3x3(widths[i], widths[i + 1], stride=2, causal=causal) for i in range(STAGES))
        self.up = nn.ModuleList(UpStage(widths[i + 1], widths[i], causal=causal) for i in reversed(range(STAGES)))
        self.head = nn.Conv2d(widths[0], 1, kernel_size=1)
        future = 0 if causal else NONCAUSAL_FUTURE_FRAMES
        self.latency_samples = win_samples + future * hop_samples

    # --- the core: magnitude -> mask ----------------------------------------------------------------------
    def mask_from_magnitude(self, noisy_mag: torch.Tensor) -> torch.Tensor:
        """``noisy_mag[B, 1, F, frames] -> mask[B, 1, F, frames]`` in (0, 1)."""
        if noisy_mag.dim() != 4 or noisy_mag.shape[1] != 1:
            raise ValueError(f"MaskUNet core expects a magnitude [B, 1, F, frames], got {list(noisy_mag.shape)}")
        freqs, frames = noisy_mag.shape[-2:]
        multiple = 2**STAGES
        pad_freqs, pad_frames = -freqs % multiple, -frames % multiple
        # Replicate the top bin and the last frame: padding only ever adds future frames, never past ones.
        x = F.pad(torch.log(noisy_mag + LOG_EPS), (0, pad_frames, 0, pad_freqs), mode="replicate")
        skips = [self.input_conv(x)]
        for stage in self.down:
            skips.append(stage(skips[-1]))
        x = skips.pop()
        for stage in self.up:
            x = stage(x, skips.pop())
        return torch.sigmoid(self.head(x))[..., :freqs, :frames]

    # --- STFT wrappers -------------------------------------------------------------------------------------
    def valid_length(self, length: int) -> int:
        return max(int(length), self.stft.n_fft // 2 + 1)  # reflect padding needs more than half a window

    def analysis(self, noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``noisy[B, 1, T]`` -> (complex spectrum ``[B, F, frames]``, magnitude ``[B, 1, F, frames]``)."""
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"MaskUNet expects noisy [B, 1, T], got {list(noisy.shape)}")
        spec = self.stft.analysis(noisy)
        return spec, spec.abs().unsqueeze(1)

    def synthesis(self, spec: torch.Tensor, mask: torch.Tensor, length: int) -> torch.Tensor:
        return self.stft.synthesis(spec * mask[:, 0], length)  # real mask: keeps the noisy phase

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        length = noisy.shape[-1]
        padded = self.valid_length(length)
        spec, mag = self.analysis(F.pad(noisy, (0, padded - length)))
        return self.synthesis(spec, self.mask_from_magnitude(mag), padded)[..., :length]
