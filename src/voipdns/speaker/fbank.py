"""Log-mel filterbank features for speaker embedders (25 ms Hamming window, 10 ms hop), torch.stft only."""

from __future__ import annotations

import math

import torch
from torch import nn


def hz_to_mel(freq_hz: float) -> float:
    return 2595.0 * math.log10(1.0 + freq_hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min_hz: float, f_max_hz: float
) -> torch.Tensor:
    """Triangular HTK-mel filters ``[n_mels, n_fft // 2 + 1]`` (peak 1), edges equally spaced in mel."""
    if not 0 <= f_min_hz < f_max_hz <= sample_rate / 2:
        raise ValueError(
            f"mel range must satisfy 0 <= f_min < f_max <= Nyquist, got {f_min_hz}..{f_max_hz} Hz"
        )
    mels = torch.linspace(hz_to_mel(f_min_hz), hz_to_mel(f_max_hz), n_mels + 2, dtype=torch.float64)
    edges = mel_to_hz(mels)
    bins_hz = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    return torch.minimum(rising, falling).clamp(min=0.0).float()


class LogMelFbank(nn.Module):
    """``wave[B, T]`` -> ``[B, n_mels, frames]`` log-mel energies, mean-normalised over time per utterance."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 80,
        window_seconds: float = 0.025,
        hop_seconds: float = 0.010,
        f_min_hz: float = 0.0,
        f_max_hz: float | None = None,
        mean_norm: bool = True,
    ):
        super().__init__()
        self.sample_rate = sample_rate
        self.window_samples = int(round(window_seconds * sample_rate))
        self.hop_samples = int(round(hop_seconds * sample_rate))
        self.n_fft = 1 << (self.window_samples - 1).bit_length()
        self.mean_norm = mean_norm
        f_max = sample_rate / 2 if f_max_hz is None else f_max_hz
        self.register_buffer(
            "window", torch.hamming_window(self.window_samples, periodic=False), persistent=False
        )
        filters = mel_filterbank(n_mels, self.n_fft, sample_rate, f_min_hz, f_max)
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 3:
            wave = wave.squeeze(1)
        if wave.dim() != 2:
            raise ValueError(
                f"LogMelFbank expects [batch, samples] or [batch, 1, samples], got {tuple(wave.shape)}"
            )
        spec = torch.stft(
            wave,
            self.n_fft,
            self.hop_samples,
            self.window_samples,
            self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        feats = torch.log(self.filters @ power + 1e-6)
        if self.mean_norm:
            feats = feats - feats.mean(-1, keepdim=True)
        return feats
