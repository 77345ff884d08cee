"""A baseline as a voipdns net: ``forward(noisy[B, 1, T]) -> enhanced[B, 1, T]`` at 16 kHz, aligned with its input.

Each clip is resampled to the engine's rate and back with the project's one resampler (soxr HQ, linear phase,
delay-compensated: ``voipdns.audio.resample``), and the engine's measured delay is removed, so STOI and SI-SDR
compare the output with the clean reference sample for sample. Being an ``EnhancementNet`` gives the baselines
everything a net has for inference: ``voipdns-eval``, ``voipdns-enhance``, ``net.enhance(audio, rate)``.
They have no streamer or export graph (their engines are native code, not torch).
"""

from __future__ import annotations

import numpy as np
import torch

from voipdns.audio import resample
from voipdns.baselines.frames import enhance_clip
from voipdns.baselines.spec import BaselineSpec
from voipdns.models.base import EnhancementNet

DEFAULT_SAMPLE_RATE = 16000


class BaselineNet(EnhancementNet):
    causal = True  # the engines are real-time; their look-ahead is ``latency_samples``

    def __init__(self, spec: BaselineSpec, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
        super().__init__()
        self.spec = spec
        self.sample_rate = sample_rate
        self.latency_samples = round(spec.delay_samples * sample_rate / spec.sample_rate)
        spec.open_engine().close()  # a missing extra fails here, at load time, not at the first clip

    def enhance_numpy(self, clip: np.ndarray) -> np.ndarray:
        """One mono float32 clip [T] at ``sample_rate`` -> enhanced [T], same rate, aligned."""
        native = resample(clip.astype(np.float32, copy=False), self.sample_rate, self.spec.sample_rate)
        enhanced = enhance_clip(self.spec.open_engine, native.astype(np.float32, copy=False), self.spec.delay_samples)
        out = resample(enhanced, self.spec.sample_rate, self.sample_rate)
        fitted = np.zeros(len(clip), dtype=np.float32)  # a resampling round trip can be a sample short
        fitted[: min(len(out), len(clip))] = out[: len(clip)]
        return fitted

    @torch.no_grad()
    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        rows = noisy.detach().to("cpu", torch.float32).reshape(noisy.shape[0], -1).numpy()
        enhanced = np.stack([self.enhance_numpy(row) for row in rows])
        return torch.from_numpy(enhanced).view_as(noisy).to(device=noisy.device, dtype=noisy.dtype)

    def extra_repr(self) -> str:
        return f"{self.spec.name}: {self.spec.description}; delay {self.spec.delay_samples} samples compensated"
