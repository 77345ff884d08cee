"""Shared pieces of the checkpoint converters: the result type and checks on loaded objects."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from voipdns.checkpoint_formats.errors import CheckpointFormatError
from voipdns.checkpoint_formats.unpickle import PickledReference


@dataclass
class LoadedCheckpoint:
    """What every format converter returns.

    ``net_config`` is a hydra config (``_target_`` + kwargs) when the file says how to build the net, else
    ``None`` (plain state_dicts: the caller passes a config or one is inferred from the tensor shapes).
    """

    state_dict: dict[str, torch.Tensor]
    net_config: dict | None
    format: str


def as_plain_mapping(obj: Any, what: str) -> dict:
    """A dict from a dict, an OmegaConf DictConfig, or an unimported dict subclass (e.g. AttributeDict)."""
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)  # type: ignore[return-value]
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, PickledReference):
        return dict(obj.pickled_items)
    raise CheckpointFormatError(f"{what} should be a mapping, got {type(obj).__name__}")


def require_state_dict(obj: Any, what: str) -> dict[str, torch.Tensor]:
    """Check ``obj`` maps str -> Tensor and return it as a plain dict."""
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointFormatError(f"{what} should be a non-empty state_dict, got {type(obj).__name__}")
    bad = [str(key) for key, value in obj.items() if not isinstance(key, str) or not torch.is_tensor(value)]
    if bad:
        raise CheckpointFormatError(f"{what} has entries that are not str -> Tensor: {bad[:10]}")
    return dict(obj)


def require_keys(obj: Any, keys: tuple[str, ...], what: str) -> None:
    if not isinstance(obj, Mapping):
        raise CheckpointFormatError(f"{what} should be a dict, got {type(obj).__name__}")
    missing = [key for key in keys if key not in obj]
    if missing:
        raise CheckpointFormatError(f"{what} lacks {missing}; it has {sorted(map(str, obj))}")


def config_from_call(target: str, args: Any, kwargs: Any, what: str) -> dict:
    """Hydra config for ``target(*args, **kwargs)``, naming positional args from the constructor signature.

    Unknown keyword arguments are dropped with a warning, as the reference loader does (older training runs
    recorded options the model no longer takes); the strict key check still catches a different layout.
    """
    params = [
        p for p in inspect.signature(get_class(target).__init__).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]  # fmt: skip
    names = [p.name for p in params]
    args, kwargs = tuple(args or ()), as_plain_mapping(kwargs or {}, f"{what} kwargs")
    if len(args) > len(names):
        raise CheckpointFormatError(f"{what}: {len(args)} positional args for {target}, which takes {names}")
    config = dict(zip(names, args, strict=False))  # fewer args than names is fine
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        warnings.warn(f"{what}: ignoring arguments {unknown} that {target} does not take", stacklevel=3)
    config.update({key: value for key, value in kwargs.items() if key in names})
    return {"_target_": target, **config}
