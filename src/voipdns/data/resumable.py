"""Exact mid-epoch resume: the shuffle order depends only on (seed, epoch), and a resumed run skips the
batches the interrupted run already trained on.

Lightning stores ``DataLoader.state_dict()`` in every checkpoint when the loader defines it; without that, a
run killed mid-epoch restarts the epoch's data from the first batch and no longer matches an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


@dataclass
class ResumeState:
    """Shared by the loader (which loads a checkpoint's state) and the sampler (which skips)."""

    skip_samples: int = 0


class EpochSeededSampler(Sampler[int]):
    """A permutation drawn from ``seed + epoch``: the same on every machine and after a restart."""

    def __init__(self, length: int, seed: int = 0, shuffle: bool = True, resume: ResumeState | None = None):
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.resume = resume or ResumeState()

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        skip, self.resume.skip_samples = self.resume.skip_samples, 0
        return iter(order[skip:])

    def __len__(self) -> int:
        return self.length


class ResumableDataLoader(DataLoader):
    """A DataLoader whose checkpointed state is the number of batches already trained on this epoch.

    ``batches_done`` is read from the trainer (not counted here) because Lightning prefetches a batch ahead.
    """

    def __init__(
        self,
        dataset: Dataset,
        *args,
        batches_done: Callable[[], int] | None = None,
        resume: ResumeState | None = None,
        **kwargs,
    ):
        super().__init__(dataset, *args, **kwargs)
        # attributes named as the arguments, so Lightning can re-create the loader (DDP sampler injection)
        self.batches_done = batches_done
        self.resume = resume or ResumeState()

    def state_dict(self) -> dict:
        done = int(self.batches_done()) if self.batches_done else 0
        return {"batches_done": done, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict) -> None:
        self.resume.skip_samples = int(state.get("batches_done", 0)) * int(state.get("batch_size") or 1)


def resumable_train_loader(
    dataset: Dataset, *, batch_size: int, seed: int, batches_done: Callable[[], int], **loader_kwargs
) -> ResumableDataLoader:
    resume = ResumeState()
    sampler = EpochSeededSampler(len(dataset), seed=seed, shuffle=True, resume=resume)
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        batches_done=batches_done,
        resume=resume,
        **loader_kwargs,
    )
