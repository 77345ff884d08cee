"""PercepNet framing: 50 %-overlap frames with a power-complementary (Vorbis) window.

Frame ``t`` covers input samples ``[(t - 1) * hop, (t + 1) * hop)`` (centred on ``t * hop``, like
``torch.stft(center=True)``), so a clip of ``T`` samples has ``ceil(T / hop) + 1`` frames and every input
sample lies in exactly two frames. The window satisfies ``w[n]^2 + w[n + hop]^2 = 1``: analysis and
synthesis with the same window reconstruct the input exactly (overlap-add), so unity gains are a
transparent filter.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def vorbis_window(window_samples: int) -> torch.Tensor:
    """Power-complementary window ``sin(pi/2 * sin^2(pi (n + 0.5) / N))`` (used by Opus/RNNoise/PercepNet)."""
    if window_samples <= 0 or window_samples % 2:
        raise ValueError(f"window_samples must be a positive even number, got {window_samples}")
    n = torch.arange(window_samples, dtype=torch.float64)
    inner = torch.sin(math.pi * (n + 0.5) / window_samples) ** 2
    return torch.sin(0.5 * math.pi * inner).float()


def num_frames(num_samples: int, hop_samples: int) -> int:
    """Frames for a clip of ``num_samples``: ``ceil(T / hop) + 1``."""
    return -(-int(num_samples) // hop_samples) + 1


def frame_signal(wave: torch.Tensor, hop_samples: int) -> torch.Tensor:
    """``wave[B, T]`` -> unwindowed frames ``[B, F, 2 * hop]`` (t: ``[(t-1) hop, (t+1) hop)``)."""
    if wave.dim() != 2:
        raise ValueError(f"frame_signal expects [batch, samples], got shape {tuple(wave.shape)}")
    frames = num_frames(wave.shape[-1], hop_samples)
    right = (frames + 1) * hop_samples - hop_samples - wave.shape[-1]
    padded = F.pad(wave, (hop_samples, right))
    return padded.unfold(-1, 2 * hop_samples, hop_samples)


def analysis(wave: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """``wave[B, T]`` -> complex spectra ``[B, F, window/2 + 1]``."""
    frames = frame_signal(wave, window.numel() // 2)
    return torch.fft.rfft(frames * window, dim=-1)


def window_frames(frames: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Spectra of already-cut time frames ``[B, F, N]`` (e.g. comb-filtered frames)."""
    return torch.fft.rfft(frames * window, dim=-1)


def synthesis(spectra: torch.Tensor, window: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Inverse of :func:`analysis`: windowed overlap-add of ``[B, F, K]`` spectra -> ``[B, num_samples]``."""
    window_samples = window.numel()
    hop = window_samples // 2
    frames = torch.fft.irfft(spectra, n=window_samples, dim=-1) * window
    first, second = frames[..., :hop], frames[..., hop:]
    # Output block j (padded coordinates) = first half of frame j + second half of frame j - 1.
    blocks = F.pad(first, (0, 0, 0, 1)) + F.pad(second, (0, 0, 1, 0))
    out = blocks.reshape(blocks.shape[0], -1)
    return out[:, hop : hop + num_samples]
