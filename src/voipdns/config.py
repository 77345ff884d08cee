"""Hydra/OmegaConf glue: config folder location, custom resolvers, config -> plain dict."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

#: The project folder: src/voipdns/config.py -> parents[2]. Editable installs keep conf/ beside src/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = Path(os.environ.get("VOIPDNS_CONFIG_DIR", PROJECT_ROOT / "conf"))


def _run_id(path: str) -> str:
    """A stable id for a run folder (W&B resumes the same run when the folder is reused)."""
    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]


def _short_dirname(overrides: str, max_chars: int = 120) -> str:
    """A sweep job's folder name from its overrides, hashed past ``max_chars`` (file names stop at 255)."""
    if len(overrides) <= max_chars:
        return overrides
    return f"{overrides[: max_chars - 13]}_{hashlib.sha1(overrides.encode()).hexdigest()[:12]}"


def _group_options(group: str) -> str:
    """The options of a config group, comma-separated (each app's --help lists its groups from the files)."""
    folder = CONFIG_DIR / group
    return ", ".join(sorted(str(path.relative_to(folder).with_suffix("")) for path in folder.rglob("*.yaml")))


def register_resolvers() -> None:
    resolvers = {
        "voipdns_root": lambda: str(PROJECT_ROOT),
        "run_id": _run_id,
        "short_dirname": _short_dirname,
        "group_options": _group_options,
    }
    for name, function in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


def net_config(name: str) -> DictConfig:
    """``conf/net/<name>.yaml`` without Hydra: the net's constructor arguments (its ``defaults`` list, which
    names the base loss for ``voipdns-train``, is left out)."""
    config = OmegaConf.load(CONFIG_DIR / "net" / f"{name}.yaml")
    config.pop("defaults", None)
    return config


def to_plain(config: Any) -> Any:
    """DictConfig/ListConfig -> dict/list with interpolations resolved (safe to pickle into checkpoints)."""
    if isinstance(config, (DictConfig, ListConfig)):
        return OmegaConf.to_container(config, resolve=True)
    return config


register_resolvers()
