"""DNSMOS P.835 (SIG/BAK/OVRL), P.808 and personalised DNSMOS on the ONNX models shipped by `speechmos`.

Our own implementation of the official DNSMOS algorithm (Microsoft DNS-Challenge `dnsmos_local.py`, the same
one `speechmos.dnsmos` wraps): 16 kHz audio, 9.01 s segments (144,160 samples) with a 1 s hop, clips shorter
than 9.01 s doubled until long enough, raw outputs mapped by fixed polynomials, and the clip score the mean
over segments. All segments of a clip go through each model in one batch. librosa is not needed: the P.808
mel spectrogram (Slaney mel scale, Slaney area norm, periodic Hann window, zero-padded centring, as
librosa >= 0.10 computes it) is written here with numpy.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import threading
from functools import cache
from pathlib import Path

import numpy as np

from voipdns.dsp.mel import mel_filterbank
from voipdns.metrics.scoring import register_scorer
from voipdns.metrics.silence import require_seconds, require_sound
from voipdns.resampler import resample

SAMPLE_RATE = 16000
SEGMENT_SECONDS = 9.01
SEGMENT_SAMPLES = int(SEGMENT_SECONDS * SAMPLE_RATE)  # 144,160
HOP_SAMPLES = SAMPLE_RATE  # 1 s
P808_TRIM_SAMPLES = 160  # the P.808 model sees the segment minus its last 160 samples
P808_N_FFT = 321
P808_HOP_SAMPLES = 160
P808_N_MELS = 120
MAX_SEGMENTS_PER_BATCH = 16  # bounds memory on long clips (16 x 144,160 float32 = 9 MB)

# sha256 of the model files in speechmos==0.0.1.1 (computed from the installed wheel); a mismatch means a
# different or corrupted model, whose scores would silently not be comparable with published numbers.
MODEL_SHA256 = {
    "dnsmos_models/sig_bak_ovr.onnx": "269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
    "dnsmos_models/model_v8.onnx": "9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
    "pdnsmos_models/sig_bak_ovr.onnx": "9e3a197449ca2177f0997afec3bd6b890117ce2f17b89d6eea7fa0d47272c81c",
    "plcmos_models/plcmos_v2.onnx": "c0ad3fc64ef9682b4749c0e96636b41c73b4b30bd123b9348feea06a96895286",
}

# Polynomials (highest power first) mapping raw P.835 outputs to MOS, from the official code.
POLY_P835 = {
    "sig": (-0.08397278, 1.22083953, 0.0052439),
    "bak": (-0.13166888, 1.60915514, -0.39604546),
    "ovrl": (-0.06766283, 1.11546468, 0.04602535),
}
POLY_P835_PERSONALIZED = {
    "sig": (-0.01019296, 0.02751166, 1.19576786, -0.24348726),
    "bak": (-0.04976499, 0.44276479, -0.1644611, 0.96883132),
    "ovrl": (-0.00533021, 0.005101, 1.18058466, -0.11236046),
}


class ModelFileError(RuntimeError):
    """A model file is missing or its sha256 differs from the recorded one."""


# ----------------------------------------------------------------------------------------------------- models


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_file(path: Path, expected_sha256: str) -> Path:
    """Return `path` if it exists and hashes to `expected_sha256`, else raise ModelFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found (is `speechmos` installed?)")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ModelFileError(
            f"model file {path} has sha256 {actual}, expected {expected_sha256}: the file is corrupted or "
            "from another speechmos version (reinstall speechmos==0.0.1.1)"
        )
    return path


def speechmos_model_path(relative_path: str) -> Path:
    """Locate a model file inside the installed `speechmos` package (not verified; see `onnx_session`)."""
    if relative_path not in MODEL_SHA256:
        raise KeyError(f"unknown speechmos model {relative_path!r}; known: {sorted(MODEL_SHA256)}")
    try:
        package_dir = importlib.resources.files("speechmos")
    except ModuleNotFoundError as error:
        message = "package `speechmos` (it ships the DNSMOS/PLCMOS models) is not installed"
        raise ModelFileError(message) from error
    return Path(str(package_dir.joinpath(relative_path)))


_session_lock = threading.Lock()


@cache
def _cached_session(path: str, expected_sha256: str, intra_op_threads: int):
    import onnxruntime as ort  # deferred: scoring workers without DNSMOS never load ONNX Runtime

    verify_model_file(Path(path), expected_sha256)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def onnx_session(relative_path: str, intra_op_threads: int = 1):
    """An onnxruntime session for a speechmos model: verified and created once per process, then reused."""
    path = speechmos_model_path(relative_path)
    with _session_lock:
        return _cached_session(str(path), MODEL_SHA256[relative_path], intra_op_threads)


# ----------------------------------------------------------------------------------------------- segmentation


def repeat_to_segment_length(audio: np.ndarray) -> np.ndarray:
    """Double the clip until it covers one 9.01 s segment, as the official code does (not a plain tile)."""
    if audio.size == 0:
        raise ValueError("DNSMOS got an empty clip")
    while audio.size < SEGMENT_SAMPLES:
        audio = np.concatenate([audio, audio])
    return audio


def segment_bounds(num_samples: int) -> list[tuple[int, int]]:
    """(start, end) sample indices of the segments the official algorithm scores.

    Replicates it exactly, float arithmetic included: the end is `int((idx + 9.01) * 16000)`, which rounds
    down to 144,159 samples for some hops (idx 7-23, 119-122, ...), and the official code skips those.
    """
    num_hops = int(np.floor(num_samples / SAMPLE_RATE) - SEGMENT_SECONDS) + 1
    bounds = []
    for idx in range(num_hops):
        start = int(idx * HOP_SAMPLES)
        end = int((idx + SEGMENT_SECONDS) * HOP_SAMPLES)
        if min(end, num_samples) - start >= SEGMENT_SAMPLES:
            bounds.append((start, end))
    return bounds


def segments_of(audio: np.ndarray) -> np.ndarray:
    """[segments, 144160] float32 for a mono 16 kHz clip (repeated when short)."""
    audio = repeat_to_segment_length(np.asarray(audio, dtype=np.float32).reshape(-1))
    bounds = segment_bounds(audio.size)
    return np.stack([audio[start:end] for start, end in bounds])


# ------------------------------------------------------------------------------------------------- P.808 mel


def p808_features(segments: np.ndarray) -> np.ndarray:
    """[N, 900, 120] float32: (power_to_db(mel power, ref=max per segment, top_db 80) + 40) / 40."""
    audio = segments[:, :-P808_TRIM_SAMPLES].astype(np.float32)
    pad = P808_N_FFT // 2
    padded = np.pad(audio, ((0, 0), (pad, pad)))  # centred frames, zero padding (librosa >= 0.10 default)
    num_frames = 1 + (padded.shape[1] - P808_N_FFT) // P808_HOP_SAMPLES
    frames = np.lib.stride_tricks.sliding_window_view(padded, P808_N_FFT, axis=1)[:, ::P808_HOP_SAMPLES]
    frames = frames[:, :num_frames]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(P808_N_FFT) / P808_N_FFT)  # periodic Hann
    spectrum = np.fft.rfft(frames * window.astype(np.float32), n=P808_N_FFT, axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel_power = power @ mel_filterbank(SAMPLE_RATE, P808_N_FFT, P808_N_MELS).T  # [N, frames, mels]
    amin = 1e-10
    db = 10.0 * np.log10(np.maximum(amin, mel_power))
    ref_db = 10.0 * np.log10(np.maximum(amin, mel_power.max(axis=(1, 2), keepdims=True)))
    db = db - ref_db
    db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - 80.0)
    return ((db + 40.0) / 40.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- scoring


def _polynomial(coefficients: tuple[float, ...], values: np.ndarray) -> np.ndarray:
    return np.polyval(np.asarray(coefficients), values.astype(np.float64))


def _run_batched(session, inputs: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    outputs = [
        session.run(None, {name: inputs[i : i + MAX_SEGMENTS_PER_BATCH]})[0]
        for i in range(0, len(inputs), MAX_SEGMENTS_PER_BATCH)
    ]
    return np.concatenate(outputs, axis=0)


def to_16k_mono(audio, sample_rate: int) -> np.ndarray:
    """Flatten a [T] / [1, T] array or tensor to float32 numpy at 16 kHz (soxr, the project's resampler)."""
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1 and audio.size != max(audio.shape):
        raise ValueError(f"expected mono audio [T] or [1, T], got shape {audio.shape}")
    audio = audio.reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or Inf")
    if sample_rate != SAMPLE_RATE:
        audio = resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32)
    return audio


def dnsmos(
    audio,
    sample_rate: int = SAMPLE_RATE,
    *,
    personalized: bool = False,
    p808: bool = True,
    intra_op_threads: int = 1,
) -> dict[str, float]:
    """DNSMOS of one clip: {"sig", "bak", "ovrl"} (+ "p808"), each the mean over its 9.01 s segments.

    `personalized=True` uses the pDNSMOS model (which penalises interfering talkers) and its polynomials.
    """
    segments = segments_of(to_16k_mono(audio, sample_rate))
    model = "pdnsmos_models/sig_bak_ovr.onnx" if personalized else "dnsmos_models/sig_bak_ovr.onnx"
    raw = _run_batched(onnx_session(model, intra_op_threads), segments)
    polys = POLY_P835_PERSONALIZED if personalized else POLY_P835
    scores = {
        key: float(np.mean(_polynomial(polys[key], raw[:, col]))) for col, key in enumerate(("sig", "bak", "ovrl"))
    }
    if p808:
        p808_raw = _run_batched(onnx_session("dnsmos_models/model_v8.onnx", intra_op_threads), p808_features(segments))
        scores["p808"] = float(np.mean(p808_raw[:, 0]))
    return scores


# ---------------------------------------------------------------------------------------- registered scorers
# Non-intrusive: no clean reference needed. P.808 does not depend on personalisation, so only `dnsmos` has it.
# The official code loops a clip shorter than 9.01 s until it fills a segment: below MIN_SECONDS the models
# hear dozens of repeats of one fragment (a 0.1 s clip 90 times), not the clip, and silence gives them
# nothing to rate, so both are NaN with the reason rather than a plausible-looking MOS.
MIN_SECONDS = 0.5


def _require_rateable(estimate: np.ndarray, sample_rate: int, metric: str) -> None:
    require_sound(estimate, "estimate")
    require_seconds(estimate, sample_rate, MIN_SECONDS, metric)


@register_scorer("dnsmos", outputs=("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"), needs_clean=False)
def _dnsmos_scorer(clean, estimate, noisy, sample_rate):
    _require_rateable(estimate, sample_rate, "DNSMOS")
    return {f"dnsmos_{key}": value for key, value in dnsmos(estimate, sample_rate).items()}


@register_scorer("pdnsmos", outputs=("pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl"), needs_clean=False)
def _pdnsmos_scorer(clean, estimate, noisy, sample_rate):
    _require_rateable(estimate, sample_rate, "pDNSMOS")
    scores = dnsmos(estimate, sample_rate, personalized=True, p808=False)
    return {f"pdnsmos_{key}": value for key, value in scores.items()}
