"""PercepNet signal path: analysis (ERB band energies, pitch, pitch coherence), targets and synthesis.

No learnable parameters; the band matrix and window are non-persistent buffers so the net's state_dict holds
only its weights. Frames are 10 ms hops of a 20 ms power-complementary window (see ``dsp.percepnet_frames``).
Features per frame: ``log10(1e-6 + E_b)`` for every band, pitch coherence per band, pitch period (in units of
10 ms) and pitch correlation: ``2 (n_bands + 2) + 2`` values (70 for 32 bands).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from voipdns.dsp.comb_filter import band_coherence, band_energy, comb_filter_frames
from voipdns.dsp.envelope_postfilter import frame_energy_scale, warp_gains
from voipdns.dsp.percepnet_bands import percepnet_filterbank
from voipdns.dsp.percepnet_frames import analysis, num_frames, synthesis, vorbis_window, window_frames
from voipdns.dsp.percepnet_targets import ideal_gains, ideal_strengths
from voipdns.dsp.pitch import estimate_pitch, period_range_samples
from voipdns.rates import DEFAULT_SAMPLE_RATE

EPS = 1e-9
ENERGY_FLOOR = 1e-6


@dataclass
class FrameAnalysis:
    """Everything PercepNet derives from one signal, per frame ``[B, F, ...]``."""

    spectra: torch.Tensor  # complex [B, F, K]
    pitch_spectra: torch.Tensor  # complex [B, F, K], comb-filtered signal
    period_samples: torch.Tensor  # [B, F]
    pitch_correlation: torch.Tensor  # [B, F]
    energy: torch.Tensor  # [B, F, bands]
    coherence: torch.Tensor  # [B, F, bands]


class PercepNetDsp(nn.Module):
    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_bands: int = 32,
        frame_seconds: float = 0.01,
        min_band_hz: float | None = None,
        pitch_min_hz: float = 62.5,
        pitch_max_hz: float = 800.0,
        comb_taps: int = 7,
        postfilter_beta: float = 0.02,
    ):
        super().__init__()
        hop = sample_rate * frame_seconds
        if abs(hop - round(hop)) > 1e-6:
            raise ValueError(f"frame_seconds={frame_seconds} is not a whole number of samples at {sample_rate} Hz")
        self.sample_rate = int(sample_rate)
        self.hop_samples = int(round(hop))
        self.window_samples = 2 * self.hop_samples
        self.pitch_min_hz, self.pitch_max_hz = pitch_min_hz, pitch_max_hz
        _, self.max_period = period_range_samples(sample_rate, pitch_min_hz, pitch_max_hz)
        self.comb_taps = comb_taps
        self.postfilter_beta = postfilter_beta
        filterbank = percepnet_filterbank(sample_rate, self.window_samples, n_bands, min_band_hz)
        self.register_buffer("filterbank", filterbank, persistent=False)
        self.register_buffer("window", vorbis_window(self.window_samples), persistent=False)

    @property
    def n_bands_total(self) -> int:
        return self.filterbank.shape[0]

    @property
    def n_features(self) -> int:
        return 2 * self.n_bands_total + 2

    def num_frames(self, num_samples: int) -> int:
        return num_frames(num_samples, self.hop_samples)

    def analyze(self, wave: torch.Tensor, period_samples: torch.Tensor | None = None) -> FrameAnalysis:
        """``wave[B, T]``; the pitch is estimated from ``wave`` unless ``period_samples[B, F]`` is given."""
        if period_samples is None:
            period_samples, correlation = estimate_pitch(
                wave, self.sample_rate, self.hop_samples, self.pitch_min_hz, self.pitch_max_hz
            )
        else:
            correlation = torch.zeros_like(period_samples)
        spectra = analysis(wave, self.window)
        pitch_frames = comb_filter_frames(wave, period_samples, self.hop_samples, self.max_period, self.comb_taps)
        pitch_spectra = window_frames(pitch_frames, self.window)
        return FrameAnalysis(
            spectra=spectra,
            pitch_spectra=pitch_spectra,
            period_samples=period_samples,
            pitch_correlation=correlation,
            energy=band_energy(spectra, self.filterbank),
            coherence=band_coherence(spectra, pitch_spectra, self.filterbank),
        )

    def features(self, frames: FrameAnalysis) -> torch.Tensor:
        """``[B, F, n_features]`` network input."""
        log_energy = torch.log10(ENERGY_FLOOR + frames.energy)
        period_10ms = (frames.period_samples / self.hop_samples).unsqueeze(-1)
        return torch.cat([log_energy, frames.coherence, period_10ms, frames.pitch_correlation.unsqueeze(-1)], -1)

    @torch.no_grad()
    def targets(self, clean: torch.Tensor, noisy: FrameAnalysis) -> tuple[torch.Tensor, torch.Tensor]:
        """Ideal gains and pitch-filter strengths ``[B, F, bands]``.

        The clean comb filter uses the noisy pitch (the one the filter sees at inference).
        """
        clean_frames = self.analyze(clean, noisy.period_samples)
        gains = ideal_gains(clean_frames.energy, noisy.energy)
        strengths = ideal_strengths(clean_frames.coherence, noisy.coherence)
        return gains, strengths

    def to_bins(self, band_values: torch.Tensor) -> torch.Tensor:
        """Linear interpolation of ``[B, F, bands]`` to ``[B, F, K]`` (triangle weights sum to 1 per bin)."""
        return band_values @ self.filterbank

    def _band_normalizer(self, target_energy: torch.Tensor, spectra: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((target_energy + EPS) / (band_energy(spectra, self.filterbank) + EPS))

    def apply(self, frames: FrameAnalysis, gains: torch.Tensor, strengths: torch.Tensor, postfilter: bool):
        """Enhanced spectra: pitch-filter mix with strength r_b, band energies renormalised, gains g_b."""
        pitch = frames.pitch_spectra * self.to_bins(self._band_normalizer(frames.energy, frames.pitch_spectra))
        r_bins = self.to_bins(strengths)
        mixed = (1.0 - r_bins) * frames.spectra + r_bins * pitch
        normalizer = self._band_normalizer(frames.energy, mixed)
        plain = mixed * self.to_bins(gains * normalizer)
        if not postfilter:
            return plain
        warped = mixed * self.to_bins(warp_gains(gains) * normalizer)
        return warped * frame_energy_scale(plain, warped, self.postfilter_beta)

    def synthesize(self, spectra: torch.Tensor, num_samples: int) -> torch.Tensor:
        return synthesis(spectra, self.window, num_samples)

    def describe(self) -> str:
        ms = 1000.0 * self.hop_samples / self.sample_rate
        return (
            f"{self.n_bands_total} bands, hop {self.hop_samples} samples ({ms:g} ms), "
            f"pitch {self.pitch_min_hz:g}-{self.pitch_max_hz:g} Hz, {self.comb_taps} comb taps"
        )


def period_to_hz(period_samples: torch.Tensor, sample_rate: int) -> torch.Tensor:
    return sample_rate / period_samples.clamp(min=1.0)
