"""What every entry point shares: instantiating config lists, resolving checkpoints, saving the environment."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write

from voipdns.config import CONFIG_DIR  # noqa: F401  (re-exported for @hydra.main)
from voipdns.git_state import git_state

log = logging.getLogger("voipdns")

_VERSIONED_PACKAGES = (
    "torch",
    "lightning",
    "hydra-core",
    "numpy",
    "soundfile",
    "soxr",
    "pesq",
    "pystoi",
    "onnxruntime",
    "voipdns",
)


def instantiate_dict(config: DictConfig | None) -> list[Any]:
    """Build every ``_target_`` entry of a named group (callbacks, loggers); skips entries set to null."""
    if not config:
        return []
    return [hydra.utils.instantiate(entry) for entry in config.values() if entry and "_target_" in entry]


def resolve_ckpt_path(ckpt_path: str | None, output_dir: str) -> str | None:
    """``last`` means this run folder's last.ckpt; a clear error says how to point at an interrupted run."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        candidate = Path(output_dir) / "checkpoints" / "last.ckpt"
        if not candidate.exists():
            raise FileNotFoundError(
                f"ckpt_path=last but {candidate} does not exist. Resume in the interrupted run's folder: pass the "
                f"same run_name=<name> (folder logs/<task>/runs/<name>) or hydra.run.dir=<that folder>."
            )
        return str(candidate)
    if not Path(ckpt_path).exists():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such checkpoint file")
    return ckpt_path


def refuse_silent_resume(ckpt_path: str | None, output_dir: str) -> None:
    """Lightning resumes from last.ckpt on its own when the run folder has one (OnExceptionCheckpoint); a fresh
    run (``ckpt_path=null``) in a used folder would silently continue the old one, so say what to do instead."""
    previous = Path(output_dir) / "checkpoints"
    if ckpt_path in (None, "", "null") and previous.is_dir() and any(previous.glob("*.ckpt")):
        raise FileExistsError(
            f"{previous} holds checkpoints of an earlier run. Resume it with ckpt_path=last, or start a new run "
            f"with another run_name (or hydra.run.dir)."
        )


# Lightning's launcher exports these into the environment of the process that starts the DDP ranks.
_DDP_LAUNCH_ENV = ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_environment_before_sweep: dict[str, str | None] | None = None


def prepare_ddp_relaunch() -> None:
    """In a Hydra multirun, make Lightning's DDP children re-run this job alone, in this job's folder.

    Lightning re-launches ``sys.argv`` + ``hydra.run.dir`` for ranks > 0; under ``-m`` that argv is the whole sweep
    (with a re-evaluated time-stamped run_name), so the children would write into another folder. A previous job
    of the sweep also leaves its process group and launch variables behind, which must be undone.
    """
    global _environment_before_sweep
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    hydra_cfg = HydraConfig.get()
    if _environment_before_sweep is None:
        _environment_before_sweep = {key: os.environ.get(key) for key in _DDP_LAUNCH_ENV}
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key, value in _environment_before_sweep.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task, "hydra.mode=RUN"]
    node = HydraConfig.instance().cfg
    with read_write(node.hydra):
        node.hydra.run.dir = hydra_cfg.runtime.output_dir


def environment_info() -> dict[str, object]:
    """What a run's numbers depend on beyond its config: code version, packages and the compute libraries."""
    info: dict[str, object] = {"python": sys.version.split()[0], "platform": platform.platform(), **git_state()}
    for name in _VERSIONED_PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    # float results differ across these (kernels, thread counts), so a comparison across machines must know them
    info["cuda"] = torch.version.cuda
    info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    info["torch_threads"] = torch.get_num_threads()
    return info


def save_run_info(cfg: DictConfig, output_dir: str) -> None:
    """The resolved config and package versions beside the run's outputs (Hydra keeps the unresolved one)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (folder / "environment.json").write_text(json.dumps(environment_info(), indent=2))


def training_resume_overrides(cfg: DictConfig) -> list[str]:
    """After Ctrl-C: the overrides that continue this training run in its folder from its newest safe checkpoint.

    ``last.ckpt`` (written between steps) is preferred; ``on_exception.ckpt`` (written by the interrupt) is used
    when no ``last.ckpt`` exists yet; with neither, the rerun starts the run again in the same folder.
    """
    checkpoints = Path(cfg.paths.output_dir) / "checkpoints"
    run_name = [f"run_name={cfg.run_name}"] if cfg.get("run_name") else []
    if (checkpoints / "last.ckpt").is_file():
        return [*run_name, "ckpt_path=last"]
    if (checkpoints / "on_exception.ckpt").is_file():
        return [*run_name, f"ckpt_path={checkpoints / 'on_exception.ckpt'}"]
    return run_name
