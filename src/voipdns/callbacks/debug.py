"""Debugging callbacks: simulate a pre-empted job to check that resuming is exact."""

from __future__ import annotations

import os

import lightning as L


class KillAtStep(L.Callback):
    """Hard-exits the process (no cleanup, like SIGKILL or a pre-emption) once ``step`` optimizer steps are done.

    Used with ``callbacks.model_checkpoint.every_n_train_steps`` to leave a mid-epoch ``last.ckpt`` behind.
    """

    def __init__(self, step: int, exit_code: int = 3):
        self.step = step
        self.exit_code = exit_code

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            os._exit(self.exit_code)
