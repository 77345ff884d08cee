"""`EnhancementDataModule`: one LightningDataModule for every dataset, built from `conf/data/*.yaml`.

Hydra instantiates the `train`, `val` and `test` datasets recursively and passes the objects in; this class
only makes loaders. Training uses a seed + epoch permutation whose position is saved in checkpoints (exact
mid-epoch resume, `voipdns.data.resumable`); datasets with `accepts_epoch_index = True` receive
`(epoch, index)` and draw fresh crops/SNRs every epoch. Validation and test hold whole clips in order.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from voipdns.data.epochs import EpochIndexSampler
from voipdns.data.resumable import EpochSeededSampler, ResumableDataLoader, ResumeState
from voipdns.rates import DEFAULT_SAMPLE_RATE


def _single_thread_worker(_: int) -> None:
    # N workers x M torch threads oversubscribe the CPU; datasets here are numpy/soundfile bound anyway
    torch.set_num_threads(1)


class EnhancementDataModule(pl.LightningDataModule):
    """Loaders for already-built datasets (any of them may be None).

    Args:
        batch_size: training batch size (the last incomplete batch is dropped).
        eval_batch_size: validation/test batch size; keep 1 unless all clips have equal length.
        num_workers / pin_memory / persistent_workers: DataLoader options (persistent by default when
            num_workers > 0).
        seed: seed of the training order (epoch e uses seed + e).
        sample_rate: Hz; every dataset's `sample_rate` must match it. Default: the datasets' common rate.
    """

    def __init__(
        self,
        train: Dataset | None = None,
        val: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 16,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool | None = None,
        seed: int = 0,
        sample_rate: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size <= 0 or eval_batch_size <= 0:
            raise ValueError(f"batch sizes must be > 0, got batch_size={batch_size}, eval_batch_size={eval_batch_size}")
        self.datasets = {"train": train, "val": val, "test": test}
        self.train, self.val, self.test = train, val, test
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = self.num_workers > 0 if persistent_workers is None else bool(persistent_workers)
        self.seed = int(seed)
        self.sample_rate = self._common_sample_rate(sample_rate)

    def _common_sample_rate(self, sample_rate: int | None) -> int:
        rates = {name: getattr(ds, "sample_rate", None) for name, ds in self.datasets.items() if ds is not None}
        known = {int(r) for r in rates.values() if r is not None}
        if sample_rate is not None:
            known.add(int(sample_rate))
        if len(known) > 1:
            raise ValueError(
                f"EnhancementDataModule: datasets disagree on sample_rate: {rates} (data.sample_rate={sample_rate})"
            )
        return known.pop() if known else DEFAULT_SAMPLE_RATE

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ("train",), "validate": ("val",), "test": ("test",)}.get(stage or "", ())
        missing = [name for name in needed if self.datasets[name] is None]
        if missing:
            raise ValueError(f"EnhancementDataModule: stage {stage!r} needs data.{missing[0]} (it is null)")
        if stage == "fit" and len(self.train) < self.batch_size:
            raise ValueError(
                f"EnhancementDataModule: train has {len(self.train)} items < batch_size "
                f"{self.batch_size}; every batch would be dropped"
            )

    def _loader_kwargs(self) -> dict:
        kwargs = {"num_workers": self.num_workers, "pin_memory": self.pin_memory}
        if self.num_workers > 0:
            kwargs.update(persistent_workers=self.persistent_workers, worker_init_fn=_single_thread_worker)
        return kwargs

    def _batches_done(self) -> int:
        """Batches of the current epoch already trained on, saved in checkpoints; 0 once the epoch is over
        (a checkpoint taken at the epoch's end must not skip the next epoch)."""
        trainer = self.trainer
        if trainer is None:
            return 0
        done = int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)
        return 0 if done >= trainer.num_training_batches else done

    def train_dataloader(self) -> DataLoader:
        if self.train is None:
            raise ValueError("EnhancementDataModule: no train dataset (data.train is null)")
        resume = ResumeState()
        sampler_class = EpochIndexSampler if getattr(self.train, "accepts_epoch_index", False) else EpochSeededSampler
        sampler = sampler_class(len(self.train), seed=self.seed, shuffle=True, resume=resume)
        return ResumableDataLoader(
            self.train,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=True,
            batches_done=self._batches_done,
            resume=resume,
            **self._loader_kwargs(),
        )

    def _eval_loader(self, name: str) -> DataLoader | list:
        dataset = self.datasets[name]
        if dataset is None:
            return []
        return DataLoader(dataset, batch_size=self.eval_batch_size, shuffle=False, **self._loader_kwargs())

    def val_dataloader(self) -> DataLoader | list:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._eval_loader("test")

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v!r}" for k, v in self.datasets.items())
        return f"EnhancementDataModule({parts}, batch_size={self.batch_size}, sample_rate={self.sample_rate})"
