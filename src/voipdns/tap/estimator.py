"""The TAP estimator: 25 eGeMAPS low-level descriptors per 10 ms frame, predicted from a raw STFT.

Not an enhancement net (it does not subclass ``EnhancementNet``): it is the frozen helper inside
``voipdns.losses.tap.TAPLoss`` and is trained by ``voipdns.tap`` (recipe ``recipes/tap_estimator``).

Architecture and STFT follow the TAPLoss paper (ICASSP 2023): STFT with n_fft 512, hop 160 samples (10 ms at
16 kHz), rectangular window, centred (reflect padding); real and imaginary parts interleaved per bin
(``[re0, im0, re1, im1, ...]``) -> ``[B, frames, 514]``; LSTM(514 -> 256, 3 layers, bidirectional)
-> Linear(512, 256) -> ReLU -> Linear(256, 25). 4,872,729 parameters. Outputs are z-scored LLDs.

Files: the official estimator file is ``{"model_state_dict": ...}`` with keys ``lstm.*``, ``linear1.*``,
``linear2.*``; our own files add ``feature_names``, ``feature_mean``, ``feature_std`` (the z-score statistics
of the training set) and ``format`` (see ``save_estimator``). Both load with ``load_estimator``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

N_FFT = 512
HOP_SAMPLES = 160
SAMPLE_RATE = 16000
NUM_FEATURES = 25
INPUT_DIM = 2 * (N_FFT // 2 + 1)  # 514
FILE_FORMAT = "voipdns-tap-estimator"
FILE_VERSION = 1


def estimator_stft(wav: torch.Tensor) -> torch.Tensor:
    """``[B, 1, T]`` or ``[B, T]`` waveform -> complex STFT ``[B, 257, frames]`` (frames = T // 160 + 1)."""
    if wav.dim() == 3:
        if wav.shape[1] != 1:
            raise ValueError(f"TAP estimator expects mono [B, 1, T] audio, got shape {tuple(wav.shape)}")
        wav = wav[:, 0]
    if wav.dim() != 2:
        raise ValueError(f"TAP estimator expects [B, 1, T] or [B, T] audio, got shape {tuple(wav.shape)}")
    if wav.shape[-1] <= N_FFT // 2:
        raise ValueError(f"TAP estimator needs more than {N_FFT // 2} samples (reflect padding), got {wav.shape[-1]}")
    # A window of ones is the rectangular (absent) window of the reference; passing it avoids torch's warning.
    window = torch.ones(N_FFT, dtype=wav.dtype, device=wav.device)
    return torch.stft(wav, N_FFT, HOP_SAMPLES, window=window, center=True, pad_mode="reflect", return_complex=True)


def interleave_real_imag(spec: torch.Tensor) -> torch.Tensor:
    """Complex ``[B, 257, frames]`` -> real ``[B, frames, 514]`` as ``[re0, im0, re1, im1, ...]``."""
    return torch.view_as_real(spec).permute(0, 2, 1, 3).reshape(spec.shape[0], spec.shape[2], INPUT_DIM)


def frame_energy(spec: torch.Tensor) -> torch.Tensor:
    """Short-time energy per frame ``[B, frames]``: sum of |X|^2 over bins times 2 / n_fft (as in TAPLoss)."""
    return spec.real.pow(2).add(spec.imag.pow(2)).sum(dim=1) * (2.0 / N_FFT)


class TAPEstimator(nn.Module):
    """Waveform ``[B, 1, T]`` (16 kHz) -> z-scored LLDs ``[B, T // 160 + 1, 25]``.

    Output frame i matches eGeMAPS LLD frame i (window starting at i * 10 ms); the last 5 output frames have
    no LLD counterpart (see ``voipdns.features.egemaps.align_frames``).
    """

    def __init__(self, hidden_size: int = 256, num_layers: int = 3, num_features: int = NUM_FEATURES):
        super().__init__()
        # Attribute names are the official ones, so official state_dict keys load strictly.
        self.lstm = nn.LSTM(INPUT_DIM, hidden_size, num_layers, bidirectional=True, batch_first=True)
        self.linear1 = nn.Linear(2 * hidden_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, num_features)
        self.act = nn.ReLU()
        self.feature_names: list[str] | None = None
        # z-score statistics: non-persistent so state_dict keys stay exactly the official ones.
        self.register_buffer("feature_mean", torch.zeros(num_features), persistent=False)
        self.register_buffer("feature_std", torch.ones(num_features), persistent=False)
        self.has_statistics = False
        self.frozen = False

    def forward_spectrogram(self, features: torch.Tensor) -> torch.Tensor:
        """Interleaved STFT ``[B, frames, 514]`` -> ``[B, frames, 25]``."""
        hidden, _ = self.lstm(features.to(self.linear1.weight.dtype))  # STFT is float32 even in half models
        return self.linear2(self.act(self.linear1(hidden)))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.forward_spectrogram(interleave_real_imag(estimator_stft(wav)))

    def set_statistics(self, names: list[str], mean: torch.Tensor, std: torch.Tensor) -> None:
        if not (len(names) == mean.numel() == std.numel() == self.linear2.out_features):
            raise ValueError(
                f"z-score statistics need {self.linear2.out_features} features, got {len(names)} names, "
                f"{mean.numel()} means, {std.numel()} stds"
            )
        self.feature_names = list(names)
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32).flatten())
        self.feature_std.copy_(torch.as_tensor(std, dtype=torch.float32).flatten())
        self.has_statistics = True

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """z-scored outputs -> LLDs in their own units (dB, Hz, semitones, ...)."""
        if not self.has_statistics:
            raise ValueError("this TAP estimator has no z-score statistics (an official file carries none)")
        return z * self.feature_std + self.feature_mean

    def freeze(self) -> TAPEstimator:
        """No gradients to the weights, eval mode kept even when a parent calls ``.train()``."""
        self.frozen = True
        for param in self.parameters():
            param.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> TAPEstimator:
        return super().train(False if self.frozen else mode)


def save_estimator(estimator: TAPEstimator, path: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write our file: the official ``model_state_dict`` key (official loaders read it too) + statistics."""
    if not estimator.has_statistics:
        raise ValueError("save_estimator: set the z-score statistics first (TAPEstimator.set_statistics)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "model_state_dict": {k: v.detach().cpu().clone() for k, v in estimator.state_dict().items()},
        "feature_names": list(estimator.feature_names or []),
        "feature_mean": estimator.feature_mean.detach().cpu().clone(),
        "feature_std": estimator.feature_std.detach().cpu().clone(),
        "sample_rate": SAMPLE_RATE,
        "n_fft": N_FFT,
        "hop_samples": HOP_SAMPLES,
        **(extra or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves half a file under the real name
    return path


def load_estimator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> TAPEstimator:
    """Load an official TAPLoss estimator file or one written by ``save_estimator`` (strict key match)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"TAP estimator file not found: {path} (train one with `voipdns-train-tap`, see recipes/tap_estimator)"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{path}: not a readable TAP estimator file ({err})") from err
    if not isinstance(payload, dict) or "model_state_dict" not in payload:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: expected a dict with key 'model_state_dict' (TAPLoss format), found {found}")
    state = payload["model_state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}  # checkpoints saved from DataParallel
    estimator = TAPEstimator()
    expected = set(estimator.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{path}: TAP estimator keys do not match; missing {missing}, unexpected {unexpected}")
    try:
        estimator.load_state_dict(state, strict=True)
    except RuntimeError as err:  # shape mismatch: a different architecture
        raise ValueError(f"{path}: TAP estimator weights do not fit the architecture: {err}") from err
    if "feature_mean" in payload:
        estimator.set_statistics(payload["feature_names"], payload["feature_mean"], payload["feature_std"])
    return estimator
