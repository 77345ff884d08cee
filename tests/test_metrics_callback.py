"""EnhancementMetrics on a tiny LightningModule that returns the Task's validation/test outputs."""

from __future__ import annotations

import csv
import math
from collections import Counter

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset

from voipdns.callbacks.metrics import EnhancementMetrics
from voipdns.metrics import score_clip
from voipdns.metrics.pool import ScoringPool

SR = 16000
METRICS = ("pesq_wb", "si_sdr")


def speech_like(seconds: float, seed: int) -> torch.Tensor:
    """Harmonic 'voiced' signal with a 3 Hz syllable envelope, shape [1, T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6))) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    return torch.from_numpy(0.3 * voiced * envelope).float()[None]


class PairDataset(Dataset):
    def __init__(self, num_clips: int, seconds: float = 2.0, with_clean: bool = True, prefix: str = "clip"):
        self.items = []
        for i in range(num_clips):
            clean = speech_like(seconds, seed=i)
            noisy = clean + 0.03 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(i))
            item = {"noisy": noisy, "name": f"{prefix}{i}", "condition": "low" if i % 2 else "high"}
            if with_clean:
                item["clean"] = clean
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class TinyTask(pl.LightningModule):
    """A 1-tap 'net' returning the Task's step outputs: [B,1,T] waveforms on CPU, names, conditions."""

    sample_rate = SR

    def __init__(self):
        super().__init__()
        self.net = nn.Conv1d(1, 1, 1, bias=False)
        nn.init.constant_(self.net.weight, 0.9)

    def training_step(self, batch, batch_idx):
        return nn.functional.mse_loss(self.net(batch["noisy"]), batch["clean"])

    def _outputs(self, batch) -> dict:
        clean = batch.get("clean")
        return {
            "estimate": self.net(batch["noisy"]).detach().cpu(),
            "noisy": batch["noisy"].cpu(),
            "clean": None if clean is None else clean.cpu(),
            "name": batch["name"],
            "condition": batch["condition"],
        }

    def validation_step(self, batch, batch_idx):
        return self._outputs(batch)

    def test_step(self, batch, batch_idx):
        return self._outputs(batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


class RecordingLogger(Logger):
    def __init__(self):
        super().__init__()
        self.history: list[dict[str, float]] = []

    name, version = "recording", 0

    def log_metrics(self, metrics, step=None):
        self.history.append(dict(metrics))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def _loader(dataset: Dataset, batch_size: int = 2) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size)


def _trainer(tmp_path, **kwargs) -> pl.Trainer:
    options = dict(
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return pl.Trainer(**(options | kwargs))


@pytest.fixture
def submissions(monkeypatch):
    """Count clips handed to the scoring pool: ('estimate' | 'input') -> number of clips."""
    counts: Counter = Counter()
    original = ScoringPool.submit

    def counting_submit(self, key, clean, estimate, noisy=None):
        counts[key[0]] += 1
        return original(self, key, clean, estimate, noisy)

    monkeypatch.setattr(ScoringPool, "submit", counting_submit)
    return counts


def test_validation_logs_capped_scores_every_epoch_and_input_once(tmp_path, submissions):
    data = PairDataset(6)
    callback = EnhancementMetrics(metrics=METRICS, val_max_clips=3, num_workers=0)
    logger = RecordingLogger()
    trainer = _trainer(
        tmp_path,
        max_epochs=2,
        limit_train_batches=1,
        num_sanity_val_steps=1,
        logger=logger,
        callbacks=[callback],
    )
    trainer.fit(TinyTask(), _loader(data), _loader(data))

    logged = [entry for entry in logger.history if "val/pesq_wb" in entry or "input/pesq_wb" in entry]
    assert sum("val/pesq_wb" in e for e in logged) == 2
    assert sum("input/pesq_wb" in e for e in logged) == 1
    # 3 capped clips x 2 epochs (the sanity pass scored nothing), the input scored once and cached
    assert submissions == {"estimate": 6, "input": 3}
    expected_input = np.mean([score_clip(data[i]["clean"], data[i]["noisy"], SR, METRICS)["pesq_wb"] for i in range(3)])
    input_entry = next(e for e in logged if "input/pesq_wb" in e)
    assert input_entry["input/pesq_wb"] == pytest.approx(expected_input, abs=1e-5)
    assert 1.0 < trainer.callback_metrics["val/pesq_wb"].item() < 4.7
    assert "val/pesq_wb_failures" not in trainer.callback_metrics


def test_test_stage_writes_per_clip_rows_and_condition_means(tmp_path):
    data = PairDataset(5)
    callback = EnhancementMetrics(metrics=METRICS, num_workers=0, stages=("test",))
    trainer = _trainer(tmp_path, logger=False, callbacks=[callback])
    task = TinyTask()
    trainer.test(task, _loader(data))

    assert [row["name"] for row in callback.test_rows] == [f"clip{i}" for i in range(5)]
    row = callback.test_rows[1]
    expected = score_clip(data[1]["clean"], task.net(data[1]["noisy"][None]).detach(), SR, METRICS)
    assert row["condition"] == "low"
    assert row["pesq_wb"] == pytest.approx(expected["pesq_wb"], abs=1e-5)
    assert row["input_si_sdr"] == pytest.approx(score_clip(data[1]["clean"], data[1]["noisy"], SR)["si_sdr"], abs=1e-3)
    means = callback.test_condition_means
    assert set(means) == {"high", "low", "all"}
    assert means["low"]["pesq_wb"] == pytest.approx(np.mean([callback.test_rows[i]["pesq_wb"] for i in (1, 3)]))
    assert trainer.callback_metrics["test/pesq_wb"].item() == pytest.approx(means["all"]["pesq_wb"], abs=1e-5)
    assert "test/input_pesq_wb" in trainer.callback_metrics

    with open(tmp_path / "test_scores.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["name"] for r in table] == [f"clip{i}" for i in range(5)]
    assert float(table[1]["pesq_wb"]) == pytest.approx(row["pesq_wb"], abs=1e-4)
    assert (tmp_path / "test_scores_by_condition.csv").read_text().splitlines()[0].startswith("condition,pesq_wb")


def test_failures_are_logged_as_counts_not_zero_scores(tmp_path):
    short = PairDataset(2, seconds=0.1, prefix="short")
    callback = EnhancementMetrics(metrics=METRICS, num_workers=0, stages=("test",))
    trainer = _trainer(tmp_path, logger=False, callbacks=[callback])
    trainer.test(TinyTask(), _loader(short))
    assert math.isnan(trainer.callback_metrics["test/pesq_wb"].item())
    assert trainer.callback_metrics["test/pesq_wb_failures"].item() == 2
    assert "0.25 s" in callback.test_rows[0]["failures"]
    assert math.isfinite(callback.test_rows[0]["si_sdr"])


def test_clips_without_clean_reference_are_skipped(tmp_path):
    callback = EnhancementMetrics(metrics=METRICS, num_workers=0)
    trainer = _trainer(tmp_path, logger=False, callbacks=[callback])
    trainer.test(TinyTask(), _loader(PairDataset(2, with_clean=False)))
    assert callback.test_rows == []
    assert "test/pesq_wb" not in trainer.callback_metrics
    assert not (tmp_path / "test_scores.csv").exists()


def test_fast_dev_run_scores_in_a_worker_process(tmp_path, project_root):
    data = PairDataset(2)
    config = OmegaConf.load(project_root / "conf/callbacks/metrics.yaml")
    callback = instantiate(config.metrics, metrics=list(METRICS), num_workers=1)
    assert isinstance(callback, EnhancementMetrics) and callback.stages == ("val", "test")
    trainer = _trainer(tmp_path, fast_dev_run=True, callbacks=[callback])
    trainer.fit(TinyTask(), _loader(data), _loader(data))
    assert 1.0 < trainer.callback_metrics["val/pesq_wb"].item() < 4.7
    assert "input/pesq_wb" in trainer.callback_metrics
    assert callback._pool is None  # teardown closed the worker pool


def test_a_step_without_the_output_dict_is_a_clear_error(tmp_path):
    class NoOutputs(TinyTask):
        def validation_step(self, batch, batch_idx):
            return None

    trainer = _trainer(tmp_path, fast_dev_run=True, callbacks=[EnhancementMetrics(metrics=METRICS, num_workers=0)])
    with pytest.raises(TypeError, match="val step must return a dict with 'estimate', 'noisy'"):
        trainer.fit(NoOutputs(), _loader(PairDataset(2)), _loader(PairDataset(2)))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown stages \\['train'\\]"):
        EnhancementMetrics(stages=("val", "train"))
    with pytest.raises(ValueError, match="val_every_n_epochs must be >= 1"):
        EnhancementMetrics(val_every_n_epochs=0)
    with pytest.raises(KeyError, match="unknown metric 'mos'"):
        EnhancementMetrics(metrics=("mos",))


def test_test_stage_can_score_more_metrics_than_validation():
    from voipdns.callbacks.metrics import EnhancementMetrics

    callback = EnhancementMetrics(
        metrics=["stoi"], test_metrics=["stoi", "si_sdr", "dnsmos"], num_workers=0, sample_rate=16000
    )
    assert callback.keys_by_stage["val"] == ["stoi"]
    assert callback.keys_by_stage["test"] == [
        "stoi",
        "si_sdr",
        "dnsmos_sig",
        "dnsmos_bak",
        "dnsmos_ovrl",
        "dnsmos_p808",
    ]
