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

from voipdns.checkpoint_formats.errors import CheckpointFormatError, CheckpointKeyError
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


#: How many offending keys a CheckpointKeyError lists per kind (missing, unexpected, reshaped).
LISTED_KEYS = 5
#: In an expected shape, this size matches any size (a dimension that config inference reads).
ANY_SIZE = -1


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join("*" if size == ANY_SIZE else str(size) for size in shape) + "]"


def _shape_matches(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(actual) == len(expected) and all(e in (ANY_SIZE, a) for a, e in zip(actual, expected, strict=True))


def _first(items: list[str]) -> str:
    more = f", ... (+{len(items) - LISTED_KEYS} more)" if len(items) > LISTED_KEYS else ""
    return ", ".join(items[:LISTED_KEYS]) + more


def check_state_dict(path: Any, state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]]) -> None:
    """Raise ``CheckpointKeyError`` unless ``state`` has exactly the keys of ``expected`` with their shapes.

    Call it on an official state_dict before reading sizes from it (config inference), so a renamed or
    reshaped key is reported with the file, the key and the expected shape instead of a bare ``KeyError``.
    A size of ``ANY_SIZE`` (-1) in an expected shape matches any size; the number of dimensions must match.
    """
    missing = [f"{key} {_shape_text(shape)}" for key, shape in expected.items() if key not in state]
    unexpected = [f"{key} {list(state[key].shape)}" for key in state if key not in expected]
    reshaped = [
        f"{key} {list(state[key].shape)}, expected {_shape_text(shape)}"
        for key, shape in expected.items()
        if key in state and not _shape_matches(tuple(state[key].shape), tuple(shape))
    ]
    problems = [
        f"{label} ({len(keys)}): {_first(keys)}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("reshaped", reshaped))
        if keys
    ]
    if problems:
        raise CheckpointKeyError(f"{path}: state_dict keys do not match the expected layout; " + "; ".join(problems))


def shapes_of_config(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state_dict shapes of the net ``config`` builds, without allocating weights (meta device)."""
    kwargs = {key: value for key, value in config.items() if key != "_target_"}
    with torch.device("meta"):
        net = get_class(config["_target_"])(**kwargs)
    return {key: tuple(value.shape) for key, value in net.state_dict().items()}
