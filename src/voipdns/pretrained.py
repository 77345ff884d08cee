"""Load any supported checkpoint into a voipdns net: ``load_net(name_or_path) -> EnhancementNet``.

Accepted: a name from ``checkpoints/registry.yaml`` (downloaded once into a cache and hash-checked), or a path
to an official state_dict, a reference ``best.th`` / ``checkpoint.th``, or a voipdns Lightning checkpoint.
Weights are matched strictly: missing, unexpected or mis-shaped keys raise ``CheckpointKeyError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from hydra.utils import instantiate

from voipdns.baselines import is_baseline, load_baseline
from voipdns.checkpoint_formats import FORMATS, LoadedCheckpoint, convert, infer_net_config
from voipdns.checkpoint_formats.common import check_state_dict
from voipdns.checkpoint_formats.errors import (
    CheckpointError,
    CheckpointFormatError,
    CheckpointNotFoundError,
    UnknownCheckpointError,
)
from voipdns.checkpoint_formats.fetch import default_cache_dir, fetch, verify_sha256
from voipdns.checkpoint_formats.unpickle import load_restricted
from voipdns.models.base import EnhancementNet

REGISTRY_ENV = "VOIPDNS_REGISTRY"
DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "checkpoints" / "registry.yaml"
_REQUIRED_FIELDS = ("format", "net")
_CHECKPOINT_SUFFIXES = {".th", ".pt", ".pth", ".ckpt", ".bin", ".tar"}


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    url: str | None
    format: str
    net: dict
    file: Path | None = None  # shipped beside the registry: no download
    sha256_prefix: str | None = None
    sha256: str | None = None
    license: str | None = None
    extra: dict = field(default_factory=dict)  # description, source, sample_rate, ...


def _registry_file(registry_path: str | Path | None) -> Path:
    path = Path(registry_path or os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint registry {path} not found (set {REGISTRY_ENV} or pass one)")
    return path


def _entry(name: str, raw: Any, path: Path) -> RegistryEntry:
    where = f"{path} entry '{name}'"
    if not isinstance(raw, dict):
        raise CheckpointFormatError(f"{where} should be a mapping, got {type(raw).__name__}")
    missing = [key for key in _REQUIRED_FIELDS if not raw.get(key)]
    if missing:
        raise CheckpointFormatError(f"{where} lacks {missing}")
    if not (raw.get("url") or raw.get("file")):
        raise CheckpointFormatError(f"{where} needs url (downloaded) or file (shipped beside the registry)")
    if not (raw.get("sha256") or raw.get("sha256_prefix")):
        raise CheckpointFormatError(f"{where} needs sha256 or sha256_prefix")
    if raw["format"] not in FORMATS:
        raise CheckpointFormatError(f"{where}: format '{raw['format']}' is not one of {sorted(FORMATS)}")
    if "_target_" not in raw["net"]:
        raise CheckpointFormatError(f"{where}: net has no '_target_'")
    known = {"url", "format", "net", "sha256_prefix", "sha256", "license", "file"}
    return RegistryEntry(
        name=name,
        **{key: raw.get(key) for key in known if key not in ("net", "file")},
        net=dict(raw["net"]),
        file=path.parent / raw["file"] if raw.get("file") else None,
        extra={key: value for key, value in raw.items() if key not in known},
    )


def read_registry(registry_path: str | Path | None = None) -> dict[str, RegistryEntry]:
    path = _registry_file(registry_path)
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise CheckpointFormatError(f"{path}: top level should map names to entries")
    return {str(name): _entry(str(name), value, path) for name, value in raw.items()}


def list_registry(registry_path: str | Path | None = None) -> list[str]:
    return sorted(read_registry(registry_path))


def resolve_registry_entry(name: str, registry_path: str | Path | None = None) -> RegistryEntry:
    registry = read_registry(registry_path)
    if name not in registry:
        raise UnknownCheckpointError(
            f"'{name}' is neither an existing checkpoint file nor a registry name; known names: {sorted(registry)}"
        )
    return registry[name]


def read_checkpoint(path: str | Path, map_location: Any = "cpu", fmt: str | None = None) -> LoadedCheckpoint:
    """Load ``path`` without importing pickled classes and convert it (``fmt`` None: detect the format)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint file {path} does not exist")
    return convert(load_restricted(path, map_location), fmt, str(path))


def build_net(config: Any, source: str) -> EnhancementNet:
    try:
        net = instantiate(config)
    except Exception as err:  # hydra wraps constructor errors; keep the source in the message
        raise CheckpointFormatError(f"{source}: cannot build net from {config}: {err}") from err
    if not isinstance(net, EnhancementNet):
        raise CheckpointFormatError(f"{source}: {config['_target_']} is not an EnhancementNet")
    return net


def load_state_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` that fails on any missing, unexpected or reshaped key (``CheckpointKeyError`` naming
    ``source`` and the keys with their expected shapes, as ``checkpoint_formats.common.check_state_dict``)."""
    expected = {key: tuple(value.shape) for key, value in net.state_dict().items()}
    check_state_dict(f"{source} ({type(net).__name__})", state, expected)
    net.load_state_dict(state, strict=True)


def _looks_like_path(name: str) -> bool:
    return "/" in name or os.sep in name or Path(name).suffix.lower() in _CHECKPOINT_SUFFIXES


def _locate(name_or_path: str | Path, cache_dir: str | Path | None, registry_path: str | Path | None):
    """``(file path, registry entry or None)``; a path that exists wins over a registry name."""
    path, name = Path(name_or_path), str(name_or_path)
    if path.is_file():
        return path, None
    if path.is_dir():
        raise CheckpointNotFoundError(f"{path} is a directory; pass the checkpoint file inside it")
    if _looks_like_path(name):
        raise CheckpointNotFoundError(f"checkpoint file {path} does not exist")
    entry = resolve_registry_entry(name, registry_path)
    if entry.file is not None:  # shipped with voipdns: checked like a download, never fetched
        if not entry.file.is_file():
            raise CheckpointNotFoundError(f"registry entry '{name}': shipped file {entry.file} is missing")
        verify_sha256(entry.file, entry.sha256, entry.sha256_prefix, name)
        return entry.file, entry
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    return fetch(entry.url, cache, name, entry.sha256, entry.sha256_prefix), entry


def load_net(
    name_or_path: str | Path,
    *,
    net_config: dict | None = None,
    map_location: Any = "cpu",
    cache_dir: str | Path | None = None,
    registry_path: str | Path | None = None,
) -> EnhancementNet:
    """Build the net a checkpoint describes and load its weights strictly; returned in eval mode.

    The net config is, in order: ``net_config`` if given, the one the file or registry entry records, or one
    inferred from a plain state_dict's shapes (Demucs). ``map_location`` also moves the net when it names a
    device. ``cache_dir`` defaults to ``$VOIPDNS_CHECKPOINT_DIR`` or torch.hub's checkpoint dir.
    """
    if is_baseline(name_or_path):  # rnnoise, deepfilternet3: native engines from the baselines extra
        return load_baseline(str(name_or_path))
    path, entry = _locate(name_or_path, cache_dir, registry_path)
    loaded = read_checkpoint(path, map_location, entry.format if entry else None)
    config = net_config or (entry.net if entry else None) or loaded.net_config
    config = config or infer_net_config(loaded.state_dict, str(path))
    if config is None:
        raise CheckpointFormatError(
            f"{path}: a {loaded.format} file does not say which net it holds; pass net_config={{'_target_': ...}}"
        )
    net = build_net(config, str(path))
    load_state_strict(net, loaded.state_dict, str(path))
    if isinstance(map_location, (str, torch.device)):
        net.to(map_location)
    return net.eval()


__all__ = [
    "CheckpointError",
    "RegistryEntry",
    "list_registry",
    "load_net",
    "load_state_strict",
    "read_checkpoint",
    "read_registry",
    "resolve_registry_entry",
]
