"""A checkpoint is untrusted input: crafted pickles are refused naming the file and the global, and run nothing."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from voipdns.checkpoint_formats.errors import CheckpointFormatError
from voipdns.checkpoint_formats.unpickle import load_restricted
from voipdns.pretrained import load_net

# Pickle opcodes (protocol 4): just enough to write a payload by hand, as an attacker would.
PROTO4, STACK_GLOBAL, TUPLE1, TUPLE2, REDUCE, STOP = b"\x80\x04", b"\x93", b"\x85", b"\x86", b"R", b"."


def _text(value: str) -> bytes:
    encoded = value.encode()
    return b"\x8c" + bytes([len(encoded)]) + encoded  # SHORT_BINUNICODE


def _global(module: str, name: str) -> bytes:
    return _text(module) + _text(name) + STACK_GLOBAL


def _torch_file_with_pickle(path: Path, data_pkl: bytes) -> Path:
    """A real ``torch.save`` zip whose ``data.pkl`` is replaced by ``data_pkl``."""
    template = path.with_suffix(".template")
    torch.save({}, template)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for entry in source.infolist():
            payload = data_pkl if entry.filename.endswith("/data.pkl") else source.read(entry)
            target.writestr(entry, payload)
    template.unlink()
    return path


def _yaml_unsafe_load_payload(marker: Path) -> bytes:
    """The reported exploit: a dotted name under an omegaconf module reaching PyYAML's unsafe loader."""
    command = f"!!python/object/apply:os.system ['touch {marker}']"
    return PROTO4 + _global("omegaconf._utils", "yaml.unsafe_load") + _text(command) + TUPLE1 + REDUCE + STOP


def _dotted_name_payload(marker: Path) -> bytes:
    """``torch.serialization`` is an admitted module; ``os.system`` is reachable from it by attribute walk."""
    return PROTO4 + _global("torch.serialization", "os.system") + _text(f"touch {marker}") + TUPLE1 + REDUCE + STOP


def _method_of_allowed_class_payload(marker: Path) -> bytes:
    """REDUCE of ``getattr(<admitted class>, name)``: a method of an admitted class, then called."""
    method = _global("builtins", "getattr") + _global("omegaconf.dictconfig", "DictConfig") + _text("__init__")
    return PROTO4 + method + TUPLE2 + REDUCE + _text(str(marker)) + TUPLE1 + REDUCE + STOP


PAYLOADS = {
    "yaml_unsafe_load": (_yaml_unsafe_load_payload, "omegaconf._utils.yaml.unsafe_load"),
    "dotted_name": (_dotted_name_payload, "torch.serialization.os.system"),
    "method_of_allowed_class": (_method_of_allowed_class_payload, "builtins.getattr"),
}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, kind):
    build, refused = PAYLOADS[kind]
    marker = tmp_path / "marker"
    path = _torch_file_with_pickle(tmp_path / "evil.ckpt", build(marker))
    for load in (load_restricted, load_net):
        with pytest.raises(CheckpointFormatError) as caught:
            load(path)
        message = str(caught.value)
        assert str(path) in message and f"refused global '{refused}'" in message
    assert not marker.exists()


def test_enhance_cli_refuses_the_reported_exploit(tmp_path):
    marker = tmp_path / "marker"
    path = _torch_file_with_pickle(tmp_path / "evil.ckpt", _yaml_unsafe_load_payload(marker))
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, np.zeros(16000, dtype=np.float32), 16000)
    command = [Path(sys.executable).parent / "voipdns-enhance", f"checkpoint={path}", f"input={noisy}",
               f"output={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]  # a usage error: one line, no traceback
    assert "refused global 'omegaconf._utils.yaml.unsafe_load'" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_ordinary_checkpoints_still_load(tmp_path):
    """Data-only content (tensors, OrderedDict, numpy scalars, protocol 2 names) passes the allow-list."""
    from omegaconf import OmegaConf

    state = {"w": torch.randn(2, 3), "config": OmegaConf.create({"a": 1, "b": [1, 2]}), "score": np.float64(1.5)}
    torch.save(state, tmp_path / "plain.pt", pickle_protocol=2)
    loaded = load_restricted(tmp_path / "plain.pt")
    assert torch.equal(loaded["w"], state["w"]) and loaded["config"].b[1] == 2 and loaded["score"] == 1.5
