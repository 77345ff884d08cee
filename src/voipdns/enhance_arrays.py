"""``net.enhance`` for arrays in any layout and rate (whole files: ``voipdns.enhance_api.enhance_file``).

``net.enhance(audio, sample_rate=None)`` takes numpy or torch audio shaped ``[T]``, ``[C, T]`` (each channel
enhanced on its own) or ``[B, 1, T]``, at any sample rate (resampled to the net's rate and back with
``voipdns.audio.resample``), and returns the same type, dtype, device and shape.
"""

from __future__ import annotations

import numpy as np
import torch

from voipdns.audio import resample


def _as_batch(audio: torch.Tensor) -> torch.Tensor:
    """``[T]`` -> ``[1, 1, T]``, ``[C, T]`` -> ``[C, 1, T]``, ``[B, 1, T]`` unchanged; anything else is an error."""
    if audio.dim() == 1:
        return audio.view(1, 1, -1)
    if audio.dim() == 2:
        return audio.unsqueeze(1)
    if audio.dim() == 3 and audio.shape[1] == 1:
        return audio
    raise ValueError(
        f"enhance() takes audio shaped [T], [C, T] or [B, 1, T]; got {tuple(audio.shape)}"
        + (" (mix or split the channels first)" if audio.dim() == 3 else "")
    )


def _to_tensor(audio: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(audio, torch.Tensor):
        tensor = audio
    elif isinstance(audio, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(audio))
    else:
        raise TypeError(f"enhance() takes a numpy array or a torch tensor, got {type(audio).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(
            f"enhance() takes float audio in [-1, 1], got {tensor.dtype}; "
            "scale integer PCM first (int16: audio / 32768)"
        )
    if tensor.shape[-1] == 0:
        raise ValueError("enhance() got 0 samples")
    return tensor


def _fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad the last dim: a resampling round trip can be a sample off the original length."""
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))


@torch.no_grad()
def enhance_audio(
    net: torch.nn.Module, audio: np.ndarray | torch.Tensor, sample_rate: int | None = None
) -> np.ndarray | torch.Tensor:
    """``net`` applied to ``audio`` (see the module docstring); ``sample_rate`` None means the net's own rate."""
    net_rate = int(net.sample_rate)
    rate = net_rate if sample_rate is None else int(sample_rate)
    tensor = _to_tensor(audio)
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    noisy = resample(_as_batch(tensor).to(device, torch.float32), rate, net_rate)
    enhanced = resample(net(noisy), net_rate, rate)
    enhanced = _fit_length(enhanced, tensor.shape[-1]).reshape(tensor.shape)
    if isinstance(audio, np.ndarray):
        return enhanced.cpu().numpy().astype(audio.dtype, copy=False)
    return enhanced.to(audio.device, audio.dtype)
