"""GTCRN (Rong et al., ICASSP 2024): a 48 k-parameter causal complex-ratio-mask net, 33 MMAC per second.

Written from the published architecture with the official state_dict layout, so the released DNS3 and
VCTK-DEMAND checkpoints load strictly (``voipdns.checkpoint_formats.gtcrn``). ``spectral_forward`` maps a
spectrum ``[B, 257, frames, 2]`` (real, imag) to the enhanced spectrum, as the official module does; the STFT
(n_fft 512, hop 256, sqrt-Hann) wraps it in ``forward`` and stays outside an exported graph. ``step`` runs one
frame with carried state: the streamer and the offline pass share every line of arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

from voipdns.dsp.stft import Stft
from voipdns.layers.gtcrn_blocks import DPGRNN, ERB, ConvBlock, GTConvBlock, subband_features
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE

#: Time dilations of the encoder's grouped temporal conv blocks (the decoder mirrors them).
DILATIONS = (1, 2, 5)


class Encoder(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.en_convs = nn.ModuleList(
            [
                ConvBlock(9, channels, (1, 5), stride=(1, 2), padding=(0, 2)),
                ConvBlock(channels, channels, (1, 5), stride=(1, 2), padding=(0, 2), groups=2),
                *(GTConvBlock(channels, channels, dilation) for dilation in DILATIONS),
            ]
        )


class Decoder(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.de_convs = nn.ModuleList(
            [
                *(GTConvBlock(channels, channels, dilation, transposed=True) for dilation in reversed(DILATIONS)),
                ConvBlock(channels, channels, (1, 5), (1, 2), (0, 2), groups=2, transposed=True),
                ConvBlock(channels, 2, (1, 5), (1, 2), (0, 2), transposed=True, last=True),
            ]
        )


class GTCRN(EnhancementNet):
    """GTCRN; ``forward(noisy[B, 1, T]) -> estimate[B, 1, T]``.

    Args:
        sample_rate: Hz (the released models: 16000).
        n_fft, hop_samples: STFT sizes in samples (512 / 256; sqrt-Hann window of n_fft samples).
        channels: conv channels (16); the dual-path RNN width follows from the ERB layout (33 bands).
        low_bins, erb_bands: bins kept as they are (65) and ERB bands above them (64).
    """

    causal = True  # in frames: only past frames reach an output (streamed by voipdns.streaming.gtcrn)

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_fft: int = 512,
        hop_samples: int = 256,
        channels: int = 16,
        low_bins: int = 65,
        erb_bands: int = 64,
    ):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.stft = Stft(n_fft, hop_samples, n_fft, window="sqrt_hann")
        self.erb = ERB(low_bins, erb_bands, n_fft, self.sample_rate)
        self.encoder = Encoder(channels)
        width = ((low_bins + erb_bands + 1) // 2 + 1) // 2  # two stride-2 convs along the bands: 129 -> 65 -> 33
        self.dpgrnn1 = DPGRNN(channels, width, channels)
        self.dpgrnn2 = DPGRNN(channels, width, channels)
        self.decoder = Decoder(channels)
        self.latency_samples = n_fft  # one window: causal in frames

    # --- the core: spectrum -> enhanced spectrum ------------------------------------------------------------
    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        """Zero history of every block that looks back in time (the official offline padding)."""
        gtconvs = [
            block for block in (*self.encoder.en_convs, *self.decoder.de_convs) if isinstance(block, GTConvBlock)
        ]
        bands = self.dpgrnn1.width
        state = [tensor for block in gtconvs for tensor in block.initial_state(batch, bands)]
        return state + [self.dpgrnn1.initial_state(batch), self.dpgrnn2.initial_state(batch)]

    def step(self, spec: torch.Tensor, state: list[torch.Tensor] | None = None):
        """``spec[B, F, frames, 2]`` + state -> (enhanced ``[B, F, frames, 2]``, next state)."""
        state = list(state) if state is not None else self.initial_state(spec.shape[0])
        state = [tensor.to(spec) for tensor in state]
        real, imag = spec[..., 0].transpose(1, 2), spec[..., 1].transpose(1, 2)  # [B, T, F]
        magnitude = torch.sqrt(real**2 + imag**2 + 1e-12)
        feat = subband_features(self.erb.bm(torch.stack([magnitude, real, imag], dim=1)))  # [B, 9, T, 129]
        next_state, skips = [], []
        for block in self.encoder.en_convs:
            feat = self._run(block, feat, state, next_state)
            skips.append(feat)
        feat, rnn_state = self.dpgrnn1(feat, state[-2])
        feat, rnn_state2 = self.dpgrnn2(feat, state[-1])
        for block, skip in zip(self.decoder.de_convs, reversed(skips), strict=True):
            feat = self._run(block, feat + skip, state, next_state)
        mask = self.erb.bs(feat)  # [B, 2, T, F]
        noisy_real, noisy_imag = real.unsqueeze(1), imag.unsqueeze(1)
        out_real = noisy_real * mask[:, :1] - noisy_imag * mask[:, 1:]
        out_imag = noisy_imag * mask[:, :1] + noisy_real * mask[:, 1:]
        enhanced = torch.cat([out_real, out_imag], dim=1).permute(0, 3, 2, 1)  # [B, F, T, 2]
        return enhanced, next_state + [rnn_state, rnn_state2]

    @staticmethod
    def _run(block: nn.Module, feat: torch.Tensor, state: list, next_state: list) -> torch.Tensor:
        if not isinstance(block, GTConvBlock):  # frequency-only convs: no history
            return block(feat)
        index = len(next_state)
        feat, (history, tra_state) = block(feat, (state[index], state[index + 1]))
        next_state.extend([history, tra_state])
        return feat

    def spectral_forward(self, spec: torch.Tensor) -> torch.Tensor:
        """The official module's call: ``[B, F, frames, 2] -> [B, F, frames, 2]`` from zero history."""
        return self.step(spec)[0]

    # --- STFT wrappers -------------------------------------------------------------------------------------
    def valid_length(self, length: int) -> int:
        return max(int(length), self.stft.n_fft // 2 + 1)  # reflect padding needs more than half a window

    def analysis(self, noisy: torch.Tensor) -> torch.Tensor:
        """``noisy[B, 1, T]`` -> ``[B, F, frames, 2]``."""
        return torch.view_as_real(self.stft.analysis(noisy))

    def synthesis(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return self.stft.synthesis(torch.view_as_complex(spec.contiguous()), length)

    def _enhance(self, noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``noisy[B, 1, T]`` -> (estimate ``[B, 1, T]``, enhanced spectrum ``[B, F, frames, 2]``)."""
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"GTCRN expects noisy [B, 1, T], got {list(noisy.shape)}")
        length = noisy.shape[-1]
        padded = nn.functional.pad(noisy, (0, self.valid_length(length) - length))
        spectrum = self.spectral_forward(self.analysis(padded))
        return self.synthesis(spectrum, padded.shape[-1])[..., :length], spectrum

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self._enhance(noisy)[0]

    def training_outputs(self, batch: dict) -> dict:
        """``estimate`` plus the spectra the hybrid loss compares (``spectrum``: enhanced, ``[B, F, T, 2]``)."""
        estimate, spectrum = self._enhance(batch["noisy"])
        return {"estimate": estimate, "spectrum": spectrum}
