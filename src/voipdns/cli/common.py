"""What every entry point shares: instantiating config lists, resolving checkpoints, saving the environment."""

from __future__ import annotations

import json
import logging
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from voipdns.config import CONFIG_DIR  # noqa: F401  (re-exported for @hydra.main)

log = logging.getLogger("voipdns")

_VERSIONED_PACKAGES = ("torch", "lightning", "hydra-core", "numpy", "soundfile", "soxr", "pesq", "pystoi",
                       "onnxruntime", "voipdns")


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


def environment_info() -> dict[str, str]:
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED_PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def save_run_info(cfg: DictConfig, output_dir: str) -> None:
    """The resolved config and package versions beside the run's outputs (Hydra keeps the unresolved one)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (folder / "environment.json").write_text(json.dumps(environment_info(), indent=2))
