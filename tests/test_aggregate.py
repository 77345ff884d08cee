"""voipdns-aggregate: a multirun folder -> one table per run (+ per condition), Markdown, CSV and a plot."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from voipdns.cli.aggregate import main
from voipdns.reports.sweep import aggregate, best_validation, parse_overrides
from voipdns.reports.sweep_write import write_outputs

# The CSV logger's layout: one row per logging call, empty cells for metrics not logged in that row.
METRICS_HEADER = "epoch,step,train/loss_epoch,val/loss,val/pesq_wb,test/pesq_wb,test/stoi,test/input_pesq_wb\n"


def _metrics(val_losses: list[float], val_pesq: list[float], test: tuple[float, float], final_train=0.3) -> str:
    rows = [METRICS_HEADER]
    for epoch, (loss, pesq) in enumerate(zip(val_losses, val_pesq, strict=True)):
        step = 10 * (epoch + 1) - 1
        rows.append(f"{epoch},{step},,{loss},{pesq},,,\n")
        rows.append(f"{epoch},{step},{final_train if epoch == len(val_losses) - 1 else 0.5},,,,,\n")
    rows.append(f"{len(val_losses) - 1},{10 * len(val_losses)},,,,{test[0]},{test[1]},1.50\n")
    return "".join(rows)


def _job(
    root: Path,
    name: str,
    overrides: list[str],
    metrics: str | None = None,
    by_condition: str | None = None,
    per_clip: str | None = None,
    monitor: str | None = None,
) -> Path:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if monitor:
        config = {"callbacks": {"model_checkpoint": {"monitor": monitor, "mode": "max"}}}
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if metrics is not None:
        (job / "csv").mkdir()
        (job / "csv" / "metrics.csv").write_text(metrics)
    if by_condition is not None:
        (job / "csv" / "test_scores_by_condition.csv").write_text(by_condition)
    if per_clip is not None:
        (job / "scores.csv").write_text(per_clip)
    return job


@pytest.fixture
def sweep(tmp_path) -> Path:
    root = tmp_path / "lr_sweep"
    fixed = ["experiment=voipdns_demucs_tap", "data.train.root=/data/v"]
    # job 0: the best val/loss is epoch 1 (0.20), where val/pesq_wb is 2.1 (not the max 2.3 of epoch 2)
    _job(
        root,
        "0_optim.lr=1e-05",
        [*fixed, "optim.lr=1e-05"],
        _metrics([0.30, 0.20, 0.25], [1.9, 2.1, 2.3], (2.05, 0.91)),
        by_condition="condition,pesq_wb,stoi,input_pesq_wb\ngm_cloud_low,2.2,0.93,1.6\nzm_phone_low,1.9,0.85,1.5\n",
    )
    _job(
        root,
        "1_optim.lr=3e-05",
        [*fixed, "optim.lr=3e-05"],
        _metrics([0.28, 0.18], [2.0, 2.4], (2.35, 0.92)),
        per_clip="name,condition,pesq_wb,stoi,failures\na,gm_cloud_low,2.0,0.9,0\nb,gm_cloud_low,3.0,0.8,0\n",
    )
    _job(root, "2_optim.lr=0.0001", [*fixed, "optim.lr=0.0001"])  # crashed before logging anything
    return root


def test_parse_overrides_handles_plus_and_deletions():
    assert parse_overrides(["+a.b=1", "~c", "d=x=y", "optim.lr=1e-05"]) == {
        "a.b": "1",
        "d": "x=y",
        "optim.lr": "1e-05",
    }


def test_run_table_best_epoch_test_metrics_and_failed_job(sweep):
    runs, by_condition, swept = aggregate(sweep)
    assert swept == ["optim.lr"]
    assert list(runs.columns[:3]) == ["job", "optim.lr", "status"]
    first, second, crashed = (runs.iloc[i] for i in range(3))
    assert first["best_epoch"] == 1 and first["val/loss"] == pytest.approx(0.20)
    assert first["val/pesq_wb"] == pytest.approx(2.1)  # the best checkpoint's epoch, not the max
    assert first["test/pesq_wb"] == pytest.approx(2.05) and first["test/input_pesq_wb"] == pytest.approx(1.5)
    assert second["best_epoch"] == 1 and second["test/stoi"] == pytest.approx(0.92)
    assert (first["status"], second["status"], crashed["status"]) == ("ok", "ok", "no metrics")
    assert math.isnan(crashed["test/pesq_wb"])
    assert runs["data.train.root"].tolist() == ["/data/v"] * 3  # fixed overrides kept, after the metrics


def test_per_condition_rows_from_callback_csv_and_from_per_clip_scores(sweep):
    _, by_condition, _ = aggregate(sweep)
    rows = {(r["job"], r["condition"]): r for _, r in by_condition.iterrows()}
    assert rows[("0_optim.lr=1e-05", "zm_phone_low")]["pesq_wb"] == pytest.approx(1.9)
    assert rows[("0_optim.lr=1e-05", "gm_cloud_low")]["optim.lr"] == "1e-05"
    computed = rows[("1_optim.lr=3e-05", "gm_cloud_low")]
    assert computed["pesq_wb"] == pytest.approx(2.5) and computed["stoi"] == pytest.approx(0.85)


def test_monitor_and_mode_come_from_the_job_config(tmp_path):
    _job(
        tmp_path,
        "0_x=1",
        ["x=1"],
        _metrics([0.3, 0.2, 0.25], [1.9, 2.1, 2.3], (2.0, 0.9)),
        monitor="val/pesq_wb",
    )
    _job(tmp_path, "1_x=2", ["x=2"], _metrics([0.3, 0.2], [1.0, 1.2], (1.1, 0.8)), monitor="val/pesq_wb")
    runs, _, _ = aggregate(tmp_path)
    assert runs.iloc[0]["best_epoch"] == 2 and runs.iloc[0]["val/pesq_wb"] == pytest.approx(2.3)


def test_diverged_run_is_marked_and_nan_monitor_never_wins():
    frame = pd.DataFrame({"epoch": [0, 1], "step": [9, 19], "val/loss": [float("nan"), 0.4]})
    assert best_validation(frame, "val/loss", "min")["best_epoch"] == 1
    frame = pd.DataFrame({"epoch": [0], "step": [9], "val/loss": [float("nan")]})
    assert math.isnan(best_validation(frame, "val/loss", "min")["val/loss"])


def test_write_outputs_and_cli(sweep, tmp_path, capsys):
    paths = write_outputs(sweep, tmp_path / "out", ["val/loss", "test/pesq_wb"])
    assert {"csv", "md", "by_condition", "png"} <= set(paths)
    assert paths["png"].stat().st_size > 1000
    svg = paths["png"].with_suffix(".svg").read_text()  # the plot follows the report figures' conventions
    assert "test PESQ-WB (MOS-LQO)" in svg and "higher is better" in svg and "Sweep lr_sweep" in svg
    assert paths["png"].with_suffix(".pdf").is_file()
    text = paths["md"].read_text()
    assert text.startswith("# Sweep lr_sweep: optim.lr") and "| 1e-05 |" in text and "no metrics" in text
    assert "## Test means per condition" in text
    assert pd.read_csv(paths["csv"]).shape[0] == 3

    assert main([str(sweep), "--metrics", "test/stoi"]) == 0
    assert (sweep / "aggregate.csv").is_file() and "optim.lr" in capsys.readouterr().out


def test_folder_without_jobs_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "holds no job folder" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
