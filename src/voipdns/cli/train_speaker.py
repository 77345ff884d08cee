"""voipdns-train-speaker: train a speaker embedder, report its held-out EER, cache enrollment embeddings.

    voipdns-train-speaker data.directory=../shared/data/speech/librispeech-train-clean-100
    voipdns-train-speaker train=false embedder_path=<run>/embedder.pt embed.enrollment_dir=/DNS4/enrol_wav

Training (conf/speaker_embedder.yaml): ECAPA-TDNN + AAM-softmax on utterances split in time
(`voipdns.speaker.segments`), EER over all pairs of held-out segments before and after. Writes ``embedder.pt``
(config + state_dict, `voipdns.speaker.checkpoint`), ``csv/metrics.csv`` and ``results.json`` to the run
folder.
With ``embed.enrollment_dir`` the per-speaker mean embeddings of the enrollment speech are cached for
PPN/UPN training (`voipdns.speaker.cache.SpeakerEmbeddingCache`); the cache folder is written to
``embedding_dir.txt``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader

from voipdns.audio import list_audio_files, load_audio
from voipdns.cli.common import log, save_run_info
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR, to_plain
from voipdns.data.dns4 import speaker_of
from voipdns.speaker.augment import EnrollmentAugmenter
from voipdns.speaker.cache import SpeakerEmbeddingCache
from voipdns.speaker.checkpoint import load_embedder, save_embedder
from voipdns.speaker.segments import TrainSegments, ValidationSegments, load_speaker_directory
from voipdns.speaker.task import SpeakerEmbedderTask


def build_data(cfg: DictConfig) -> tuple[DataLoader, DataLoader, int]:
    data = cfg.data
    utterances = load_speaker_directory(data.directory, cfg.sample_rate, data.max_seconds, data.max_speakers)
    segment_samples = int(data.segment_seconds * cfg.sample_rate)
    train = TrainSegments(utterances, segment_samples, data.val_fraction, data.train_segments_per_epoch, cfg.seed)
    val = ValidationSegments(utterances, train.speakers, segment_samples, data.val_fraction, data.val_per_speaker)
    log.info("%d utterances, %d speakers, %d held-out segments", len(utterances), len(train.speakers), len(val))
    return (
        DataLoader(train, batch_size=data.batch_size, shuffle=False, drop_last=True),
        DataLoader(val, batch_size=1),
        len(train.speakers),
    )


def validation_eer(trainer: L.Trainer, task: SpeakerEmbedderTask, loader: DataLoader) -> float:
    return float(trainer.validate(task, loader, verbose=False)[0]["val/eer"])


def train_embedder(cfg: DictConfig, run_dir: Path) -> tuple[nn.Module, dict]:
    """Fit the embedder; returns it with the results (EER before / after, steps, minutes, sizes)."""
    train_loader, val_loader, n_speakers = build_data(cfg)
    embedder = instantiate(cfg.embedder)
    task = SpeakerEmbedderTask(embedder, n_speakers, **cfg.task)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(run_dir, name="csv", version=""),
        enable_checkpointing=False,
        enable_progress_bar=False,
        **cfg.trainer,
    )
    eer_before = validation_eer(trainer, task, val_loader)
    start = time.monotonic()
    trainer.fit(task, train_loader, val_loader)
    minutes = (time.monotonic() - start) / 60.0
    eer_after = validation_eer(trainer, task, val_loader)
    save_embedder(run_dir / "embedder.pt", embedder, to_plain(cfg.embedder))
    return embedder, {
        "eer_untrained": eer_before,
        "eer_trained": eer_after,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "train_minutes": round(minutes, 2),
        "speakers": n_speakers,
        "held_out_segments": len(val_loader.dataset),
        "params": sum(p.numel() for p in embedder.parameters()),
    }


def enrollment_files(enrollment_dir: str | Path, speaker_from: str) -> dict[str, list[Path]]:
    """{speaker: enrollment files}, grouped by the rule DNS4Dataset uses (``enrol_`` prefixes ignored)."""
    root = Path(enrollment_dir)
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in list_audio_files(root):
        groups[speaker_of(path, root, speaker_from)].append(path)
    if not groups:
        raise FileNotFoundError(f"embed.enrollment_dir={root}: no audio files")
    return dict(sorted(groups.items()))


def _augmenter(embed: DictConfig, sample_rate: int) -> EnrollmentAugmenter | None:
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


def embed_enrollments(cfg: DictConfig, embedder: nn.Module) -> tuple[Path, int]:
    """Cache one mean embedding per enrollment speaker; returns (cache folder, speakers written)."""
    embed = cfg.embed
    cache = SpeakerEmbeddingCache(embed.cache_dir, embedder)
    augment = _augmenter(embed, cfg.sample_rate)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    max_samples = int(float(embed.max_seconds) * cfg.sample_rate)
    groups = enrollment_files(embed.enrollment_dir, embed.speaker_from)
    for speaker, files in groups.items():
        clips = [load_audio(path, cfg.sample_rate)[:, :max_samples] for path in files]
        if augment is not None:
            clips = [variant for clip in clips for variant in augment(clip, generator)]
        cache.save(speaker, cache.compute(clips))
    log.info("embedded %d enrollment speakers into %s", len(groups), cache.directory)
    return cache.directory, len(groups)


def run(cfg: DictConfig) -> dict:
    """Train and/or embed as configured; returns the results written to results.json."""
    torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)
    save_run_info(cfg, str(run_dir))
    if cfg.train:
        embedder, results = train_embedder(cfg, run_dir)
    elif cfg.get("embedder_path"):
        embedder, results = load_embedder(cfg.embedder_path), {"embedder_path": str(cfg.embedder_path)}
    else:
        raise ValueError("voipdns-train-speaker: train=false needs embedder_path=<embedder.pt>")
    if cfg.embed.get("enrollment_dir"):
        directory, count = embed_enrollments(cfg, embedder)
        results.update({"embedding_dir": str(directory), "embedded_speakers": count})
        (run_dir / "embedding_dir.txt").write_text(f"{directory}\n")
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="speaker_embedder")
@cli_entry(resume=None)
def main(cfg: DictConfig) -> float | None:
    results = run(cfg)
    return results.get("eer_trained")


if __name__ == "__main__":
    main()
