"""One cached mean embedding per enrollment speaker (the files PPN/UPN training reads as ``embedding_dir``),
optionally over noisy / reverberant variants of each enrollment utterance (UPN)."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from voipdns.audio import list_audio_files, load_audio
from voipdns.data.dns4 import speaker_of
from voipdns.speaker.augment import EnrollmentAugmenter
from voipdns.speaker.cache import SpeakerEmbeddingCache

log = logging.getLogger(__name__)


def enrollment_files(enrollment_dir: str | Path, speaker_from: str) -> dict[str, list[Path]]:
    """{speaker: enrollment files}, grouped by the rule DNS4Dataset uses (``enrol_`` prefixes ignored)."""
    root = Path(enrollment_dir)
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in list_audio_files(root):
        groups[speaker_of(path, root, speaker_from)].append(path)
    if not groups:
        raise FileNotFoundError(f"embed.enrollment_dir={root}: no audio files")
    return dict(sorted(groups.items()))


def enrollment_augmenter(embed: DictConfig, sample_rate: int) -> EnrollmentAugmenter | None:
    """The augmenter ``embed.noise_dir`` asks for (clean variant included); None without a noise folder."""
    if not embed.get("noise_dir"):
        return None
    files = list_audio_files(embed.noise_dir)[: int(embed.max_noise_files)]
    if not files:
        raise FileNotFoundError(f"embed.noise_dir={embed.noise_dir}: no audio files")
    noises = [load_audio(path, sample_rate) for path in files]
    return EnrollmentAugmenter(
        noises,
        sample_rate,
        n_variants=int(embed.n_variants),
        snr_range_db=tuple(embed.snr_range_db),
        reverb_probability=float(embed.reverb_probability),
        include_clean=True,
    )


def embed_enrollments(embed: DictConfig, embedder: nn.Module, sample_rate: int, seed: int) -> tuple[Path, int]:
    """Cache one mean embedding per enrollment speaker (the ``embed:`` section of conf/speaker_embedder.yaml);
    returns (cache folder, speakers written)."""
    cache = SpeakerEmbeddingCache(embed.cache_dir, embedder)
    augment = enrollment_augmenter(embed, sample_rate)
    generator = torch.Generator().manual_seed(int(seed))
    max_samples = int(float(embed.max_seconds) * sample_rate)
    groups = enrollment_files(embed.enrollment_dir, embed.speaker_from)
    for speaker, files in groups.items():
        clips = [load_audio(path, sample_rate)[:, :max_samples] for path in files]
        if augment is not None:
            clips = [variant for clip in clips for variant in augment(clip, generator)]
        cache.save(speaker, cache.compute(clips))
    log.info("embedded %d enrollment speakers into %s", len(groups), cache.directory)
    return cache.directory, len(groups)
