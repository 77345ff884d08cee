"""Room impulse responses for reverberant training mixtures: a folder of measured RIRs or simulated rooms.

- `rir_dir`: every audio file under it (e.g. DNS `datasets/impulse_responses`, or DNS-4
  `datasets_fullband/impulse_responses`); multichannel RIRs give one channel drawn per item.
- `simulate=True`: shoebox rooms by the image method (pyroomacoustics, `voipdns.dsp.room_impulse.shoebox_rir`)
  with RT60 uniform in `rt60_range_seconds`. Simulation costs tens of ms per room, so each process
  simulates a pool of `num_simulated_rooms` rooms once (seeded) and draws from it.
Every RIR is shifted so its direct path (the peak) is at sample 0 and scaled to unit peak: reverberant speech
stays aligned with the dry and the early-reverberation targets.

Targets (`apply_reverb`): ``reverberant`` (the DNS-2020 default: the model keeps the room), ``dry`` (the
source before the room) or ``early`` (direct path + the first `early_ms` of reflections, DNS-4 style).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import AUDIO_EXTENSIONS, list_audio_files, load_audio
from voipdns.data.mixing import as_range
from voipdns.dsp.room_impulse import reverberate, shoebox_rir, synthetic_rir
from voipdns.rates import DEFAULT_SAMPLE_RATE

REVERB_TARGETS = ("reverberant", "dry", "early")
SIMULATION_METHODS = {"pyroomacoustics": shoebox_rir, "synthetic": synthetic_rir}


def align_direct_path(rir: torch.Tensor) -> torch.Tensor:
    """1-D RIR with the samples before its peak removed and unit peak."""
    rir = rir.reshape(-1)
    peak = int(rir.abs().argmax())
    rir = rir[peak:]
    return rir / rir.abs().max().clamp(min=1e-12)


class RIRSource:
    def __init__(
        self,
        rir_dir: str | os.PathLike | None = None,
        simulate: bool = False,
        rt60_range_seconds: Sequence[float] = (0.2, 1.0),
        num_simulated_rooms: int = 64,
        method: str = "pyroomacoustics",
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        seed: int = 0,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
    ) -> None:
        if (rir_dir is None) == (not simulate):
            raise ValueError("RIRSource: give either rir_dir (measured RIRs) or simulate=True, not both/neither")
        if method not in SIMULATION_METHODS:
            raise ValueError(f"RIRSource: method must be one of {sorted(SIMULATION_METHODS)}, got {method!r}")
        self.rir_dir = None if rir_dir is None else Path(rir_dir)
        self.files = [] if self.rir_dir is None else list_audio_files(self.rir_dir, extensions)
        self.rt60_range_seconds = as_range(rt60_range_seconds, "rt60_range_seconds")
        self.num_simulated_rooms = int(num_simulated_rooms)
        self.method = method
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self._pool: list[torch.Tensor] = []
        self._loaded: dict[Path, torch.Tensor] = {}

    def _simulated_pool(self) -> list[torch.Tensor]:
        if not self._pool:
            generator = torch.Generator().manual_seed(self.seed)
            low, high = self.rt60_range_seconds
            for _ in range(self.num_simulated_rooms):
                rt60 = low + (high - low) * float(torch.rand((), generator=generator))
                rir = SIMULATION_METHODS[self.method](rt60, self.sample_rate, generator)
                self._pool.append(align_direct_path(rir))
        return self._pool

    def _from_file(self, path: Path, rng: np.random.Generator) -> torch.Tensor:
        if path not in self._loaded:
            self._loaded[path] = load_audio(path, self.sample_rate, mono=False)  # [channels, T]
        channels = self._loaded[path]
        return align_direct_path(channels[int(rng.integers(channels.shape[0]))])

    def draw(self, rng: np.random.Generator) -> torch.Tensor:
        """One RIR (1-D, direct path at sample 0, unit peak)."""
        if self.files:
            return self._from_file(self.files[int(rng.integers(len(self.files)))], rng)
        pool = self._simulated_pool()
        return pool[int(rng.integers(len(pool)))]

    def __repr__(self) -> str:
        source = (
            f"rir_dir={self.rir_dir} ({len(self.files)} files)"
            if self.files
            else (f"simulated {self.method} rooms x{self.num_simulated_rooms}, RT60 {self.rt60_range_seconds} s")
        )
        return f"RIRSource({source})"


def apply_reverb(
    clean: torch.Tensor,
    rir: torch.Tensor,
    target: str = "reverberant",
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    early_ms: float = 50.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reverberant speech, training target) for `clean[1, T]`; see the module doc for `target`."""
    if target not in REVERB_TARGETS:
        raise ValueError(f"reverb target must be one of {REVERB_TARGETS}, got {target!r}")
    reverberant = reverberate(clean, rir)
    if target == "reverberant":
        return reverberant, reverberant
    if target == "dry":
        return reverberant, clean
    early = rir[: max(1, int(round(early_ms / 1000 * sample_rate)))]
    return reverberant, reverberate(clean, early)
