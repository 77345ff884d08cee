"""voipdns-train-speaker: train a speaker embedder, report its held-out EER, cache enrollment embeddings.

    voipdns-train-speaker data.directory=../shared/data/speech/librispeech-train-clean-100 [trainer=gpu]
    voipdns-train-speaker train=false embedder_path=<run>/embedder.pt embed.enrollment_dir=/DNS4/enrol_wav

Training (conf/speaker_embedder.yaml): ECAPA-TDNN + AAM-softmax on utterances split in time
(`voipdns.speaker.datamodule`), EER over all pairs of held-out segments before and after
(`voipdns.speaker.training`). Writes ``embedder.pt`` (`voipdns.speaker.checkpoint`), ``csv/metrics.csv`` and
``results.json`` to the run folder. With ``embed.enrollment_dir`` the per-speaker mean embeddings of the
enrollment speech are cached for PPN/UPN training (`voipdns.data.enrollment_embeddings`); the cache folder is written
to ``embedding_dir.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from voipdns.cli.common import instantiate_dict, save_run_info
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR, to_plain
from voipdns.data.enrollment_embeddings import embed_enrollments
from voipdns.speaker.checkpoint import load_embedder, save_embedder
from voipdns.speaker.training import fit_with_eer


def train_embedder(cfg: DictConfig, run_dir: Path) -> tuple[nn.Module, dict]:
    """Fit the embedder and save it to ``embedder.pt``; returns it with the results."""
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")  # the head's size is the number of training speakers
    embedder = instantiate(cfg.embedder)
    task = instantiate(cfg.task, embedder=embedder, n_speakers=datamodule.n_speakers)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=instantiate_dict(cfg.get("logger")) or False)
    results = fit_with_eer(trainer, task, datamodule)
    save_embedder(run_dir / "embedder.pt", embedder, to_plain(cfg.embedder))
    return embedder, results


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
        directory, count = embed_enrollments(cfg.embed, embedder, cfg.sample_rate, cfg.seed)
        results.update({"embedding_dir": str(directory), "embedded_speakers": count})
        (run_dir / "embedding_dir.txt").write_text(f"{directory}\n")
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="speaker_embedder")
@cli_entry(resume=None)
def main(cfg: DictConfig) -> float | None:
    return run(cfg).get("eer_trained")


if __name__ == "__main__":
    main()
