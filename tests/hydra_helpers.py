"""Compose configs the way the entry points do, with the run folder in a temp dir."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from voipdns.config import CONFIG_DIR


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Composed config with ``hydra:`` interpolations resolvable and every path under ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir / "logs")
        cfg.paths.work_dir = str(output_dir)
        del cfg["hydra"]
    return cfg


def group_options(group: str) -> list[str]:
    """Every option of a config group (file names without .yaml, sub-folders included)."""
    root = CONFIG_DIR / group
    return sorted(str(path.relative_to(root).with_suffix("")) for path in root.rglob("*.yaml"))
