"""The composed VoIP channel simulator and its presets for the eight VoIP-DNS conditions.

A `ChannelSimulator` runs stages in order, each ``(wav, sample_rate, rng) -> wav`` of the same length and
sample-aligned with its input, each with its own random stream derived from one seed (same seed, same
output). Stages are objects or dicts with a ``type`` key: ``denoiser`` (`PlatformDenoiser`), ``agc``
(`AutomaticGainControl`), ``link`` (`CodecLink`: codec + packet loss + jitter), ``phone`` (`PhonePath`).

Presets follow a call's signal path: the sender's platform noise suppression (setting low/auto) -> the
client's AGC -> the platform's Opus link over the internet (bursty loss, jitter) -> for ``phone``, the
gateway's telephone leg (8 kHz, 300-3400 Hz, G.711 then a mobile AMR-NB hop). The numbers below are
plausible settings for each platform, not measurements of Zoom or Google Meet: Meet is modelled with a
higher Opus bitrate and a milder gate, Zoom with a lower bitrate, more loss and a more aggressive gate.
Opus runs at encoder complexity 1 (of 10): about 1.5x faster than 3 for training-time augmentation, at a
small cost in coding quality (set ``{"link": {"codec": {"complexity": 10}}}`` for the libopus default).
Tune a preset with `overrides` (``{"link": {"codec": {"bitrate_bps": 16000}}}``) or replace `stages`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from voipdns.arrays import to_mono_numpy
from voipdns.conditions import parse_condition
from voipdns.config import to_plain
from voipdns.rates import DEFAULT_SAMPLE_RATE
from voipdns.voip.agc import AutomaticGainControl
from voipdns.voip.link import CodecLink
from voipdns.voip.phone import PhonePath
from voipdns.voip.platform_denoiser import DENOISER_PRESETS, PlatformDenoiser

if TYPE_CHECKING:  # torch only for type hints: scoring workers never import it
    import torch

Stage = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
STAGE_TYPES: dict[str, Callable[..., Stage]] = {
    "denoiser": PlatformDenoiser,
    "agc": AutomaticGainControl,
    "link": CodecLink,
    "phone": PhonePath,
}

PLATFORM_PRESETS: dict[str, dict[str, Any]] = {
    "gm": {
        "denoiser": {"low": {}, "auto": {}},
        "agc": {"target_dbfs": -23.0, "release_ms": 2000.0},
        "link": {
            "codec": {
                "name": "opus",
                "bitrate_bps": 32000,
                "frame_ms": 20.0,
                "fec": True,
                "expected_loss_percent": 5,
                "complexity": 1,
            },
            "loss": {"p": 0.008, "r": 0.5},
            "jitter": {"buffer_ms": 80.0, "jitter_std_ms": 10.0},
        },
        "phone": [
            {"codec": {"name": "g711_mulaw"}, "loss": {"p": 0.002, "r": 0.6}},
            {"codec": {"name": "amr_nb", "bitrate_bps": 12200}, "loss": {"p": 0.005, "r": 0.5}},
        ],
    },
    "zm": {
        "denoiser": {
            "low": {"gain_floor_db": -8.0},
            "auto": {
                "over_subtraction": 1.3,
                "gain_floor_db": -22.0,
                "gate_threshold_db": 4.0,
                "gate_floor_db": -18.0,
                "gate_hold_ms": 200.0,
            },
        },
        "agc": {"target_dbfs": -20.0, "release_ms": 800.0},
        "link": {
            "codec": {
                "name": "opus",
                "bitrate_bps": 20000,
                "frame_ms": 20.0,
                "fec": True,
                "expected_loss_percent": 10,
                "complexity": 1,
            },
            "loss": {"p": 0.015, "r": 0.4},
            "jitter": {"buffer_ms": 60.0, "jitter_std_ms": 15.0},
        },
        "phone": [
            {"codec": {"name": "g711_mulaw"}, "loss": {"p": 0.002, "r": 0.6}},
            {"codec": {"name": "amr_nb", "bitrate_bps": 7950}, "loss": {"p": 0.008, "r": 0.5}},
        ],
    },
}


def preset_stages(condition: str) -> list[dict[str, Any]]:
    """The stage dicts of a condition's preset (fresh copies, safe to modify)."""
    platform, receiver, setting = parse_condition(condition)
    params = PLATFORM_PRESETS[platform]
    stages: list[dict[str, Any]] = [
        {"type": "denoiser", **DENOISER_PRESETS[setting], **params["denoiser"][setting]},
        {"type": "agc", **params["agc"]},
        {"type": "link", **params["link"]},
    ]
    if receiver == "phone":
        stages.append({"type": "phone", "links": params["phone"]})
    return copy.deepcopy(stages)


def _deep_merge(base: dict, override: Mapping) -> dict:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def build_stage(spec: Any) -> Stage:
    if not isinstance(spec, Mapping):
        if not callable(spec):
            raise TypeError(f"a channel stage must be callable or a dict with a 'type' key, got {spec!r}")
        return spec
    params = dict(spec)
    kind = params.pop("type", None)
    if kind not in STAGE_TYPES:
        raise ValueError(f"channel stage {spec} needs 'type' in {sorted(STAGE_TYPES)}, got {kind!r}")
    return STAGE_TYPES[kind](**params)


@dataclass
class ChannelSimulator:
    stages: Sequence[Any] = field(default_factory=list)
    sample_rate: int = DEFAULT_SAMPLE_RATE
    condition: str | None = None

    def __post_init__(self) -> None:
        self.stages = [build_stage(to_plain(stage)) for stage in self.stages]

    def process(self, wav: np.ndarray | torch.Tensor, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Run every stage; returns (output like `wav` as float32 numpy [T], per-stage statistics)."""
        signal = to_mono_numpy(wav, "ChannelSimulator", np.float32)
        length = len(signal)
        stats: dict[str, Any] = {}
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(len(self.stages))]
        for stage, rng in zip(self.stages, rngs, strict=True):
            signal = stage(signal, self.sample_rate, rng)
            if len(signal) != length:
                raise RuntimeError(
                    f"channel stage {type(stage).__name__} changed the length {length} -> "
                    f"{len(signal)}; stages must keep length and alignment"
                )
            stats.update(getattr(stage, "last_stats", {}) or {})
        return signal.astype(np.float32), stats

    def __call__(self, wav: np.ndarray | torch.Tensor, seed: int) -> np.ndarray:
        return self.process(wav, seed)[0]

    def describe(self) -> dict[str, Any]:
        """Flat parameters of every stage (for the manifest)."""
        out: dict[str, Any] = {"condition": self.condition}
        for stage in self.stages:
            describe = getattr(stage, "describe", None)
            if describe is not None:
                out.update(describe())
        return out


def make_preset(
    condition: str, overrides: Mapping | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE
) -> ChannelSimulator:
    """The simulator of a VoIP-DNS condition, e.g. ``make_preset("zm_phone_auto")``. `overrides` maps a stage
    type to the parameters to change, e.g.
    ``{"link": {"loss": {"p": 0.05}}, "denoiser": {"gain_floor_db": -20}}``."""
    stages = preset_stages(condition)
    for kind, params in (to_plain(overrides) or {}).items():
        matching = [stage for stage in stages if stage["type"] == kind]
        if not matching:
            raise ValueError(
                f"override for stage {kind!r}, but preset {condition} has stages {[s['type'] for s in stages]}"
            )
        _deep_merge(matching[0], params)
    return ChannelSimulator(stages=stages, sample_rate=sample_rate, condition=condition)
