"""Load ``torch.save`` files without importing or running code named inside the pickle.

A checkpoint is untrusted input. The unpickler admits an exact list of ``(module, name)`` globals that only
rebuild data (tensors, containers, numpy arrays, OmegaConf configs); anything else is refused with a
``CheckpointFormatError`` naming the file and the global. Dotted names are always refused: pickle resolves
``name="A.b"`` as an attribute walk, which would reach any method of an admitted class.

The one exception: ``best.th`` and ``checkpoint.th`` from the reference trainer pickle the model *class*
(``denoiser.demucs.Demucs``). That exact reference becomes an inert ``PickledReference`` placeholder, so the
file can be read without importing ``denoiser``; calling it or setting its state only records what was pickled.
"""

from __future__ import annotations

import _compat_pickle
import pickle
import types
from pathlib import Path
from typing import Any

import torch

from voipdns.checkpoint_formats.errors import CheckpointFormatError

_TORCH_REBUILDERS = (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy", "_rebuild_sparse_tensor",
    "_rebuild_nested_tensor", "_rebuild_qtensor", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
)  # fmt: skip
# The OmegaConf classes hydra and Lightning pickle for configs: data holders whose state is set, never called.
_OMEGACONF_CLASSES = (
    ("omegaconf.dictconfig", "DictConfig"), ("omegaconf.listconfig", "ListConfig"),
    ("omegaconf.base", "ContainerMetadata"), ("omegaconf.base", "Metadata"),
    ("omegaconf.nodes", "AnyNode"), ("omegaconf.nodes", "StringNode"), ("omegaconf.nodes", "IntegerNode"),
    ("omegaconf.nodes", "FloatNode"), ("omegaconf.nodes", "BooleanNode"), ("omegaconf.nodes", "BytesNode"),
    ("omegaconf.nodes", "PathNode"),
)  # fmt: skip
_BUILTINS = (
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray",
    "bool", "slice", "range", "object",
)  # fmt: skip
_ALLOWED_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("torch", "Size"),
        ("torch", "device"),
        ("torch", "Tensor"),
        ("torch.nn.parameter", "Parameter"),
        ("torch.serialization", "_get_layout"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("_codecs", "encode"),
        ("copyreg", "_reconstructor"),
        ("typing", "Any"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        *(("torch._utils", name) for name in _TORCH_REBUILDERS),
        *(("builtins", name) for name in _BUILTINS),
        *_OMEGACONF_CLASSES,
    }
)
#: Class references of the official reference-trainer files, read as inert placeholders.
_PLACEHOLDER_GLOBALS = frozenset({("denoiser.demucs", "Demucs")})


class RefusedGlobalError(pickle.UnpicklingError):
    """The pickle names a global that is not on the allow-list; nothing was imported or called."""

    def __init__(self, module: str, name: str):
        super().__init__(f"refused global '{module}.{name}'")
        self.global_name = f"{module}.{name}"


class PickledReference:
    """Stands in for a class that was not imported; instances keep the args and state given.

    Instances also accept the item / append opcodes pickle uses for dict and list subclasses, so
    ``pickled_items`` / ``pickled_list`` hold their contents.
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


def _is_torch_enum(module: str, name: str) -> bool:
    """dtypes, layouts and memory formats are pickled as ``torch.<name>`` globals."""
    return module == "torch" and isinstance(
        getattr(torch, name, None), (torch.dtype, torch.layout, torch.memory_format)
    )


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # protocol 2 files name Python 2 modules (``__builtin__``, ``copy_reg``); these names are never Python 3's
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if not name.isidentifier():
            raise RefusedGlobalError(module, name)  # attribute walks reach methods of admitted classes
        if (module, name) in _ALLOWED_GLOBALS or _is_torch_enum(module, name):
            return super().find_class(module, name)
        if (module, name) in _PLACEHOLDER_GLOBALS:
            return placeholder(module, name)
        raise RefusedGlobalError(module, name)


# torch.load wants a module-like object with ``Unpickler`` and ``load``.
restricted_pickle = types.SimpleNamespace(
    __name__="voipdns_restricted_pickle",
    Unpickler=RestrictedUnpickler,
    load=lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load(),
)


def load_restricted(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load`` of ``path`` admitting only data globals (see module doc)."""
    try:
        return torch.load(path, map_location=map_location, pickle_module=restricted_pickle, weights_only=False)
    except RefusedGlobalError as err:
        raise CheckpointFormatError(
            f"{path}: {err}: checkpoints may only hold tensors, containers and configs; "
            "this file names code to import or run and was not loaded"
        ) from err
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as err:
        reason = f"{type(err).__name__}: {err}"
        raise CheckpointFormatError(f"{path}: not a readable torch checkpoint ({reason})") from err
