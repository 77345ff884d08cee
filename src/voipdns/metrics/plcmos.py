"""PLCMOS v2 (packet-loss-concealment MOS, Interspeech 2023) on the ONNX model shipped by `speechmos`.

Non-intrusive, 16 kHz. Our own implementation of the model's input: a 512-point STFT (periodic Hamming
window, hop 256, frames starting one hop before the signal, zero padded), log power in nats floored at
120 dB below the smallest non-zero bin, divided by 20; shape [1, 1, frames, 257]. The model also takes a
64-dim "rater" embedding; the official score averages 15 draws from N(0, 1). The official code draws them
from numpy's global random state, so its score changes between calls; here they come from a seeded
generator (`seed`), so a clip always gets the same score.
"""

from __future__ import annotations

import numpy as np

from voipdns.metrics.dnsmos import SAMPLE_RATE, onnx_session, to_16k_mono
from voipdns.metrics.scoring import register_scorer
from voipdns.metrics.silence import require_seconds, require_sound

MODEL = "plcmos_models/plcmos_v2.onnx"
N_FFT = 512
HOP_SAMPLES = 256
RATER_EMBED_DIM = 64
MIN_SECONDS = 0.5  # as DNSMOS: shorter clips are a few dozen STFT frames
RATER_ROUNDS = 15
LOG_FLOOR_DB = -120.0


def periodic_hamming(length: int) -> np.ndarray:
    return 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(length) / length)


def stft_frames(audio: np.ndarray) -> np.ndarray:
    """[frames, 512] windowed frames; frame i starts at sample (i - 1) * 256, zero outside the clip."""
    left = N_FFT - HOP_SAMPLES
    num_frames = int(np.ceil((audio.size + left) / HOP_SAMPLES))
    right = (num_frames - 1) * HOP_SAMPLES + N_FFT - left - audio.size
    padded = np.pad(audio, (left, max(right, 0)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_SAMPLES][:num_frames]
    return frames * periodic_hamming(N_FFT)


def plcmos_features(audio: np.ndarray) -> np.ndarray:
    """[1, 1, frames, 257] float32: natural-log power spectrum / 20, zeros floored (see module doc)."""
    magnitude = np.abs(np.fft.rfft(stft_frames(audio), n=N_FFT, axis=-1))
    power = magnitude**2
    nonzero = power > 0
    log_power = np.empty_like(power)
    if np.any(nonzero):
        log_power[nonzero] = np.log(power[nonzero])
        # a floor in dB converted to nats: dB / 10 * ln(10)
        log_power[~nonzero] = np.log(power[nonzero].min()) + LOG_FLOOR_DB / 10 * np.log(10)
    else:
        log_power.fill(-80.0 / 10 * np.log(10))
    return (log_power / 20.0).astype(np.float32)[np.newaxis, np.newaxis]


def rater_embeddings(rounds: int = RATER_ROUNDS, seed: int = 0) -> np.ndarray:
    """[rounds, 64] float32 rater embeddings drawn from N(0, 1) with a fixed seed."""
    return np.random.default_rng(seed).standard_normal((rounds, RATER_EMBED_DIM)).astype(np.float32)


def plcmos(
    audio,
    sample_rate: int = SAMPLE_RATE,
    *,
    embeddings: np.ndarray | None = None,
    seed: int = 0,
    intra_op_threads: int = 1,
) -> float:
    """PLCMOS of one clip: the mean model output over the rater embeddings (default: 15 seeded draws)."""
    audio = to_16k_mono(audio, sample_rate)
    if audio.size == 0:
        raise ValueError("PLCMOS got an empty clip")
    embeddings = rater_embeddings(seed=seed) if embeddings is None else np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2 or embeddings.shape[1] != RATER_EMBED_DIM:
        raise ValueError(f"rater embeddings must be [rounds, {RATER_EMBED_DIM}], got {embeddings.shape}")
    session = onnx_session(MODEL, intra_op_threads)
    features = plcmos_features(audio)
    # one rater per call: the model declares a scalar output, so batching raters triggers shape warnings
    scores = [
        float(session.run(None, {"degraded_audio": features, "rater_embed": embedding[np.newaxis]})[0])
        for embedding in embeddings
    ]
    return float(np.mean(scores))


@register_scorer("plcmos", needs_clean=False)
def _plcmos_scorer(clean, estimate, noisy, sample_rate):
    # PLCMOS rates how losses were concealed over a call: silence or a few frames give it nothing to rate
    require_sound(estimate, "estimate")
    require_seconds(estimate, sample_rate, MIN_SECONDS, "PLCMOS")
    return {"plcmos": plcmos(estimate, sample_rate)}
