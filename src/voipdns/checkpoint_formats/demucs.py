"""Files of the reference Demucs trainer (``best.th``, ``checkpoint.th``), and Demucs config inference.

``best.th`` = ``{class, args, kwargs, state}``; ``checkpoint.th`` = ``{model, optimizer, history,
best_state, args}`` where ``model`` is a ``best.th``-like dict holding the *last* weights and
``best_state`` the best ones.
"""

from __future__ import annotations

from typing import Any

import torch

from voipdns.checkpoint_formats.common import (
    LoadedCheckpoint,
    config_from_call,
    require_keys,
    require_state_dict,
)
from voipdns.checkpoint_formats.errors import CheckpointFormatError
from voipdns.checkpoint_formats.unpickle import is_pickled_reference

DEMUCS_TARGET = "voipdns.models.demucs.Demucs"
#: Pickled class (as ``module.name``) -> the voipdns class with the same constructor and keys.
PICKLED_CLASSES = {"denoiser.demucs.Demucs": DEMUCS_TARGET, "voipdns.models.demucs.Demucs": DEMUCS_TARGET}
BEST_KEYS = ("class", "args", "kwargs", "state")
DEFAULT_MAX_HIDDEN = 10_000


def _pickled_class_name(klass: Any) -> str:
    if is_pickled_reference(klass):
        return klass.qualified_name()
    if isinstance(klass, type):
        return f"{klass.__module__}.{klass.__qualname__}"
    return repr(klass)


def _from_serialized_model(package: Any, state: Any, fmt: str, what: str) -> LoadedCheckpoint:
    require_keys(package, BEST_KEYS, what)
    name = _pickled_class_name(package["class"])
    if name not in PICKLED_CLASSES:
        raise CheckpointFormatError(f"{what} holds a {name}; supported classes: {sorted(PICKLED_CLASSES)}")
    config = config_from_call(PICKLED_CLASSES[name], package["args"], package["kwargs"], what)
    return LoadedCheckpoint(require_state_dict(state, f"{what} state"), config, fmt)


def convert_best(obj: Any, source: str) -> LoadedCheckpoint:
    require_keys(obj, BEST_KEYS, source)
    return _from_serialized_model(obj, obj["state"], "demucs_best", source)


def convert_checkpoint(obj: Any, source: str) -> LoadedCheckpoint:
    """Use the best weights when the run recorded them, else the last ones."""
    require_keys(obj, ("model",), source)
    model = obj["model"]
    require_keys(model, BEST_KEYS, f"{source} ['model']")
    state = obj.get("best_state") if obj.get("best_state") is not None else model["state"]
    return _from_serialized_model(model, state, "demucs_checkpoint", f"{source} ['model']")


def is_best(obj: Any) -> bool:
    return isinstance(obj, dict) and set(BEST_KEYS) <= set(obj)


def is_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and is_best(obj.get("model")) and ("best_state" in obj or "optimizer" in obj)


def _channels(state: dict[str, torch.Tensor], depth: int) -> list[int]:
    return [state[f"encoder.{i}.0.weight"].shape[0] for i in range(depth)]


def _expected_channels(hidden: int, growth: float, max_hidden: int, depth: int) -> list[int]:
    channels = [hidden]
    for _ in range(depth - 1):
        channels.append(min(int(growth * channels[-1]), max_hidden))
    return channels


def infer_demucs_config(state: dict[str, torch.Tensor]) -> dict | None:
    """Demucs config from a plain state_dict's shapes; ``None`` if the keys are not a Demucs layout.

    Shapes give chin, chout, hidden, depth, kernel_size, glu, growth, max_hidden and causal (a
    bidirectional LSTM has ``lstm.linear``). Stride, resample, normalize, floor and sample_rate leave no
    trace in the weights, so they take the reference defaults (true of every official checkpoint); pass
    ``net_config`` otherwise.
    """
    if "encoder.0.0.weight" not in state or "lstm.lstm.weight_ih_l0" not in state:
        return None
    depth = sum(1 for key in state if key.startswith("encoder.") and key.endswith(".0.weight"))
    hidden, chin, kernel_size = state["encoder.0.0.weight"].shape
    channels = _channels(state, depth)
    growth: float = channels[1] / channels[0] if depth > 1 else 2
    growth = int(growth) if float(growth).is_integer() else growth
    max_hidden = DEFAULT_MAX_HIDDEN
    if _expected_channels(hidden, growth, max_hidden, depth) != channels:
        max_hidden = max(channels)
        if _expected_channels(hidden, growth, max_hidden, depth) != channels:
            raise CheckpointFormatError(f"Demucs encoder channels {channels} fit no hidden/growth/max_hidden")
    return {
        "_target_": DEMUCS_TARGET,
        "chin": int(chin),
        "chout": int(state[f"decoder.{depth - 1}.2.weight"].shape[1]),
        "hidden": int(hidden),
        "depth": depth,
        "kernel_size": int(kernel_size),
        "causal": "lstm.linear.weight" not in state,
        "growth": growth,
        "max_hidden": max_hidden,
        "glu": state["encoder.0.2.weight"].shape[0] == 2 * hidden,
    }
