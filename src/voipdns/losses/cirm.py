"""FullSubNet's loss: MSE between the predicted and the ideal compressed cIRM.

The target is computed here from the batch's noisy and clean waveforms with the net's STFT settings, then put
in the same drop-band layout as the prediction (``outputs["cirm_drop_band_groups"]``). The net already drops
its look-ahead frames, so prediction frame ``t`` and target frame ``t`` are the same STFT frame.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.dsp.complex_mask import compress_cirm, ideal_cirm
from voipdns.dsp.drop_band import drop_band
from voipdns.dsp.stft import Stft


class CompressedCirmMSELoss(nn.Module):
    """``mean((cirm_pred - compress(clean / noisy))^2)`` over real/imag parts, bins and frames.

    Args:
        n_fft, hop_samples, win_samples: the STFT of the net (FullSubNet: 512 / 256 / 512, Hann).
        cirm_k, cirm_c: mask compression (10, 0.1), as in the net.
    """

    def __init__(
        self,
        n_fft: int = 512,
        hop_samples: int = 256,
        win_samples: int = 512,
        cirm_k: float = 10.0,
        cirm_c: float = 0.1,
    ):
        super().__init__()
        self.stft = Stft(n_fft, hop_samples, win_samples)
        self.cirm_k, self.cirm_c = float(cirm_k), float(cirm_c)

    def target(self, noisy: torch.Tensor, clean: torch.Tensor, drop_band_groups: int = 1) -> torch.Tensor:
        """Compressed ideal cIRM ``[B, 2, F', frames]`` of ``noisy``/``clean`` ``[B, 1, T]``."""
        mask = ideal_cirm(self.stft.analysis(noisy), self.stft.analysis(clean))
        return drop_band(compress_cirm(mask, self.cirm_k, self.cirm_c), drop_band_groups)

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        name = type(self).__name__
        if "cirm" not in outputs:
            raise KeyError(f"{name}: outputs has no 'cirm' (keys: {sorted(outputs)}); use it with FullSubNet")
        if "clean" not in batch:
            raise KeyError(f"{name}: batch has no 'clean' reference (keys: {sorted(batch)})")
        noisy, clean = batch["noisy"], batch["clean"]
        if noisy.shape != clean.shape:
            raise ValueError(f"{name}: noisy {list(noisy.shape)} and clean {list(clean.shape)} differ in shape")
        padded = int(outputs.get("cirm_padded_samples", noisy.shape[-1]))
        noisy, clean = (F.pad(x, (0, padded - x.shape[-1])) for x in (noisy, clean))
        target = self.target(noisy, clean, int(outputs.get("cirm_drop_band_groups", 1)))
        prediction = outputs["cirm"]
        if prediction.shape != target.shape:
            raise ValueError(
                f"{name}: predicted cIRM {list(prediction.shape)} != target {list(target.shape)}; "
                f"the loss STFT "
                f"(n_fft {self.stft.n_fft}, hop {self.stft.hop_samples}) must match the net's"
            )
        return F.mse_loss(prediction, target)
