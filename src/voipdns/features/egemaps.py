"""openSMILE eGeMAPSv02 low-level descriptors (LLDs): 25 features per 10 ms frame.

Used as TAP estimator targets (``voipdns.tap``) and by eGeMAPS evaluation (per-feature MAE between clean and
enhanced). Frame i of openSMILE's output starts at i * 10 ms (20 ms window for energy/spectral features,
60 ms for voice features, then 3-frame smoothing ``_sma3``). openSMILE emits ``T // 160 + 1 - 5`` frames at
16 kHz; a centred STFT with hop 160 (the TAP estimator) emits ``T // 160 + 1``: frame i of one matches frame
i of the other and the estimator's last 5 frames have no LLD (the TAPLoss convention; ``align_frames``).
Unvoiced frames: voice features are 0 and formant amplitudes -201 (openSMILE's convention, kept as is).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from voipdns.arrays import to_mono_numpy

if TYPE_CHECKING:  # torch only for type hints: scoring workers never import it
    import torch

EGEMAPS_LLD_NAMES: tuple[str, ...] = (
    "Loudness_sma3",
    "alphaRatio_sma3",
    "hammarbergIndex_sma3",
    "slope0-500_sma3",
    "slope500-1500_sma3",
    "spectralFlux_sma3",
    "mfcc1_sma3",
    "mfcc2_sma3",
    "mfcc3_sma3",
    "mfcc4_sma3",
    "F0semitoneFrom27.5Hz_sma3nz",
    "jitterLocal_sma3nz",
    "shimmerLocaldB_sma3nz",
    "HNRdBACF_sma3nz",
    "logRelF0-H1-H2_sma3nz",
    "logRelF0-H1-A3_sma3nz",
    "F1frequency_sma3nz",
    "F1bandwidth_sma3nz",
    "F1amplitudeLogRelF0_sma3nz",
    "F2frequency_sma3nz",
    "F2bandwidth_sma3nz",
    "F2amplitudeLogRelF0_sma3nz",
    "F3frequency_sma3nz",
    "F3bandwidth_sma3nz",
    "F3amplitudeLogRelF0_sma3nz",
)
LLD_HOP_SECONDS = 0.01
#: Frames a centred STFT with a 10 ms hop has beyond openSMILE's LLD frames.
EXTRA_STFT_FRAMES = 5
#: openSMILE needs a few frames; shorter input yields no LLD row at all.
MIN_SECONDS = 0.1


@lru_cache(maxsize=1)
def _smile():
    import opensmile  # imported lazily: it loads a native library, only feature code needs it

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
    )


def egemaps_lld(wav: np.ndarray | torch.Tensor, sample_rate: int) -> tuple[list[str], np.ndarray]:
    """eGeMAPSv02 LLDs of ``wav`` (``[T]`` or ``[1, T]``, any rate openSMILE accepts; 16 kHz in voipdns).

    Returns ``(names, array[frames, 25])`` float32, one row per 10 ms, names in ``EGEMAPS_LLD_NAMES`` order.
    """
    wav = to_mono_numpy(wav, "egemaps_lld", np.float32)
    if not np.all(np.isfinite(wav)):
        raise ValueError("egemaps_lld: audio contains NaN or Inf")
    if wav.shape[0] < MIN_SECONDS * sample_rate:
        raise ValueError(f"egemaps_lld needs at least {MIN_SECONDS} s of audio, got {wav.shape[0]} samples")
    frame = _smile().process_signal(wav, sample_rate)
    missing = [name for name in EGEMAPS_LLD_NAMES if name not in frame.columns]
    if missing:
        raise RuntimeError(f"openSMILE eGeMAPSv02 did not return the LLDs {missing} (opensmile version?)")
    values = frame[list(EGEMAPS_LLD_NAMES)].to_numpy(dtype=np.float32)
    return list(EGEMAPS_LLD_NAMES), values


def lld_frame_count(num_samples: int, hop_samples: int = 160) -> int:
    """Frames ``egemaps_lld`` returns for ``num_samples`` at a 10 ms hop of ``hop_samples``."""
    return max(num_samples // hop_samples + 1 - EXTRA_STFT_FRAMES, 0)


def align_frames(lld: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop or zero-pad ``lld [frames, F]`` to ``num_frames`` rows (index alignment, see module doc).

    Returns ``(aligned [num_frames, F], valid [num_frames] bool)``; padded rows are invalid and must be
    masked out of a loss.
    """
    aligned = np.zeros((num_frames, lld.shape[1]), dtype=np.float32)
    used = min(num_frames, lld.shape[0])
    aligned[:used] = lld[:used]
    valid = np.zeros(num_frames, dtype=bool)
    valid[:used] = True
    return aligned, valid
