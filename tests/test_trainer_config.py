"""Trainer configs: Lightning's common flags override without `+`; runs are deterministic; provenance is saved."""

from __future__ import annotations

import json
import subprocess

import hydra
import pytest
import torch

from hydra_helpers import compose_config, group_options
from voipdns.cli.common import save_run_info
from voipdns.cli.train import train
from voipdns.git_state import git_state

PLAIN_OVERRIDES = {
    "limit_train_batches": 3,
    "limit_val_batches": 2,
    "limit_test_batches": 0.5,
    "val_check_interval": 0.25,
    "accumulate_grad_batches": 4,
    "num_sanity_val_steps": 0,
    "overfit_batches": 0.0,
    "max_steps": 7,
    "gradient_clip_algorithm": "value",
}


@pytest.fixture
def restore_determinism():
    """Trainer(deterministic=...) switches a process-wide torch flag: give the next test the state it had."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@pytest.mark.parametrize("option", group_options("trainer"))
def test_common_flags_override_without_plus(option, tmp_path):
    overrides = [
        f"trainer={option}",
        *(f"trainer.{key}={value}" for key, value in PLAIN_OVERRIDES.items()),
        "trainer.fast_dev_run=true",
        "trainer.precision=bf16-mixed",
        "trainer.num_nodes=1",
    ]
    cfg = compose_config("train", overrides, tmp_path)
    for key, value in PLAIN_OVERRIDES.items():
        assert cfg.trainer[key] == value, key
    assert cfg.trainer.fast_dev_run is True and cfg.trainer.precision == "bf16-mixed"


def test_overridden_flags_reach_the_lightning_trainer(tmp_path, restore_determinism):
    overrides = [
        "trainer.limit_train_batches=3",
        "trainer.val_check_interval=2",
        "trainer.devices=1",
        "trainer.accumulate_grad_batches=2",
        "trainer.precision=bf16-mixed",
        "trainer.max_steps=5",
    ]
    trainer = hydra.utils.instantiate(compose_config("train", overrides, tmp_path).trainer, logger=False)
    assert trainer.limit_train_batches == 3 and trainer.val_check_interval == 2
    assert trainer.accumulate_grad_batches == 2 and trainer.max_steps == 5
    assert trainer.precision == "bf16-mixed"


def test_unlisted_flag_is_still_rejected_by_name(tmp_path):
    with pytest.raises(Exception, match="no_such_flag"):
        compose_config("train", ["trainer.no_such_flag=1"], tmp_path)


def test_default_trainer_turns_on_deterministic_algorithms(tmp_path, restore_determinism):
    torch.use_deterministic_algorithms(False)
    cfg = compose_config("train", [], tmp_path)
    assert cfg.trainer.deterministic == "warn"
    hydra.utils.instantiate(cfg.trainer, logger=False)
    assert torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("option", ["demucs", "fullsubnet", "unet", "percepnet", "dsp_denoiser"])
def test_nets_have_deterministic_cpu_kernels(option, tmp_path, restore_determinism):
    """Strict mode raises on any op without a deterministic kernel: none of these nets may use one on CPU."""
    net = hydra.utils.instantiate(compose_config("train", [f"net={option}"], tmp_path).net)
    torch.use_deterministic_algorithms(True)
    noisy = torch.randn(2, 1, net.sample_rate // 4)
    outputs = net.training_outputs({"noisy": noisy, "clean": noisy})
    sum(value.float().sum() for value in outputs.values() if torch.is_tensor(value)).backward()


TINY_RUN = [
    "net.hidden=4",
    "net.depth=3",
    "net.resample=2",
    "data.train.num_items=16",
    "data.train.segment_seconds=0.5",
    "data.val.num_items=1",
    "data.val.segment_seconds=0.5",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
    "test=false",
    "logger=none",
    "callbacks=none",
    "seed=3",
]


def test_two_runs_with_one_seed_give_identical_losses(tmp_path, restore_determinism):
    first = train(compose_config("train", TINY_RUN, tmp_path / "a"))
    second = train(compose_config("train", TINY_RUN, tmp_path / "b"))
    assert first["train/loss"] == second["train/loss"] and first["val/loss"] == second["val/loss"]
    other_seed = train(compose_config("train", [*TINY_RUN, "seed=4"], tmp_path / "c"))
    assert other_seed["train/loss"] != first["train/loss"]


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_state_records_commit_and_dirty_flag(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", "code.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    clean = git_state(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "untracked.log").write_text("outputs do not count\n")
    assert git_state(tmp_path)["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path) == {"git_commit": clean["git_commit"], "git_dirty": True}


def test_git_state_outside_a_repository_says_why(tmp_path):
    state = git_state(tmp_path)
    assert state["git_commit"] is None and state["git_dirty"] is None
    assert str(tmp_path) in state["git_error"]


def test_environment_json_holds_commit_versions_and_devices(tmp_path):
    save_run_info(compose_config("train", [], tmp_path), str(tmp_path))
    info = json.loads((tmp_path / "environment.json").read_text())
    assert {"git_commit", "git_dirty", "torch", "lightning", "cuda", "torch_threads"} <= set(info)
    assert info["torch_threads"] == torch.get_num_threads()
    assert isinstance(info["git_commit"], str) or info["git_error"]
