"""Listenable validation clips: noisy / enhanced / clean audio and one spectrogram image per clip, sent to every
active logger that can take media (TensorBoard's ``add_audio``/``add_image``, W&B's ``log_audio``/``log_image``).

Loggers without media support (CSV) are skipped. ``EnhancementMetrics(log_audio_clips=N)`` collects the first N
validation clips of each scored epoch on rank 0 and calls ``log_audio_samples`` at the epoch's end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

#: the versions of a clip, in the order they are shown and logged
VERSIONS = ("noisy", "enhanced", "clean")
SPECTROGRAM_FFT = 512
SPECTROGRAM_HOP = 128
#: dynamic range shown below the loudest bin of the clip's three spectrograms
SPECTROGRAM_RANGE_DB = 80.0


@dataclass
class AudioClip:
    name: str
    noisy: np.ndarray
    enhanced: np.ndarray
    clean: np.ndarray | None

    def versions(self) -> dict[str, np.ndarray]:
        return {version: wav for version in VERSIONS if (wav := getattr(self, version)) is not None}


def as_clip(name: str, noisy: torch.Tensor, enhanced: torch.Tensor, clean: torch.Tensor | None) -> AudioClip:
    """Mono float32 copies on the CPU, clipped to [-1, 1] as audio players expect."""

    def mono(wav: torch.Tensor) -> np.ndarray:
        return wav.detach().float().cpu().reshape(-1).clamp(-1.0, 1.0).numpy().copy()

    return AudioClip(name, mono(noisy), mono(enhanced), None if clean is None else mono(clean))


def log_magnitude_db(wav: np.ndarray) -> np.ndarray:
    window = torch.hann_window(SPECTROGRAM_FFT)
    spec = torch.stft(torch.from_numpy(wav), SPECTROGRAM_FFT, SPECTROGRAM_HOP, window=window, return_complex=True)
    return (20 * torch.log10(spec.abs().clamp_min(1e-8))).numpy()


def spectrogram_image(clip: AudioClip, sample_rate: int) -> np.ndarray:
    """One RGB image ``[H, W, 3]`` (uint8) with a panel per version on a shared dB scale, axes in s and kHz."""
    # deferred: matplotlib loads only when a media logger is active
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    versions = clip.versions()
    spectra = {version: log_magnitude_db(wav) for version, wav in versions.items()}
    top = max(float(spec.max()) for spec in spectra.values())
    figure = Figure(figsize=(7, 1.9 * len(spectra)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(spectra), 1, sharex=True, squeeze=False)[:, 0]
    for axis, (version, spec) in zip(axes, spectra.items(), strict=True):
        seconds = len(versions[version]) / sample_rate
        image = axis.imshow(
            spec,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=top - SPECTROGRAM_RANGE_DB,
            vmax=top,
            extent=(0.0, seconds, 0.0, sample_rate / 2000),
        )
        axis.set_title(f"{clip.name}: {version}", fontsize=9, loc="left")
        axis.set_ylabel("frequency (kHz)")
    axes[-1].set_xlabel("time (s)")
    figure.colorbar(image, ax=list(axes), label="level (dB)")
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def _tag_name(index: int, name: str) -> str:
    return f"{index}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"


def _to_tensorboard(writer, clips: list[AudioClip], sample_rate: int, step: int, prefix: str) -> None:
    for index, clip in enumerate(clips):
        tag = f"{prefix}/{_tag_name(index, clip.name)}"
        for version, wav in clip.versions().items():
            writer.add_audio(f"{tag}/{version}", torch.from_numpy(wav)[None], step, sample_rate=sample_rate)
        writer.add_image(f"{tag}/spectrogram", spectrogram_image(clip, sample_rate), step, dataformats="HWC")


def _to_wandb(logger, clips: list[AudioClip], sample_rate: int, step: int, prefix: str) -> None:
    for index, clip in enumerate(clips):
        tag = f"{prefix}/{_tag_name(index, clip.name)}"
        versions = clip.versions()
        logger.log_audio(
            f"{tag}/audio",
            list(versions.values()),
            step=step,
            sample_rate=[sample_rate] * len(versions),
            caption=list(versions),
        )
        logger.log_image(f"{tag}/spectrogram", [spectrogram_image(clip, sample_rate)], step=step)


def media_sink(logger) -> Callable[..., None] | None:
    """The writer for a logger that takes audio, by what it offers (W&B-style methods, or a TensorBoard-style
    ``experiment``); None for loggers without media (CSV)."""
    if callable(getattr(logger, "log_audio", None)) and callable(getattr(logger, "log_image", None)):
        return partial(_to_wandb, logger)
    experiment = getattr(logger, "experiment", None)
    if callable(getattr(experiment, "add_audio", None)) and callable(getattr(experiment, "add_image", None)):
        return partial(_to_tensorboard, experiment)
    return None


def log_audio_samples(
    loggers: Iterable, clips: list[AudioClip], sample_rate: int, step: int, prefix: str = "val_audio"
) -> int:
    """Send ``clips`` to every media-capable logger; returns how many loggers took them."""
    sinks = [sink for sink in map(media_sink, loggers) if sink is not None]
    for sink in sinks:
        sink(clips, sample_rate, step, prefix)
    return len(sinks) if clips else 0
