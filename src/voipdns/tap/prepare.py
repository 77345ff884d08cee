"""Build the TAP estimator corpus once: speaker splits, noisy variants, cached audio and eGeMAPS LLD targets.

openSMILE is slow compared with a training step, so every item's audio (int16 ``.npy``) and LLDs (float32
``.npy``, ``[frames, 25]``) are written under ``cache_dir`` and memory-mapped by the datasets. A cache file's
name is a hash of everything that determines it (source file, size, mtime, variant, seed, SNR range, noise
file, opensmile version), so changing a setting never reuses a stale target.

Items: variant 0 is the clean utterance; variants 1..K add a noise recording at a random SNR, and their
targets are the LLDs *of the mixture*: the estimator learns to measure what it hears (TAPLoss applies it to
enhanced speech that still carries residual noise), not to guess the clean features through the noise.
Splits are by speaker (held-out speakers for validation and test) and by noise file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from voipdns.audio import audio_info, list_audio_files, load_audio
from voipdns.data.mixing import loop_to_length, prevent_clipping, scale_noise_to_snr
from voipdns.features.egemaps import EGEMAPS_LLD_NAMES, egemaps_lld
from voipdns.rates import DEFAULT_SAMPLE_RATE

log = logging.getLogger("voipdns.tap")
CACHE_VERSION = 1
SPLITS = ("train", "val", "test")
INT16_SCALE = 32767.0


@dataclass
class CorpusItem:
    name: str
    speaker: str
    split: str
    variant: int  # 0 = clean, k > 0 = k-th noisy mixture
    source: str
    noise: str | None
    snr_db: float | None
    audio_npy: str
    lld_npy: str
    num_samples: int


def speaker_of(path: Path, speaker_regex: str) -> str:
    match = re.search(speaker_regex, path.stem)
    if not match:
        raise ValueError(f"{path}: file name does not match speaker_regex {speaker_regex!r}")
    return match.group(1) if match.groups() else match.group(0)


def split_speakers(speakers: list[str], val_speakers: int, test_speakers: int, seed: int) -> dict[str, str]:
    """speaker -> split; a seeded shuffle of the sorted speakers, test first, then validation."""
    unique = sorted(set(speakers))
    if val_speakers + test_speakers >= len(unique):
        raise ValueError(
            f"need more than val_speakers + test_speakers = {val_speakers + test_speakers} speakers, "
            f"found {len(unique)}"
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    split = {}
    for rank, index in enumerate(order):
        split[unique[index]] = (
            "test" if rank < test_speakers else "val" if rank < test_speakers + val_speakers else "train"
        )
    return split


def split_noises(noise_files: list[Path], held_out_fraction: float, seed: int) -> dict[str, list[Path]]:
    """Train noises vs held-out noises (validation and test share the held-out ones)."""
    if not noise_files:
        return {split: [] for split in SPLITS}
    order = np.random.default_rng(seed + 1).permutation(len(noise_files))
    held = max(1, round(held_out_fraction * len(noise_files))) if len(noise_files) > 1 else 0
    held_out = [noise_files[i] for i in order[:held]]
    train = [noise_files[i] for i in order[held:]]
    return {"train": train, "val": held_out or train, "test": held_out or train}


def _cache_key(*parts: object) -> str:
    import opensmile  # deferred: a native library, loaded only when features are computed

    text = json.dumps([CACHE_VERSION, opensmile.__version__, *[str(p) for p in parts]])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


@lru_cache(maxsize=4)
def _noise(path: str, sample_rate: int) -> torch.Tensor:
    return load_audio(path, sample_rate)


def _mixture(clean: torch.Tensor, noise_path: Path, snr_db: float, sample_rate: int, rng) -> torch.Tensor:
    noise = loop_to_length(_noise(str(noise_path), sample_rate), clean.shape[-1], rng)
    noise = scale_noise_to_snr(clean, noise, snr_db, sample_rate)
    noisy, _, _ = prevent_clipping(clean + noise)
    return noisy


def _write_item(audio: torch.Tensor, sample_rate: int, audio_npy: Path, lld_npy: Path) -> None:
    """int16 audio, then the LLDs of exactly that (quantised) audio; atomic renames."""
    pcm = np.clip(np.round(audio[0].numpy() * INT16_SCALE), -32768, 32767).astype(np.int16)
    _, lld = egemaps_lld(pcm.astype(np.float32) / INT16_SCALE, sample_rate)
    for array, target in ((pcm, audio_npy), (lld, lld_npy)):
        tmp = target.with_name(target.name + ".tmp.npy")
        np.save(tmp, array)
        os.replace(tmp, target)


def prepare_corpus(
    speech_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    noise_dirs: list[str] | None = None,
    noisy_variants: int = 0,
    snr_range_db: tuple[float, float] = (0.0, 20.0),
    val_speakers: int = 20,
    test_speakers: int = 25,
    held_out_noise_fraction: float = 0.25,
    speaker_regex: str = r"^([^-_]+)",
    min_seconds: float = 1.0,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    seed: int = 0,
) -> list[CorpusItem]:
    """Every item of the corpus, computing what the cache lacks; also writes ``manifest.json``."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    sources = [p for p in list_audio_files(speech_dir) if audio_info(p).duration_seconds >= min_seconds]
    speakers = [speaker_of(p, speaker_regex) for p in sources]
    speaker_split = split_speakers(speakers, val_speakers, test_speakers, seed)
    noise_files = [p for d in (noise_dirs or []) for p in list_audio_files(d)]
    if noisy_variants and not noise_files:
        raise ValueError(f"noisy_variants={noisy_variants} but no noise files found in noise_dirs={noise_dirs}")
    noise_split = split_noises(noise_files, held_out_noise_fraction, seed)
    items, computed = [], 0
    for index, (source, speaker) in enumerate(zip(sources, speakers, strict=True)):
        split, stat = speaker_split[speaker], source.stat()
        clean = None
        for variant in range(noisy_variants + 1):
            rng = np.random.default_rng([seed, index, variant])
            noise = noise_split[split][int(rng.integers(len(noise_split[split])))] if variant else None
            snr = float(rng.uniform(*snr_range_db)) if variant else None
            key = _cache_key(source.resolve(), stat.st_size, stat.st_mtime_ns, variant, seed, noise, snr, sample_rate)
            audio_npy, lld_npy = cache / f"{key}.audio.npy", cache / f"{key}.lld.npy"
            if not (audio_npy.exists() and lld_npy.exists()):
                clean = load_audio(source, sample_rate) if clean is None else clean
                audio = _mixture(clean, noise, snr, sample_rate, rng) if variant else clean
                _write_item(audio, sample_rate, audio_npy, lld_npy)
                computed += 1
            num_samples = int(np.load(audio_npy, mmap_mode="r").shape[0])
            name = source.stem if not variant else f"{source.stem}__noisy{variant}"
            items.append(
                CorpusItem(
                    name,
                    speaker,
                    split,
                    variant,
                    str(source),
                    None if noise is None else str(noise),
                    snr,
                    str(audio_npy),
                    str(lld_npy),
                    num_samples,
                )
            )
    log.info(
        "TAP corpus: %d items (%d computed now, %d cached) in %s",
        len(items),
        computed,
        len(items) - computed,
        cache,
    )
    (cache / "manifest.json").write_text(json.dumps([asdict(item) for item in items], indent=1))
    return items


def feature_statistics(items: list[CorpusItem]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per-feature mean and std over every LLD frame of the training items (float64 sums)."""
    total, total_sq, count = np.zeros(len(EGEMAPS_LLD_NAMES)), np.zeros(len(EGEMAPS_LLD_NAMES)), 0
    for item in items:
        if item.split != "train":
            continue
        lld = np.load(item.lld_npy).astype(np.float64)
        total += lld.sum(axis=0)
        total_sq += np.square(lld).sum(axis=0)
        count += lld.shape[0]
    if count == 0:
        raise ValueError("feature_statistics: no training frames (check the split settings)")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    std = np.where(std < 1e-8, 1.0, std)  # a constant feature must not divide by zero
    return list(EGEMAPS_LLD_NAMES), mean.astype(np.float32), std.astype(np.float32)
