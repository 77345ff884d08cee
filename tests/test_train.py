"""End-to-end training: fast_dev_run, exact resume after a hard kill, NaN loss stops clearly."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from hydra_helpers import compose_config
from voipdns.cli.train import train
from voipdns.tasks.enhancement import EnhancementTask, NonFiniteLossError

TINY = [
    "net.hidden=8",
    "net.depth=3",
    "net.resample=2",
    "data.train.num_items=32",
    "data.train.segment_seconds=0.5",
    "data.val.num_items=2",
    "data.val.segment_seconds=1.0",
    "data.test.num_items=2",
    "data.test.segment_seconds=1.0",
    "data.batch_size=4",
    "data.num_workers=0",
    "callbacks.rich_progress_bar=null",
    "callbacks.model_summary=null",
]


def test_fast_dev_run_trains_validates_tests_and_scores(tmp_path):
    cfg = compose_config(
        "train",
        ["debug=fdr", "callbacks.metrics.num_workers=0", "callbacks.metrics.test_metrics=[pesq_wb,stoi,dnsmos]", *TINY],
        tmp_path,
    )
    metrics = train(cfg)
    for key in (
        "train/loss",
        "val/loss",
        "test/loss",
        "test/pesq_wb",
        "test/stoi",
        "test/input_stoi",
        "test/dnsmos_ovrl",
        "val/pesq_wb",
        "input/pesq_wb",
    ):
        assert key in metrics and torch.isfinite(torch.tensor(metrics[key])), key
    assert (tmp_path / "config_resolved.yaml").exists() and (tmp_path / "environment.json").exists()


def _run_cli(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "voipdns.cli.train",
        f"hydra.run.dir={run_dir}",
        "logger=csv",
        "test=false",
        "trainer.max_epochs=2",
        "data.train.num_items=24",
        "data.val.num_items=1",
        "callbacks.metrics=null",
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "trainer.num_sanity_val_steps=0",
        "seed=7",
        "trainer.log_every_n_steps=1",
        "+logger.csv.flush_logs_every_n_steps=1",
        *[o for o in TINY if "num_items" not in o],
        *overrides,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def _net_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def test_killed_mid_epoch_and_resumed_matches_uninterrupted_run(tmp_path):
    # 24 items / batch 4 = 6 steps per epoch, 12 in all; the kill lands in epoch 0 after step 5 (last.ckpt at 4).
    reference = _run_cli(tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr[-3000:]

    killed = _run_cli(
        tmp_path / "resumed", "+callbacks.kill._target_=voipdns.callbacks.debug.KillAtStep", "+callbacks.kill.step=5"
    )
    assert killed.returncode == 3, killed.stderr[-3000:]
    interrupted = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=False)
    assert interrupted["global_step"] == 4 and interrupted["epoch"] == 0  # really mid-epoch

    resumed = _run_cli(tmp_path / "resumed", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr

    # the CSV log of the interrupted part survives the resume (Lightning's writer would delete it)
    logged_steps = {
        int(row.split(",")[2])
        for row in (tmp_path / "resumed/csv/metrics.csv").read_text().splitlines()[1:]
        if row.split(",")[2]
    }
    assert min(logged_steps) < 4 and max(logged_steps) == 11
    # ... without the steps 4-5 that both attempts logged (issue 12 item 8): each (step, keys) row once
    with open(tmp_path / "resumed/csv/metrics.csv", newline="") as handle:
        rows = [(row["step"], tuple(k for k, v in row.items() if v and k != "step")) for row in csv.DictReader(handle)]
    assert len(rows) == len(set(rows)), sorted(rows)

    expected = _net_weights(tmp_path / "reference/checkpoints/last.ckpt")
    got = _net_weights(tmp_path / "resumed/checkpoints/last.ckpt")
    assert torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=False)["global_step"] == 12
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)


def test_resume_last_without_checkpoint_says_how_to_resume(tmp_path):
    result = _run_cli(tmp_path / "fresh", "ckpt_path=last")
    assert result.returncode != 0
    assert "last.ckpt does not exist" in result.stderr and "run_name" in result.stderr


def test_a_fresh_run_in_a_used_folder_is_refused_not_silently_resumed(tmp_path):
    from voipdns.cli.common import refuse_silent_resume

    (tmp_path / "checkpoints").mkdir()
    refuse_silent_resume(None, str(tmp_path))  # empty folder: fine
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(FileExistsError, match="earlier run. Resume it with ckpt_path=last"):
        refuse_silent_resume(None, str(tmp_path))
    refuse_silent_resume("last", str(tmp_path))


def test_only_runs_that_keep_checkpoints_are_guarded(tmp_path):
    from voipdns.cli.train import writes_checkpoints

    assert writes_checkpoints(compose_config("train", [], tmp_path))
    assert not writes_checkpoints(compose_config("train", ["debug=fdr"], tmp_path))


def test_sweep_folder_names_stay_short():
    from voipdns.config import _short_dirname

    assert _short_dirname("optim.lr=0.001") == "optim.lr=0.001"
    long = ",".join(f"data.train.root=/very/long/path/{i}" for i in range(20))
    short = _short_dirname(long)
    assert len(short) == 120 and short != _short_dirname(long + "x")


class _PoisonedDataset(Dataset):
    """Finite clean targets, but the second item's input holds a NaN (a corrupt file that slipped through)."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        noisy = torch.randn(1, 4000) * 0.1
        if index == 1:
            noisy[0, 100] = float("nan")
        return {"noisy": noisy, "clean": torch.zeros(1, 4000), "name": f"item{index}", "condition": "x"}


def test_nan_loss_stops_training_with_a_clear_message(tmp_path):
    task = EnhancementTask(
        net={"_target_": "voipdns.models.demucs.Demucs", "hidden": 4, "depth": 2, "resample": 1},
        loss={
            "_target_": "voipdns.losses.composite.CompositeLoss",
            "terms": {"l1": {"_target_": "voipdns.losses.waveform.WaveformL1Loss"}},
        },
        optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
    )
    trainer = L.Trainer(
        max_steps=4,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[L.pytorch.callbacks.OnExceptionCheckpoint(tmp_path)],
    )
    loader = DataLoader(_PoisonedDataset(), batch_size=1)
    with pytest.raises(NonFiniteLossError, match=r"train/loss is nan at step 1 .*item1.*noisy input finite: False"):
        trainer.fit(task, train_dataloaders=loader)
    saved = torch.load(tmp_path / "on_exception.ckpt", weights_only=False)
    assert all(torch.isfinite(v).all() for k, v in saved["state_dict"].items() if k.startswith("net."))
