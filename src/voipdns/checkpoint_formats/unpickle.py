"""Load ``torch.save`` files without importing or running code named inside the pickle.

``best.th`` and ``checkpoint.th`` from the reference trainer pickle the model *class*
(``denoiser.demucs.Demucs``) and its hydra config. Instead of ``weights_only=False`` (which imports
``denoiser`` and may run arbitrary code), globals outside a small allow-list of tensor, container and
config types become inert ``PickledReference`` placeholders: calling them or setting their state only
records what was pickled.
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

import torch

from voipdns.checkpoint_formats.errors import CheckpointFormatError

_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.serialization", "_get_layout"),
    ("_codecs", "encode"),
    ("copyreg", "_reconstructor"),
    ("typing", "Any"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
}
_ALLOWED_BUILTINS = {
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray",
    "bool", "slice", "range", "object",
}  # fmt: skip
#: Module prefixes whose classes only hold data (OmegaConf configs as saved by hydra and Lightning).
_ALLOWED_PREFIXES = ("omegaconf.",)


class PickledReference:
    """Stands in for a class or function that was not imported; instances keep the args and state given.

    Instances also accept the item / append opcodes pickle uses for dict and list subclasses (e.g.
    Lightning's ``AttributeDict``), so ``pickled_items`` / ``pickled_list`` hold their contents.
    """

    pickled_module: str = ""
    pickled_name: str = ""

    # __new__ (not __init__) records the arguments: pickle's NEWOBJ opcode calls only ``cls.__new__``.
    def __new__(cls, *args: Any, **kwargs: Any) -> PickledReference:
        obj = super().__new__(cls)
        obj.pickled_args, obj.pickled_kwargs = args, kwargs
        obj.pickled_items, obj.pickled_list = {}, []
        return obj

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> PickledReference:
        # e.g. ``getattr(cls, "method")(...)``: record the call, run nothing.
        return placeholder(self.pickled_module, f"{self.pickled_name}(...)")(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        self.pickled_state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.pickled_items[key] = value

    def append(self, value: Any) -> None:
        self.pickled_list.append(value)

    def extend(self, values: Any) -> None:
        self.pickled_list.extend(values)

    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.pickled_module}.{cls.pickled_name}"


def placeholder(module: str, name: str) -> type[PickledReference]:
    return type(name, (PickledReference,), {"pickled_module": module, "pickled_name": name})


def is_pickled_reference(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, PickledReference)


def _is_allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED_GLOBALS or module.startswith(_ALLOWED_PREFIXES):
        return True
    if module == "builtins":
        return name in _ALLOWED_BUILTINS
    if module == "torch._utils" and name.startswith("_rebuild"):
        return True
    if module == "torch._tensor" and name == "_rebuild_from_type_v2":
        return True
    if module == "torch":  # dtypes, layouts and memory formats are pickled as torch.<name> globals
        return isinstance(getattr(torch, name, None), (torch.dtype, torch.layout, torch.memory_format))
    return False


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if _is_allowed(module, name):
            return super().find_class(module, name)
        return placeholder(module, name)


# torch.load wants a module-like object with ``Unpickler`` and ``load``.
restricted_pickle = types.SimpleNamespace(
    __name__="voipdns_restricted_pickle",
    Unpickler=RestrictedUnpickler,
    load=lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load(),
)


def load_restricted(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load`` of ``path`` with unknown globals replaced by placeholders (see module doc)."""
    try:
        return torch.load(
            path, map_location=map_location, pickle_module=restricted_pickle, weights_only=False
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        reason = f"{type(err).__name__}: {err}"
        raise CheckpointFormatError(f"{path}: not a readable torch checkpoint ({reason})") from err
