"""voipdns-train-tap: train the TAP estimator, report per-feature error on held-out speakers, export it."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig

from voipdns.checkpoint_formats.unpickle import load_restricted
from voipdns.cli.common import instantiate_dict, log, save_run_info
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR, to_plain
from voipdns.tap.evaluate import feature_errors, markdown_table


def _load_best(task: L.LightningModule, trainer: L.Trainer) -> str | None:
    best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
    if best:
        state = load_restricted(best)["state_dict"]  # a checkpoint is data: never unpickle code
        task.load_state_dict(state)
    return best or None


def train_estimator(cfg: DictConfig) -> dict:
    """Fit, pick the best validation checkpoint, evaluate on the test speakers, export; returns the report."""
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    save_run_info(cfg, str(output_dir))
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup()
    names, mean, std = datamodule.statistics
    task = hydra.utils.instantiate(cfg.model, feature_names=names, feature_mean=mean.tolist(), feature_std=std.tolist())
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=instantiate_dict(cfg.get("callbacks")),
        logger=instantiate_dict(cfg.get("logger")) or False,
    )
    trainer.fit(task, datamodule=datamodule)
    best = _load_best(task, trainer)

    reports = {"clean": feature_errors(task.estimator, datamodule.dataset("test", clean_only=True))}
    if datamodule.corpus_args["noisy_variants"]:
        reports["noisy"] = feature_errors(task.estimator, datamodule.dataset("test", clean_only=False))
    info = {
        "best_checkpoint": best,
        "global_step": trainer.global_step,
        "epochs": trainer.current_epoch,
        "config": to_plain(cfg.data),
        "test": reports,
    }
    (output_dir / "tap_estimator_test.json").write_text(json.dumps(info, indent=2))
    table = markdown_table(reports)
    (output_dir / "tap_estimator_test.md").write_text(table + "\n")
    path = task.export(
        cfg.export_path,
        extra={
            "train_info": {
                "global_step": trainer.global_step,
                "test_mean_mse": {k: r["mean_mse"] for k, r in reports.items()},
            }
        },
    )
    print(table)
    log.info("TAP estimator written to %s (run folder %s)", path, output_dir)
    return info


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="tap_estimator")
@cli_entry(resume=None)
def main(cfg: DictConfig) -> float:
    return train_estimator(cfg)["test"]["clean"]["mean_mse"]


if __name__ == "__main__":
    main()
