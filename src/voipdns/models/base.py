"""The small base class every enhancement net shares (no parameters, so state_dict keys stay official)."""

from __future__ import annotations

from torch import nn

from voipdns.enhance_arrays import enhance_audio
from voipdns.rates import DEFAULT_SAMPLE_RATE


class EnhancementNet(nn.Module):
    """A waveform-in, waveform-out enhancer.

    Subclasses implement ``forward(noisy[B, 1, T]) -> estimate[B, 1, T]`` (same length) and override
    ``training_outputs`` when their loss needs more than the waveform (masks, gains, VAD logits).
    """

    sample_rate: int = DEFAULT_SAMPLE_RATE
    #: Samples of future input the net needs before it can emit a sample (0 for offline nets' streaming use).
    latency_samples: int = 0
    #: True when no output sample depends on input more than ``latency_samples`` later (streamable in principle;
    #: whether voipdns has a streamer for it is the table ``voipdns.streaming.factory.STREAMERS``).
    causal: bool = False

    def valid_length(self, length: int) -> int:
        """Smallest input length >= ``length`` the net handles without internal padding."""
        return length

    def training_outputs(self, batch: dict) -> dict:
        return {"estimate": self(batch["noisy"])}

    def enhance(self, audio, sample_rate: int | None = None):
        """Inference on numpy or torch audio shaped ``[T]``, ``[C, T]`` or ``[B, 1, T]`` at ``sample_rate`` (None:
        the net's rate; others are resampled in and back out); returns the same type, shape and rate."""
        return enhance_audio(self, audio, sample_rate)
