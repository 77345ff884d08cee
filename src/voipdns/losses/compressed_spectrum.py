"""GTCRN's hybrid loss (Rong et al., ICASSP 2024), the spectral part: power-law compressed spectra.

Per frame: ``complex_weight * (MSE(Re Y_c, Re X_c) + MSE(Im Y_c, Im X_c)) + magnitude_weight * MSE(|Y|^0.3,
|X|^0.3)`` with ``Y_c = Y / |Y|^0.7`` (the compressed complex spectrum), averaged over bins. The frame mean
is the official loss's term (30 / 70 weights); exposed frame by frame (``FrameWiseLoss``) so the VAD-weighted
loss can wrap it. The hybrid loss adds ``-SI-SNR / 10`` (``voipdns.losses.sisnr.SiSnrLoss(scale=0.1)``),
the official ``-log10`` of the SI-SNR ratio.
"""

from __future__ import annotations

import torch
from torch import nn

from voipdns.dsp.stft import Stft
from voipdns.losses.waveform import _pair

_EPS = 1e-12  # inside the magnitude's sqrt: finite gradients on silent bins


def _compressed(spec: torch.Tensor, power: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``spec[B, F, T, 2]`` -> (Re, Im) divided by ``|spec|^(1 - power)``, and ``|spec|^power``."""
    magnitude = torch.sqrt(spec[..., 0].square() + spec[..., 1].square() + _EPS)
    scale = magnitude.pow(1 - power)
    return spec[..., 0] / scale, spec[..., 1] / scale, magnitude.pow(power)


class CompressedSpectrumLoss(nn.Module):
    """Frame-wise compressed-spectrum MSE between the net's enhanced spectrum and the clean one.

    Uses ``outputs["spectrum"]`` (``[B, F, T, 2]``, GTCRN's ``training_outputs``) when present, else the STFT
    of ``outputs["estimate"]``; the clean spectrum is taken with the same STFT (sqrt-Hann by default).
    """

    centered = True

    def __init__(
        self,
        n_fft: int = 512,
        hop_samples: int = 256,
        window: str = "sqrt_hann",
        power: float = 0.3,
        complex_weight: float = 30.0,
        magnitude_weight: float = 70.0,
    ):
        super().__init__()
        if not 0 < power <= 1:
            raise ValueError(f"CompressedSpectrumLoss: power must be in (0, 1], got {power}")
        self.stft = Stft(n_fft, hop_samples, n_fft, window=window)
        self.frame_samples, self.hop_samples = n_fft, hop_samples
        self.power, self.complex_weight, self.magnitude_weight = (
            float(power),
            float(complex_weight),
            float(magnitude_weight),
        )

    def _spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(self.stft.analysis(wav))

    def frame_losses(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        predicted = outputs.get("spectrum")
        if predicted is None:
            predicted = self._spectrum(estimate)
        target = self._spectrum(clean)
        if predicted.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: spectrum {list(predicted.shape)} and the clean STFT {list(target.shape)} "
                "differ (the loss's n_fft / hop must match the net's)"
            )
        pred_re, pred_im, pred_mag = _compressed(predicted, self.power)
        true_re, true_im, true_mag = _compressed(target, self.power)
        complex_error = (pred_re - true_re).square() + (pred_im - true_im).square()
        magnitude_error = (pred_mag - true_mag).square()
        per_bin = self.complex_weight * complex_error + self.magnitude_weight * magnitude_error
        return per_bin.mean(dim=1)  # [B, frames]

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        return self.frame_losses(outputs, batch).mean()
