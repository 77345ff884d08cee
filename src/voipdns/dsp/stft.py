"""STFT / iSTFT pair around ``torch.stft`` with a Hann window kept as a non-persistent buffer.

The window is not saved in ``state_dict`` so nets that use this module keep their official key layout.
Frames are centred (``center=True``, reflect padding): a clip of ``T`` samples gives ``T // hop + 1`` frames,
and the inverse with ``length=T`` returns exactly ``T`` samples.
"""

from __future__ import annotations

import torch
from torch import nn


class Stft(nn.Module):
    """``analysis(wav[B, 1, T]) -> complex[B, F, frames]`` and ``synthesis(spec, length) -> wav[B, 1, T]``.

    Args:
        n_fft: FFT size in samples (``F = n_fft // 2 + 1`` bins).
        hop_samples: frame shift in samples.
        win_samples: Hann window length in samples (``<= n_fft``; centred inside the FFT frame).
        window: ``hann`` or ``sqrt_hann`` (periodic; analysis and synthesis use the same window).
    """

    def __init__(self, n_fft: int, hop_samples: int, win_samples: int | None = None, window: str = "hann"):
        super().__init__()
        win_samples = n_fft if win_samples is None else win_samples
        if not 0 < hop_samples <= win_samples <= n_fft:
            raise ValueError(
                f"Stft needs 0 < hop_samples <= win_samples <= n_fft, got hop {hop_samples}, "
                f"win {win_samples}, n_fft {n_fft}"
            )
        self.n_fft, self.hop_samples, self.win_samples = int(n_fft), int(hop_samples), int(win_samples)
        if window not in ("hann", "sqrt_hann"):
            raise ValueError(f"Stft window must be 'hann' or 'sqrt_hann', got {window!r}")
        hann = torch.hann_window(self.win_samples)
        self.register_buffer("window", hann.sqrt() if window == "sqrt_hann" else hann, persistent=False)

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_samples + 1

    def analysis(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, 1, T]`` or ``[B, T]`` -> complex ``[B, F, frames]``."""
        if wav.dim() == 3:
            if wav.shape[1] != 1:
                raise ValueError(f"Stft expects mono [B, 1, T], got {list(wav.shape)}")
            wav = wav[:, 0]
        if wav.dim() != 2:
            raise ValueError(f"Stft expects [B, 1, T] or [B, T], got {list(wav.shape)}")
        return torch.stft(
            wav, self.n_fft, self.hop_samples, self.win_samples, self.window.to(wav.dtype),
            center=True, pad_mode="reflect", return_complex=True,
        )  # fmt: skip

    def synthesis(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex ``[B, F, frames]`` -> ``[B, 1, length]``."""
        wav = torch.istft(
            spec, self.n_fft, self.hop_samples, self.win_samples, self.window.to(spec.real.dtype),
            center=True, length=length,
        )  # fmt: skip
        return wav.unsqueeze(1)
