"""Shared fixtures. Tests are CPU-only and single-threaded so two pytest workers fit on two cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

TINY_DEMUCS = {"_target_": "voipdns.models.demucs.Demucs", "hidden": 4, "depth": 4}

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real speech/noise from ../shared/data; absent on a user's fresh machine, so skip with the reason."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real audio not found at {SHARED_DATA} (../shared/data is only on development machines)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def gtcrn_pretrained() -> Path:
    """The official GTCRN checkpoints and parity fixtures in ../shared/pretrained/gtcrn (development machines)."""
    folder = SHARED_DATA.parent / "pretrained" / "gtcrn"
    if not (folder / "model_trained_on_dns3.tar").exists():
        pytest.skip(f"official GTCRN checkpoints not found at {folder} (../shared is only on development machines)")
    return folder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def tiny_demucs_onnx(tmp_path_factory):
    """An untrained tiny Demucs (``TINY_DEMUCS``, source name ``tiny_demucs``) and its exported ONNX file."""
    from voipdns.export import export_onnx
    from voipdns.export.source import model_from_config

    torch.manual_seed(0)
    source = model_from_config(TINY_DEMUCS, "tiny_demucs")
    path = tmp_path_factory.mktemp("export") / "demucs.onnx"
    export_onnx(source.net, path, source.name, source.config, example_seconds=0.3)
    return source, path
