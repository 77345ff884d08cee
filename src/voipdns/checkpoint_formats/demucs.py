"""Files of the reference Demucs trainer (``best.th``, ``checkpoint.th``), and Demucs config inference.

``best.th`` = ``{class, args, kwargs, state}``; ``checkpoint.th`` = ``{model, optimizer, history,
best_state, args}`` where ``model`` is a ``best.th``-like dict holding the *last* weights and
``best_state`` the best ones.
"""

from __future__ import annotations

from typing import Any

import torch

from voipdns.checkpoint_formats.common import (
    ANY_SIZE,
    LoadedCheckpoint,
    check_state_dict,
    config_from_call,
    require_keys,
    require_state_dict,
    shapes_of_config,
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


def _key_index(key: str, part: str) -> int | None:
    pieces = key.split(".")
    return int(pieces[1]) if len(pieces) > 2 and pieces[0] == part and pieces[1].isdigit() else None


def _depth(state: dict[str, torch.Tensor]) -> int:
    """Encoder layers, counted from the largest index of any ``encoder.N.*`` or ``decoder.N.*`` key."""
    indices = [_key_index(key, part) for key in state for part in ("encoder", "decoder")]
    return 1 + max(index for index in indices if index is not None)


def demucs_layout(depth: int, causal: bool, lstm_layers: int = 2) -> dict[str, tuple[int, ...]]:
    """Every key of a Demucs state_dict with its number of dimensions (sizes ``ANY_SIZE`` except 1x1 kernels)."""
    layout: dict[str, tuple[int, ...]] = {}
    for part in ("encoder", "decoder"):
        for index in range(depth):
            first, second = (f"{part}.{index}.0", f"{part}.{index}.2")
            conv, pointwise = (first, second) if part == "encoder" else (second, first)
            layout |= {f"{conv}.weight": (ANY_SIZE,) * 3, f"{conv}.bias": (ANY_SIZE,)}
            layout |= {f"{pointwise}.weight": (ANY_SIZE, ANY_SIZE, 1), f"{pointwise}.bias": (ANY_SIZE,)}
    for layer in range(lstm_layers):
        for suffix in [f"_l{layer}"] + ([] if causal else [f"_l{layer}_reverse"]):
            layout |= {f"lstm.lstm.weight_{gate}{suffix}": (ANY_SIZE, ANY_SIZE) for gate in ("ih", "hh")}
            layout |= {f"lstm.lstm.bias_{gate}{suffix}": (ANY_SIZE,) for gate in ("ih", "hh")}
    if not causal:
        layout |= {"lstm.linear.weight": (ANY_SIZE, ANY_SIZE), "lstm.linear.bias": (ANY_SIZE,)}
    return layout


def _looks_like_demucs(state: dict[str, torch.Tensor]) -> bool:
    return any(key.startswith("encoder.") for key in state) and any(key.startswith("lstm.lstm.") for key in state)


def _expected_channels(hidden: int, growth: float, max_hidden: int, depth: int) -> list[int]:
    channels = [hidden]
    for _ in range(depth - 1):
        channels.append(min(int(growth * channels[-1]), max_hidden))
    return channels


def infer_demucs_config(state: dict[str, torch.Tensor], source: str = "a state_dict") -> dict | None:
    """Demucs config from a plain state_dict's shapes; ``None`` if the keys are not a Demucs layout.

    Shapes give chin, chout, hidden, depth, kernel_size, glu, growth, max_hidden and causal (a
    bidirectional LSTM has ``lstm.linear``). Stride, resample, normalize, floor and sample_rate leave no
    trace in the weights, so they take the reference defaults (true of every official checkpoint); pass
    ``net_config`` otherwise. The keys are checked first (every key, its rank) and the inferred config's
    shapes after, so a renamed or reshaped key raises ``CheckpointKeyError`` naming ``source``.
    """
    if not _looks_like_demucs(state):
        return None
    depth = _depth(state)
    causal = not any(key.startswith("lstm.linear.") or key.endswith("_reverse") for key in state)
    check_state_dict(source, state, demucs_layout(depth, causal))
    hidden, chin, kernel_size = state["encoder.0.0.weight"].shape
    channels = [state[f"encoder.{i}.0.weight"].shape[0] for i in range(depth)]
    growth: float = channels[1] / channels[0] if depth > 1 else 2
    growth = int(growth) if float(growth).is_integer() else growth
    max_hidden = DEFAULT_MAX_HIDDEN
    if _expected_channels(hidden, growth, max_hidden, depth) != channels:
        max_hidden = max(channels)
        if _expected_channels(hidden, growth, max_hidden, depth) != channels:
            raise CheckpointFormatError(f"{source}: Demucs encoder channels {channels} fit no hidden/growth/max_hidden")
    config = {
        "_target_": DEMUCS_TARGET,
        "chin": int(chin),
        "chout": int(state[f"decoder.{depth - 1}.2.weight"].shape[1]),
        "hidden": int(hidden),
        "depth": depth,
        "kernel_size": int(kernel_size),
        "causal": causal,
        "growth": growth,
        "max_hidden": max_hidden,
        "glu": state["encoder.0.2.weight"].shape[0] == 2 * hidden,
    }
    check_state_dict(source, state, shapes_of_config(config))
    return config
