"""An interpretable DSP noise reducer whose knobs a small network turns (the seed paper's "Tape It" approach).

Processor (``voipdns.dsp``): STFT -> ERB band levels (layout from the sample rate) -> minimum-statistics noise
floor per band -> soft gate per band (``threshold_db`` above the floor, ``reduction_db`` depth) -> attack /
release smoothing of the gains (``attack_ms``, ``release_ms``) -> band gains spread to bins -> iSTFT.
Controller: Conv1d + GRU over the log band levels and the floor, pooled over time (running mean: causal; or
whole clip), then one linear head per knob mapped into its range. Knobs can be fixed by hand:
``net(noisy, overrides={"reduction_db": 12})`` or ``net.overrides = {...}`` (also a constructor argument).
``training_outputs`` returns the knobs used, for inspection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.dsp.erb_bands import band_power, bands_to_bins, erb_filterbank
from voipdns.dsp.noise_floor import minimum_statistics_floor_db
from voipdns.dsp.one_pole import attack_release_smooth, time_constant_coefficient
from voipdns.dsp.spectral_gate import db_to_amplitude, gate_gain_db, power_to_db
from voipdns.dsp.stft import Stft
from voipdns.models.base import EnhancementNet
from voipdns.rates import DEFAULT_SAMPLE_RATE

KNOBS = ("threshold_db", "reduction_db", "attack_ms", "release_ms")
#: Knobs whose range is mapped on a log scale (time constants span decades).
LOG_KNOBS = frozenset({"attack_ms", "release_ms"})
POOLINGS = ("causal", "clip")


def knob_values(value: Any) -> torch.Tensor:
    """An override (number, list, tuple, tensor or OmegaConf list) as a flat float tensor."""
    if not torch.is_tensor(value) and isinstance(value, Iterable):
        value = [float(v) for v in value]
    return torch.as_tensor(value, dtype=torch.float32).reshape(-1)


class KnobController(nn.Module):
    """``features[B, 2 * bands, frames] -> {knob: [B, bands or 1, frames or 1]}`` within the given ranges."""

    def __init__(self, num_bands: int, hidden: int, ranges: Mapping[str, Sequence[float]], pooling: str):
        super().__init__()
        self.num_bands, self.pooling = num_bands, pooling
        self.ranges = {name: (float(ranges[name][0]), float(ranges[name][1])) for name in KNOBS}
        self.conv = nn.Conv1d(2 * num_bands, hidden, kernel_size=3)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, self.knob_width(name)) for name in KNOBS})

    def knob_width(self, name: str) -> int:
        return self.num_bands if name == "threshold_db" else 1

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[B, frames, H]`` -> running mean over frames (causal) or the clip mean ``[B, 1, H]``."""
        if self.pooling == "clip":
            return hidden.mean(dim=1, keepdim=True)
        count = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype)
        return hidden.cumsum(dim=1) / count[:, None]

    def scale(self, name: str, raw: torch.Tensor) -> torch.Tensor:
        low, high = self.ranges[name]
        unit = torch.sigmoid(raw)
        if name in LOG_KNOBS:
            return torch.exp(math.log(low) + unit * (math.log(high) - math.log(low)))
        return low + unit * (high - low)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = F.relu(self.conv(F.pad(features, (2, 0), mode="replicate")))  # causal 3-frame context
        hidden, _ = self.gru(hidden.transpose(1, 2))
        pooled = self.pool(hidden)
        return {name: self.scale(name, head(pooled)).transpose(1, 2) for name, head in self.heads.items()}


class DspDenoiser(EnhancementNet):
    """Neural-controlled spectral gate; ``forward(noisy[B, 1, T], overrides=None) -> estimate[B, 1, T]``.

    Args:
        sample_rate: Hz (16000 or 48000; any rate works, the bands follow it).
        window_ms, hop_ms: STFT window and hop (32 / 8 ms).
        num_bands, min_hz: ERB bands from ``min_hz`` to Nyquist (32 bands from 50 Hz).
        floor_window_ms, floor_smooth_ms: minimum-statistics window and level smoothing (1000 / 40 ms).
        knee_db: width of the gate's soft knee.
        hidden: controller width; pooling: ``causal`` (running mean, streamable) or ``clip``.
        threshold_db_range, reduction_db_range, attack_ms_range, release_ms_range: ``[low, high]`` of each
            knob the controller can choose (time constants on a log scale).
        overrides: knob values used instead of the controller's (``threshold_db`` may be one value per band).
    """

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        window_ms: float = 32.0,
        hop_ms: float = 8.0,
        num_bands: int = 32,
        min_hz: float = 50.0,
        floor_window_ms: float = 1000.0,
        floor_smooth_ms: float = 40.0,
        knee_db: float = 3.0,
        hidden: int = 64,
        pooling: str = "causal",
        threshold_db_range: Sequence[float] = (0.0, 24.0),
        reduction_db_range: Sequence[float] = (0.0, 40.0),
        attack_ms_range: Sequence[float] = (1.0, 50.0),
        release_ms_range: Sequence[float] = (10.0, 500.0),
        overrides: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"DspDenoiser: pooling must be one of {POOLINGS}, got {pooling!r}")
        ranges = dict(
            zip(
                KNOBS,
                (threshold_db_range, reduction_db_range, attack_ms_range, release_ms_range),
                strict=True,
            )
        )
        for name, (low, high) in ranges.items():
            if not low < high or (name in LOG_KNOBS and low <= 0) or (name == "reduction_db" and low < 0):
                raise ValueError(f"DspDenoiser: {name}_range [{low}, {high}] must be increasing (and > 0 for times)")
        self.sample_rate = int(sample_rate)
        win_samples = round(sample_rate * window_ms / 1000)
        self.stft = Stft(win_samples, round(sample_rate * hop_ms / 1000), win_samples)
        self.hop_ms = 1000 * self.stft.hop_samples / self.sample_rate
        self.register_buffer(
            "band_weights", erb_filterbank(sample_rate, win_samples, num_bands, min_hz), persistent=False
        )
        self.num_bands = int(num_bands)
        self.floor_window_frames = max(1, round(floor_window_ms / self.hop_ms))
        self.floor_smooth_frames = max(1, round(floor_smooth_ms / self.hop_ms))
        self.knee_db = float(knee_db)
        self.controller = KnobController(num_bands, hidden, ranges, pooling)
        self.overrides = {str(name): value for name, value in (overrides or {}).items()}
        self.check_overrides(self.overrides)
        self.causal = pooling == "causal"
        self.latency_samples = win_samples  # every stage is causal at frame level; clip pooling is offline

    # --- knobs ---------------------------------------------------------------------------------------------
    def check_overrides(self, overrides: Mapping[str, Any]) -> None:
        unknown = sorted(set(overrides) - set(KNOBS))
        if unknown:
            raise ValueError(f"DspDenoiser: unknown knobs {unknown}; knobs are {list(KNOBS)}")
        for name, value in overrides.items():
            values = knob_values(value)
            if values.numel() not in (1, self.controller.knob_width(name)):
                raise ValueError(
                    f"DspDenoiser: override {name} needs 1 or {self.controller.knob_width(name)} values, "
                    f"got {values.numel()}"
                )
            if name == "reduction_db" and bool((values < 0).any()):
                raise ValueError(f"DspDenoiser: reduction_db must be >= 0 dB, got {value}")
            if name in LOG_KNOBS and bool((values <= 0).any()):
                raise ValueError(f"DspDenoiser: {name} must be > 0 ms, got {value}")

    def knobs(self, level_db: torch.Tensor, floor_db: torch.Tensor, overrides: Mapping[str, Any]) -> dict:
        """Predicted knobs with ``overrides`` substituted; each ``[B, bands or 1, frames or 1]``."""
        features = torch.cat([level_db / 20, (level_db - floor_db) / 10], dim=1)
        knobs = self.controller(features)
        batch = level_db.shape[0]
        for name, value in overrides.items():
            fixed = knob_values(value).to(level_db).reshape(1, -1, 1)
            knobs[name] = fixed.expand(batch, self.controller.knob_width(name), 1)
        return knobs

    # --- processing ----------------------------------------------------------------------------------------
    def band_levels(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(level_db, floor_db), each ``[B, bands, frames]``."""
        level_db = power_to_db(band_power(spec.real.square() + spec.imag.square(), self.band_weights))
        return level_db, minimum_statistics_floor_db(level_db, self.floor_smooth_frames, self.floor_window_frames)

    def band_gains_db(self, level_db: torch.Tensor, floor_db: torch.Tensor, knobs: dict) -> torch.Tensor:
        raw_db = gate_gain_db(level_db, floor_db, knobs["threshold_db"], knobs["reduction_db"], self.knee_db)
        attack = time_constant_coefficient(knobs["attack_ms"], self.hop_ms)
        release = time_constant_coefficient(knobs["release_ms"], self.hop_ms)
        return attack_release_smooth(raw_db, attack, release)

    def valid_length(self, length: int) -> int:
        return max(int(length), self.stft.n_fft // 2 + 1)  # reflect padding needs more than half a window

    def process(self, noisy: torch.Tensor, overrides: Mapping[str, Any] | None = None) -> dict:
        """Enhance and return ``estimate``, ``knobs`` and ``band_gains_db`` ``[B, bands, frames]``."""
        if noisy.dim() != 3 or noisy.shape[1] != 1:
            raise ValueError(f"DspDenoiser expects noisy [B, 1, T], got {list(noisy.shape)}")
        merged = {**self.overrides, **dict(overrides or {})}
        self.check_overrides(merged)
        length = noisy.shape[-1]
        padded = self.valid_length(length)
        spec = self.stft.analysis(F.pad(noisy, (0, padded - length)))
        level_db, floor_db = self.band_levels(spec)
        knobs = self.knobs(level_db, floor_db, merged)
        gains_db = self.band_gains_db(level_db, floor_db, knobs)
        bin_gains = bands_to_bins(db_to_amplitude(gains_db), self.band_weights)
        estimate = self.stft.synthesis(spec * bin_gains, padded)[..., :length]
        return {"estimate": estimate, "knobs": knobs, "band_gains_db": gains_db, "noise_floor_db": floor_db}

    def forward(self, noisy: torch.Tensor, overrides: Mapping[str, Any] | None = None) -> torch.Tensor:
        return self.process(noisy, overrides)["estimate"]

    def training_outputs(self, batch: dict) -> dict:
        return self.process(batch["noisy"])
