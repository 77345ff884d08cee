"""voipdns-train: compose the config, build data + task + trainer, fit, test, print input vs enhanced."""

from __future__ import annotations

import math

import hydra
import lightning as L
from omegaconf import DictConfig

from voipdns.cli.common import (
    instantiate_dict,
    log,
    prepare_ddp_relaunch,
    refuse_silent_resume,
    resolve_ckpt_path,
    save_run_info,
    training_resume_overrides,
)
from voipdns.cli.entry import cli_entry
from voipdns.config import CONFIG_DIR, to_plain
from voipdns.reports.console import improvement_table
from voipdns.tasks.config_checks import check_train_config

# What the closing table shows: the unprocessed input next to the enhanced output.
SUMMARY_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr")


def train(cfg: DictConfig) -> dict[str, float]:
    """One training run; returns the final metrics (callback_metrics of fit, then test)."""
    check_train_config(cfg)  # before any folder or model is made
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    output_dir = cfg.paths.output_dir
    if cfg.get("train") and writes_checkpoints(cfg):
        refuse_silent_resume(cfg.get("ckpt_path"), output_dir)
    prepare_ddp_relaunch()
    save_run_info(cfg, output_dir)

    datamodule = hydra.utils.instantiate(cfg.data)
    task = hydra.utils.instantiate(cfg.model)
    callbacks = instantiate_dict(cfg.get("callbacks"))
    loggers = instantiate_dict(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams({"config": to_plain(cfg)})

    metrics: dict[str, float] = {}
    if cfg.get("train"):
        trainer.fit(task, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), output_dir))
        metrics.update(_as_floats(trainer.callback_metrics))
    if cfg.get("test"):
        trainer.test(task, datamodule=datamodule, ckpt_path=_test_checkpoint(trainer, cfg))
        metrics.update(_as_floats(trainer.callback_metrics))
    if trainer.is_global_zero:
        table = improvement_table(metrics, SUMMARY_METRICS)
        if table:
            print(table)
        log.info("run folder: %s", output_dir)
    return metrics


def writes_checkpoints(cfg: DictConfig) -> bool:
    """Whether the run keeps checkpoints in its folder (and so could pick up an earlier run's found there)."""
    targets = [str(entry.get("_target_", "")) for entry in (cfg.get("callbacks") or {}).values() if entry]
    return any(target.endswith(("ModelCheckpoint", "OnExceptionCheckpoint")) for target in targets)


def _test_checkpoint(trainer: L.Trainer, cfg: DictConfig) -> str | None:
    """Test the best checkpoint of this fit; without a fit, the checkpoint given on the command line."""
    if not cfg.get("train"):
        return resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.output_dir)
    best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
    if best and not trainer.fast_dev_run:
        return best
    return None  # current weights (fast_dev_run saves no checkpoint)


def _as_floats(values: dict) -> dict[str, float]:
    return {key: float(value) for key, value in values.items()}


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
@cli_entry(resume=training_resume_overrides)
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    value = metrics.get(cfg.get("optimized_metric") or "")
    # a sweeper must not rank a diverged run first
    return None if value is None else (value if math.isfinite(value) else float("-inf"))


if __name__ == "__main__":
    main()
