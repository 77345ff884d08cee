"""Shared fixtures. Tests are CPU-only and single-threaded so two pytest workers fit on two cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

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


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
