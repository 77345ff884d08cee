"""VAD-weighted loss (Unified PercepNet): emphasise frames where the target speaker talks.

``L = (2 / N) * (mu * sum_{active} l_t + (1 - mu) * sum_{inactive} l_t)`` over the N frames of the batch,
i.e. the plain frame mean with weights ``2 mu`` on speech frames and ``2 (1 - mu)`` elsewhere. The 2/N
normalisation (rather than a mean per group) makes ``mu = 0.5`` exactly the unweighted loss, and a clip with
no speech frames (or only speech frames) needs no special case: no group mean divides by a zero count.

Any base loss that follows the frame-wise protocol (``FrameWiseLoss``) can be wrapped; two are here: a
waveform L1/L2 per frame and an STFT-magnitude distance per frame; ``ReducedFrameLoss`` adapts a loss that
already returns ``[B, frames]`` (the PercepNet gain loss with ``reduction="none"``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from voipdns.losses.waveform import _pair
from voipdns.rates import DEFAULT_SAMPLE_RATE

DISTANCES = ("l1", "l2")


@runtime_checkable
class FrameWiseLoss(Protocol):
    """A loss that reports one value per frame; frame t spans samples [t*hop - c, t*hop - c + frame),
    with c = frame // 2 when ``centered`` (torch.stft framing) else 0."""

    frame_samples: int
    hop_samples: int
    centered: bool

    def frame_losses(self, outputs: dict, batch: dict) -> torch.Tensor:
        """``[B, frames]``; the unweighted loss is their mean."""
        ...


def frame_signal(
    wav: torch.Tensor, frame_samples: int, hop_samples: int, centered: bool, num_frames: int | None = None
) -> torch.Tensor:
    """``[B, 1, T]`` or ``[B, T]`` -> ``[B, frames, frame_samples]``, zero padded.

    Centred: frame // 2 zeros at both ends and ``T // hop + 1`` frames (torch.stft's count). Not centred:
    frames start at 0 and the last one is completed with zeros (``ceil((T - frame) / hop) + 1`` frames).
    ``num_frames`` forces the count (zeros appended or frames dropped at the end) so the frames line up with
    a loss that counts its frames differently.
    """
    if wav.dim() == 3:
        wav = wav[:, 0]
    left = frame_samples // 2 if centered else 0
    length = wav.shape[-1] + left + (frame_samples // 2 if centered else 0)
    if num_frames is None:
        if centered:
            num_frames = (length - frame_samples) // hop_samples + 1
        else:
            num_frames = 1 + max(-(-(length - frame_samples) // hop_samples), 0)  # ceil, at least one frame
    needed = (num_frames - 1) * hop_samples + frame_samples
    wav = F.pad(wav, (left, max(needed - wav.shape[-1] - left, 0)))
    return wav[..., :needed].unfold(-1, frame_samples, hop_samples)


def _distance(diff: torch.Tensor, distance: str) -> torch.Tensor:
    return diff.abs() if distance == "l1" else diff.square()


def _check_distance(distance: str, owner: str) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"{owner}: distance must be one of {DISTANCES}, got {distance!r}")
    return distance


class WaveformFrameLoss(nn.Module):
    """Per-frame mean |estimate - clean| (``l1``) or squared error (``l2``) on non-centred waveform frames."""

    centered = False

    def __init__(
        self,
        distance: str = "l1",
        frame_seconds: float = 0.02,
        hop_seconds: float = 0.01,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
    ):
        super().__init__()
        self.distance = _check_distance(distance, type(self).__name__)
        self.frame_samples = round(frame_seconds * sample_rate)
        self.hop_samples = round(hop_seconds * sample_rate)
        if not 0 < self.hop_samples <= self.frame_samples:
            raise ValueError(f"{type(self).__name__}: need 0 < hop <= frame, got {hop_seconds} s / {frame_seconds} s")

    def frame_losses(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        error = frame_signal(estimate - clean, self.frame_samples, self.hop_samples, self.centered)
        return _distance(error, self.distance).mean(dim=-1)

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        return self.frame_losses(outputs, batch).mean()


class STFTMagnitudeFrameLoss(nn.Module):
    """Per-frame mean over bins of |(|S_est| - |S_clean|)| (``l1``) or its square (``l2``), Hann window."""

    centered = True

    def __init__(self, distance: str = "l1", fft_size: int = 512, hop_samples: int = 160, win_samples: int = 320):
        super().__init__()
        self.distance = _check_distance(distance, type(self).__name__)
        if win_samples > fft_size:
            raise ValueError(f"{type(self).__name__}: win_samples {win_samples} > fft_size {fft_size}")
        self.fft_size, self.hop_samples, self.frame_samples = fft_size, hop_samples, fft_size
        self.register_buffer("window", torch.hann_window(win_samples), persistent=False)

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wav[:, 0],
            self.fft_size,
            self.hop_samples,
            self.window.shape[0],
            self.window,
            center=True,
            return_complex=True,
        )
        # +eps inside the sqrt: finite gradient for silent (all-zero) frames
        return (spec.real.square() + spec.imag.square() + 1e-12).sqrt()  # [B, bins, frames]

    def frame_losses(self, outputs: dict, batch: dict) -> torch.Tensor:
        estimate, clean = _pair(outputs, batch, type(self).__name__)
        diff = self.magnitude(estimate) - self.magnitude(clean)
        return _distance(diff, self.distance).mean(dim=1)

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        return self.frame_losses(outputs, batch).mean()


class ReducedFrameLoss(nn.Module):
    """Makes a loss that returns ``[B, frames]`` itself (e.g. ``PercepNetGainLoss(reduction="none")``)
    frame-wise, by declaring its framing; ``forward`` is the mean of its frames."""

    def __init__(self, loss: nn.Module, frame_samples: int = 320, hop_samples: int = 160, centered: bool = True):
        super().__init__()
        self.loss, self.frame_samples, self.hop_samples, self.centered = (
            loss,
            frame_samples,
            hop_samples,
            centered,
        )

    def frame_losses(self, outputs: dict, batch: dict) -> torch.Tensor:
        values = self.loss(outputs, batch)
        if values.dim() != 2:
            raise ValueError(
                f"ReducedFrameLoss: {type(self.loss).__name__} returned shape {list(values.shape)}, "
                "expected [B, frames] (configure it with reduction: none)"
            )
        return values

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        return self.frame_losses(outputs, batch).mean()


def energy_vad(
    clean: torch.Tensor, base: FrameWiseLoss, num_frames: int, threshold_db: float, floor_db: float
) -> torch.Tensor:
    """``[B, num_frames]`` bool: frame power (``base``'s framing) within ``threshold_db`` of the clip's
    loudest frame and above ``floor_db`` dBFS (so an all-zero clip has no speech frames)."""
    frames = frame_signal(clean, base.frame_samples, base.hop_samples, base.centered, num_frames)
    power_db = 10.0 * torch.log10(frames.square().mean(dim=-1) + 1e-10)
    loudest_db = power_db.amax(dim=-1, keepdim=True)
    return (power_db > loudest_db + threshold_db) & (power_db > floor_db)


def align_vad(
    vad: torch.Tensor, num_frames: int, num_samples: int, base: FrameWiseLoss, vad_hop_samples: int | None
) -> torch.Tensor:
    """Frame labels ``[B, F_vad]`` (or ``[B, 1, F_vad]``) -> ``[B, num_frames]`` bool: the label at each base
    frame's centre; without ``vad_hop_samples`` the labels are taken to span the clip evenly."""
    if vad.dim() == 3:
        vad = vad[:, 0]
    if vad.dim() != 2 or vad.shape[-1] == 0:
        raise ValueError(f"VADWeightedLoss: batch['vad'] must be [B, frames] labels, got shape {list(vad.shape)}")
    offset = 0 if base.centered else base.frame_samples // 2
    centres = torch.arange(num_frames, device=vad.device) * base.hop_samples + offset
    hop = vad_hop_samples if vad_hop_samples else num_samples / vad.shape[-1]
    index = torch.div(centres, hop, rounding_mode="floor").long().clamp(0, vad.shape[-1] - 1)
    return vad[:, index] > 0.5


class VADWeightedLoss(nn.Module):
    """Weights ``base``'s frame losses by ``2 mu`` on speech frames and ``2 (1 - mu)`` elsewhere.

    Speech frames come from ``batch["vad"]`` when present (frame labels, ``vad_hop_samples`` apart, or
    spanning the clip evenly when that is None), else from the clean target's frame power
    (``energy_threshold_db`` below the clip's loudest frame, and above ``energy_floor_db`` dBFS).
    """

    def __init__(
        self,
        base: nn.Module,
        mu: float = 0.9,
        energy_threshold_db: float = -40.0,
        energy_floor_db: float = -80.0,
        vad_hop_samples: int | None = None,
        vad_key: str = "vad",
    ):
        super().__init__()
        if not isinstance(base, FrameWiseLoss):
            raise TypeError(
                f"VADWeightedLoss: base {type(base).__name__} is not frame-wise (needs "
                "frame_losses(outputs, batch) -> [B, frames] and frame_samples, hop_samples, centered)"
            )
        if not 0.0 <= mu <= 1.0:
            raise ValueError(f"VADWeightedLoss: mu must be in [0, 1], got {mu}")
        if energy_threshold_db >= 0:
            raise ValueError(
                f"VADWeightedLoss: energy_threshold_db must be < 0 (relative to the max), got {energy_threshold_db}"
            )
        self.base, self.mu = base, float(mu)
        self.energy_threshold_db, self.energy_floor_db = float(energy_threshold_db), float(energy_floor_db)
        self.vad_hop_samples, self.vad_key = vad_hop_samples, vad_key

    def speech_frames(self, batch: dict, num_frames: int) -> torch.Tensor:
        """``[B, num_frames]`` bool, True where the target speaker is active."""
        clean = batch["clean"]
        with torch.no_grad():
            if batch.get(self.vad_key) is not None:
                return align_vad(batch[self.vad_key], num_frames, clean.shape[-1], self.base, self.vad_hop_samples)
            return energy_vad(clean, self.base, num_frames, self.energy_threshold_db, self.energy_floor_db)

    def forward(self, outputs: dict, batch: dict) -> torch.Tensor:
        losses = self.base.frame_losses(outputs, batch)
        active = self.speech_frames(batch, losses.shape[-1])
        weights = torch.where(active, 2.0 * self.mu, 2.0 * (1.0 - self.mu)).to(losses.dtype)
        return (weights * losses).mean()

    def extra_repr(self) -> str:
        return f"mu={self.mu}, energy_threshold_db={self.energy_threshold_db}, vad_hop_samples={self.vad_hop_samples}"
