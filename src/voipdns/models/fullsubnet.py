"""FullSubNet (Hao et al., ICASSP 2021): a full-band LSTM feeding a frequency-shared sub-band LSTM.

Same arguments, parameter names and numerics as the official recipe, so the released checkpoints load with
strict key matching (see ``voipdns.checkpoint_formats.fullsubnet``). The core maps the noisy magnitude
``[B, 1, F, frames]`` to the compressed cIRM ``[B, 2, F, frames]``; ``forward`` wraps it in STFT / iSTFT
(kept in separate methods so an ONNX export can run the core alone).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.dsp.complex_mask import apply_complex_mask, decompress_cirm
from voipdns.dsp.drop_band import drop_band
from voipdns.dsp.laplace_norm import get_norm
from voipdns.dsp.stft import Stft
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE


class SequenceHead(nn.Module):
    """Unidirectional LSTM over frames + Linear (+ ReLU); keys ``sequence_model.*``, ``fc_output_layer.*``."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int, relu: bool):
        super().__init__()
        self.sequence_model = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc_output_layer = nn.Linear(hidden_size, output_size)
        self.activation = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, features, frames] -> [N, output_size, frames]``."""
        out, _ = self.sequence_model(x.transpose(1, 2))
        return self.activation(self.fc_output_layer(out)).transpose(1, 2)


def reflect_neighbour_index(num_freqs: int, neighbours: int) -> torch.Tensor:
    """``[F, 2n + 1]`` bin indices of each neighbourhood, reflected at the edges (-1 -> 1, F -> F - 2)."""
    index = torch.arange(num_freqs)[:, None] + torch.arange(-neighbours, neighbours + 1)[None, :]
    index = index.abs()  # reflect at bin 0
    return torch.where(index > num_freqs - 1, 2 * (num_freqs - 1) - index, index)


def unfold_neighbours(x: torch.Tensor, neighbours: int) -> torch.Tensor:
    """``[B, 1, F, frames] -> [B, F, 2 * neighbours + 1, frames]``: each bin with its neighbours.

    The edges are reflect padded, as in the reference; a gather (not ``Tensor.unfold``) so ONNX can export it.
    """
    batch, _, freqs, frames = x.shape
    if neighbours == 0:
        return x.reshape(batch, freqs, 1, frames)
    if neighbours >= freqs:
        raise ValueError(f"unfold_neighbours: {neighbours} neighbours need more than {freqs} bins")
    return x[:, 0][:, reflect_neighbour_index(freqs, neighbours).to(x.device)]


class FullSubNet(EnhancementNet):
    """FullSubNet with a cIRM output; ``forward(noisy[B, 1, T]) -> estimate[B, 1, T]``.

    Args:
        sample_rate: Hz (the released model: 16000).
        n_fft, hop_samples, win_samples: STFT in samples (512 / 256 / 512, Hann).
        look_ahead_frames: future frames each output frame sees (2 = 32 ms at 16 kHz).
        fb_num_neighbors, sb_num_neighbors: neighbours on each side of a bin for the full-band output (0)
            and the noisy magnitude (15) in a sub-band unit.
        fb_hidden_size, sb_hidden_size, num_layers: LSTM sizes (512, 384, 2).
        fb_norm, sb_norm: ``offline_laplace`` (released 58-epoch model) or ``cumulative_laplace`` (causal;
            the released 218-epoch "cumulative" model uses it for both).
        drop_band_groups: groups of the drop-band trick (2); applied only in training with a batch larger
            than the groups and ``use_drop_band``. While it is active ``training_outputs`` has no
            ``estimate`` (only part of the bands is predicted): turn it off for waveform losses.
        cirm_k, cirm_c, mask_limit: mask compression (10, 0.1) and the clip before decompression (9.9).
    """

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_fft: int = 512,
        hop_samples: int = 256,
        win_samples: int = 512,
        look_ahead_frames: int = 2,
        fb_num_neighbors: int = 0,
        sb_num_neighbors: int = 15,
        fb_hidden_size: int = 512,
        sb_hidden_size: int = 384,
        num_layers: int = 2,
        fb_norm: str = "offline_laplace",
        sb_norm: str = "offline_laplace",
        drop_band_groups: int = 2,
        use_drop_band: bool = True,
        cirm_k: float = 10.0,
        cirm_c: float = 0.1,
        mask_limit: float = 9.9,
    ):
        super().__init__()
        if look_ahead_frames < 0:
            raise ValueError(f"FullSubNet: look_ahead_frames must be >= 0, got {look_ahead_frames}")
        self.sample_rate = int(sample_rate)
        self.stft = Stft(n_fft, hop_samples, win_samples)
        num_freqs = self.stft.num_bins
        if sb_num_neighbors >= num_freqs or fb_num_neighbors >= num_freqs:
            raise ValueError(f"FullSubNet: neighbours must be < {num_freqs} frequency bins")
        self.look_ahead_frames = int(look_ahead_frames)
        self.fb_num_neighbors, self.sb_num_neighbors = int(fb_num_neighbors), int(sb_num_neighbors)
        self.fb_norm_name, self.sb_norm_name = fb_norm, sb_norm
        self.fb_norm, self.sb_norm = (
            get_norm(fb_norm, "FullSubNet.fb_norm"),
            get_norm(sb_norm, "FullSubNet.sb_norm"),
        )
        self.drop_band_groups, self.use_drop_band = int(drop_band_groups), bool(use_drop_band)
        self.cirm_k, self.cirm_c, self.mask_limit = float(cirm_k), float(cirm_c), float(mask_limit)
        sb_features = (2 * sb_num_neighbors + 1) + (2 * fb_num_neighbors + 1)
        self.fb_model = SequenceHead(num_freqs, num_freqs, fb_hidden_size, num_layers, relu=True)
        self.sb_model = SequenceHead(sb_features, 2, sb_hidden_size, num_layers, relu=False)
        # An output sample needs its whole window plus the look-ahead frames (64 ms for the released model).
        self.latency_samples = self.stft.win_samples + self.look_ahead_frames * self.stft.hop_samples

    @property
    def causal(self) -> bool:
        """True when every output frame depends only on input up to ``look_ahead_frames`` later."""
        return all(
            name.removesuffix("_norm") == "cumulative_laplace" for name in (self.fb_norm_name, self.sb_norm_name)
        )

    # --- the core: magnitude -> compressed cIRM ------------------------------------------------------------
    def mask_from_magnitude(self, noisy_mag: torch.Tensor, drop_band_groups: int = 1) -> torch.Tensor:
        """``noisy_mag[B, 1, F, frames] -> compressed cIRM [B, 2, F', frames]``.

        ``F' = F`` unless ``drop_band_groups > 1`` (then the drop-band layout, see ``voipdns.dsp.drop_band``).
        """
        if noisy_mag.dim() != 4 or noisy_mag.shape[1] != 1:
            raise ValueError(f"FullSubNet core expects a magnitude [B, 1, F, frames], got {list(noisy_mag.shape)}")
        mag = F.pad(noisy_mag, (0, self.look_ahead_frames))  # future frames become visible to earlier outputs
        batch, _, freqs, frames = mag.shape
        fb_out = self.fb_model(self.fb_norm(mag).reshape(batch, freqs, frames)).reshape(batch, 1, freqs, frames)
        sb_input = torch.cat(
            [unfold_neighbours(mag, self.sb_num_neighbors), unfold_neighbours(fb_out, self.fb_num_neighbors)],
            dim=2,
        )
        sb_input = self.sb_norm(sb_input)  # [B, F, features, frames]: "channels" are the frequencies
        if drop_band_groups > 1:
            sb_input = drop_band(sb_input.transpose(1, 2), drop_band_groups).transpose(1, 2)
            freqs = sb_input.shape[1]
        features = sb_input.shape[2]
        mask = self.sb_model(sb_input.reshape(batch * freqs, features, frames))
        mask = mask.reshape(batch, freqs, 2, frames).transpose(1, 2)
        return mask[..., self.look_ahead_frames :].contiguous()

    # --- STFT wrappers -------------------------------------------------------------------------------------
    def valid_length(self, length: int) -> int:
        return max(int(length), self.stft.n_fft // 2 + 1)  # reflect padding needs more than half a window

    def analysis(self, noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``noisy[B, 1, T]`` -> (complex spectrum ``[B, F, frames]``, magnitude ``[B, 1, F, frames]``)."""
        spec = self.stft.analysis(noisy)
        return spec, spec.abs().unsqueeze(1)

    def synthesis(self, spec: torch.Tensor, compressed_mask: torch.Tensor, length: int) -> torch.Tensor:
        mask = decompress_cirm(compressed_mask, k=self.cirm_k, limit=self.mask_limit)
        return self.stft.synthesis(apply_complex_mask(spec, mask), length)

    def _pad(self, noisy: torch.Tensor) -> torch.Tensor:
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"FullSubNet expects noisy [B, 1, T], got {list(noisy.shape)}")
        return F.pad(noisy, (0, self.valid_length(noisy.shape[-1]) - noisy.shape[-1]))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        length = noisy.shape[-1]
        spec, mag = self.analysis(self._pad(noisy))
        estimate = self.synthesis(spec, self.mask_from_magnitude(mag), self.valid_length(length))
        return estimate[..., :length]

    def drop_band_active(self, batch_size: int) -> bool:
        return self.training and self.use_drop_band and 1 < self.drop_band_groups < batch_size

    def training_outputs(self, batch: dict) -> dict:
        """``cirm``: predicted compressed cIRM; ``cirm_drop_band_groups``: the layout the target must follow.

        ``estimate`` is included unless drop-band is active (then only part of the bands exists).
        """
        noisy = batch["noisy"]
        length = noisy.shape[-1]
        spec, mag = self.analysis(self._pad(noisy))
        groups = self.drop_band_groups if self.drop_band_active(noisy.shape[0]) else 1
        cirm = self.mask_from_magnitude(mag, drop_band_groups=groups)
        outputs = {
            "cirm": cirm,
            "cirm_drop_band_groups": groups,
            "cirm_padded_samples": self.valid_length(length),
        }
        if groups == 1:
            outputs["estimate"] = self.synthesis(spec, cirm, self.valid_length(length))[..., :length]
        return outputs
