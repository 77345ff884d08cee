"""The datasets' shared base: item ``i`` is a pure function of ``(seed, epoch, i)``.

``__getitem__`` takes a plain index (epoch 0: validation, tests, notebooks) or the ``(epoch, index)`` pairs the
training sampler passes (``voipdns.data.epochs``), checks the range with the dataset's name in the message, and
calls ``make_item(index, epoch)``. Subclasses set ``num_items`` (or override ``__len__``) and draw their
randomness from ``voipdns.data.epochs.item_rng(seed, index, epoch)``.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from voipdns.data.epochs import check_index, split_index


class EpochItemDataset(Dataset):
    #: the DataModule then feeds ``(epoch, index)`` so training draws new crops/SNRs every epoch
    accepts_epoch_index = True
    num_items: int

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        epoch, index = split_index(index)
        check_index(index, len(self), type(self).__name__)
        return self.make_item(index, epoch)

    def make_item(self, index: int, epoch: int) -> dict:
        raise NotImplementedError
