"""Multi-resolution STFT loss (spectral convergence + L1 log-magnitude), as used to train Demucs.

Each resolution compares magnitude spectrograms of the estimate and the clean reference; the two terms are
averaged over resolutions. Magnitudes are ``sqrt(max(|X|^2, 1e-7))`` so the log and its gradient stay finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voipdns.losses.waveform import _pair

#: Reference resolutions at 16 kHz: FFT sizes, hops and Hann window lengths, in samples.
FFT_SIZES = (1024, 2048, 512)
HOP_SAMPLES = (120, 240, 50)
WIN_SAMPLES = (600, 1200, 240)
POWER_FLOOR = 1e-7


def stft_magnitude(wav: torch.Tensor, fft_size: int, hop_samples: int, window: torch.Tensor) -> torch.Tensor:
    """``[B, T] -> [B, frames, fft_size // 2 + 1]`` magnitudes (centred frames, reflect padding)."""
    spec = torch.stft(wav, fft_size, hop_samples, window.shape[-1], window.to(wav), return_complex=True)
    power = spec.real.square() + spec.imag.square()
    return power.clamp(min=POWER_FLOOR).sqrt().transpose(1, 2)


def spectral_convergence(est_mag: torch.Tensor, clean_mag: torch.Tensor) -> torch.Tensor:
    """``||clean - est||_F / ||clean||_F`` over the whole batch."""
    return torch.linalg.norm(clean_mag - est_mag) / torch.linalg.norm(clean_mag)


def log_magnitude_l1(est_mag: torch.Tensor, clean_mag: torch.Tensor) -> torch.Tensor:
    return (clean_mag.log() - est_mag.log()).abs().mean()


def _flatten(wav: torch.Tensor, name: str) -> torch.Tensor:
    if wav.dim() == 3 and wav.shape[1] == 1:
        return wav[:, 0]
    if wav.dim() == 2:
        return wav
    raise ValueError(f"stft_loss: {name} must be [B, 1, T] or [B, T], got {list(wav.shape)}")


def stft_loss(
    estimate: torch.Tensor,
    clean: torch.Tensor,
    fft_sizes: Sequence[int] = FFT_SIZES,
    hop_samples: Sequence[int] = HOP_SAMPLES,
    win_samples: Sequence[int] = WIN_SAMPLES,
    windows: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unweighted ``(spectral convergence, log-magnitude L1)``, each averaged over the resolutions.

    ``estimate`` and ``clean`` are ``[B, 1, T]`` or ``[B, T]``; ``windows`` defaults to periodic Hann windows.
    """
    if not len(fft_sizes) == len(hop_samples) == len(win_samples):
        raise ValueError(
            f"stft_loss: fft_sizes {list(fft_sizes)}, hop_samples {list(hop_samples)} and win_samples "
            f"{list(win_samples)} must have the same length"
        )
    estimate, clean = _flatten(estimate, "estimate"), _flatten(clean, "clean")
    if windows is None:
        windows = [torch.hann_window(win, device=estimate.device) for win in win_samples]
    sc = mag = estimate.new_zeros(())
    for fft_size, hop, window in zip(fft_sizes, hop_samples, windows, strict=True):
        est_mag = stft_magnitude(estimate, fft_size, hop, window)
        clean_mag = stft_magnitude(clean, fft_size, hop, window)
        sc = sc + spectral_convergence(est_mag, clean_mag)
        mag = mag + log_magnitude_l1(est_mag, clean_mag)
    return sc / len(fft_sizes), mag / len(fft_sizes)


class MultiResolutionSTFTLoss(nn.Module):
    """Loss term ``factor_sc * spectral_convergence + factor_mag * log_magnitude_l1``.

    The reference trainer adds ``sc + mag`` scaled by its STFT factors; here the scale usually lives in the
    CompositeLoss weight (0.1 for the causal Demucs recipe), so both factors default to 1.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = FFT_SIZES,
        hop_samples: Sequence[int] = HOP_SAMPLES,
        win_samples: Sequence[int] = WIN_SAMPLES,
        factor_sc: float = 1.0,
        factor_mag: float = 1.0,
    ):
        super().__init__()
        self.fft_sizes, self.hop_samples = list(fft_sizes), list(hop_samples)
        self.win_samples = list(win_samples)
        if not len(self.fft_sizes) == len(self.hop_samples) == len(self.win_samples):
            raise ValueError(
                f"MultiResolutionSTFTLoss: fft_sizes {self.fft_sizes}, hop_samples {self.hop_samples} and "
                f"win_samples {self.win_samples} must have the same length"
            )
        bad = [(n, w) for n, w in zip(self.fft_sizes, self.win_samples, strict=True) if w > n]
        if bad:
            raise ValueError(f"MultiResolutionSTFTLoss: window longer than its FFT (fft, win): {bad}")
        self.factor_sc, self.factor_mag = float(factor_sc), float(factor_mag)
        # Non-persistent: windows follow the device but never enter checkpoints.
        for index, win in enumerate(self.win_samples):
            self.register_buffer(f"window{index}", torch.hann_window(win), persistent=False)

    def components(self, estimate: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled ``(factor_sc * sc, factor_mag * mag)`` for ``[B, 1, T]`` or ``[B, T]`` waveforms."""
        windows = [getattr(self, f"window{index}") for index in range(len(self.win_samples))]
        sc, mag = stft_loss(estimate, clean, self.fft_sizes, self.hop_samples, self.win_samples, windows)
        return self.factor_sc * sc, self.factor_mag * mag

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        sc, mag = self.components(estimate, clean)
        return sc + mag
