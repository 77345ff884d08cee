"""Log-mel filterbank features for speaker embedders (25 ms Hamming window, 10 ms hop), torch.stft only."""

from __future__ import annotations

import torch
from torch import nn

from voipdns.dsp.mel import mel_filterbank
from voipdns.rates import DEFAULT_SAMPLE_RATE


class LogMelFbank(nn.Module):
    """``wave[B, T]`` -> ``[B, n_mels, frames]`` log-mel energies, mean-normalised over time per utterance."""

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
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
        self.register_buffer("window", torch.hamming_window(self.window_samples, periodic=False), persistent=False)
        filters = mel_filterbank(sample_rate, self.n_fft, n_mels, f_min_hz, f_max, scale="htk", area_norm=False)
        self.register_buffer("filters", torch.from_numpy(filters.copy()), persistent=False)  # HTK, peak 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 3:
            wave = wave.squeeze(1)
        if wave.dim() != 2:
            raise ValueError(f"LogMelFbank expects [batch, samples] or [batch, 1, samples], got {tuple(wave.shape)}")
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
