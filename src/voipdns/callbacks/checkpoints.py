"""Checkpoint callbacks that write atomically and stop the run loudly when the folder cannot take a checkpoint.

Lightning writes through fsspec, which ignores a ``PermissionError`` from the final move into the folder: on an
unwritable folder the run went on without checkpoints. Here every checkpoint is first written to
``<name>.partial`` beside its destination, checked, and renamed over it (``os.replace``, atomic in one folder),
so ``last.ckpt`` is either the old file or the new one, never half of one. A failed write raises
``CheckpointWriteError`` naming the file, the reason and the checkpoint that is still intact; the
on-exception checkpoint then does not retry in the same folder.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint
from lightning.pytorch.utilities import rank_zero_warn

PARTIAL_SUFFIX = ".partial"  # not ``.ckpt``: a leftover is never mistaken for a checkpoint


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; ``errno`` is the cause's (EACCES, ENOSPC, ...)."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(code if code is not None else errno.EIO, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _intact(path: str | None) -> str:
    if path and Path(path).is_file():
        return f"the last good checkpoint {path} is intact"
    return "no earlier checkpoint of this run exists"


def write_atomically(save, filepath: str, is_writer: bool, last_good: str | None) -> None:
    """``save(partial_path)``, then rename the partial file over ``filepath``; any failure is a clear error.

    ``is_writer``: whether this process writes files (global rank 0); the others only take part in ``save``.
    """
    partial = filepath + PARTIAL_SUFFIX
    try:
        if is_writer:
            Path(partial).unlink(missing_ok=True)  # a leftover must not pass for this write
        save(partial)
        if is_writer:
            if not Path(partial).is_file():
                raise PermissionError(errno.EACCES, "nothing was written (is the folder writable?)", partial)
            os.replace(partial, filepath)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CheckpointWriteError(
            f"cannot write checkpoint {filepath}: {reason}; the run stops here and {_intact(last_good)}. "
            "Make the folder writable (or free space), then resume with ckpt_path=last",
            error.errno,
        ) from error


class AtomicModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` (best-k and ``last.ckpt``) with atomic, verified writes (see the module doc)."""

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        # last.ckpt is overwritten in place, so the file there now is the good one; else the previous save
        last_good = filepath if Path(filepath).is_file() else self._last_checkpoint_saved
        write_atomically(
            lambda partial: super(AtomicModelCheckpoint, self)._save_checkpoint(trainer, partial),
            filepath,
            trainer.is_global_zero,
            last_good,
        )
        self._last_checkpoint_saved = filepath


class AtomicOnExceptionCheckpoint(OnExceptionCheckpoint):
    """Writes ``on_exception.ckpt`` atomically; if that fails too, one warning instead of a second traceback."""

    def on_exception(self, trainer, *args, **kwargs) -> None:
        exception = args[-1] if args else kwargs.get("exception")
        if isinstance(exception, CheckpointWriteError):
            return  # the folder just refused a checkpoint: another attempt would only bury the first message
        try:
            last = os.path.join(self.dirpath, ModelCheckpoint.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
            write_atomically(trainer.save_checkpoint, self.ckpt_path, trainer.is_global_zero, last)
        except CheckpointWriteError as error:
            rank_zero_warn(f"no on-exception checkpoint: {error}")
