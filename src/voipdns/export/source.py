"""A model to export or stream, with the net config that rebuilds it (stored in ONNX metadata).

``load_model(spec)`` accepts what ``voipdns.pretrained.load_net`` does (registry name, checkpoint path);
``model_from_config(config)`` builds an untrained net from a Hydra net config (for benchmarks and tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voipdns.baselines import BaselineOfflineOnlyError, is_baseline
from voipdns.checkpoint_formats import infer_net_config
from voipdns.config import to_plain
from voipdns.models.base import EnhancementNet
from voipdns.pretrained import build_net, load_net, read_checkpoint, resolve_registry_entry


@dataclass
class ModelSource:
    net: EnhancementNet
    config: dict
    name: str
    trained: bool


def _checkpoint_config(path: Path) -> dict | None:
    loaded = read_checkpoint(path)
    return loaded.net_config or infer_net_config(loaded.state_dict, str(path))


def load_model(spec: str | Path) -> ModelSource:
    """A trained net from a registry name or checkpoint path, with its net config."""
    path = Path(spec)
    if is_baseline(spec):  # native engines: nothing to stream or export
        raise BaselineOfflineOnlyError(str(spec))
    if path.is_file():
        config = _checkpoint_config(path)
        net = load_net(path, net_config=config)
        return ModelSource(net, to_plain(config) if config else {}, path.stem, True)
    entry = resolve_registry_entry(str(spec))  # raises with the known names when spec is neither
    return ModelSource(load_net(str(spec)), dict(entry.net), str(spec), True)


def model_from_config(config: Any, name: str | None = None) -> ModelSource:
    """An untrained net (random initial weights) from a Hydra net config with ``_target_``."""
    plain = to_plain(config)
    if not isinstance(plain, dict) or "_target_" not in plain:
        raise ValueError(f"net config needs a _target_, got {plain!r}")
    net = build_net(plain, "net config").eval()
    return ModelSource(net, plain, name or plain["_target_"].rsplit(".", 1)[-1].lower(), False)
