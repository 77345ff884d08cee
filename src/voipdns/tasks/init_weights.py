"""Start a fit from pretrained weights (``EnhancementTask(init_from=<registry name or checkpoint path>)``).

The Task calls :func:`init_from_pretrained` from its ``setup`` hook. When a fit starts, the net's
weights are replaced by those of ``init_from``: anything :func:`voipdns.pretrained.load_net` reads (a registry
name such as ``dns48``, an official Demucs/FullSubNet file, ``best.th`` / ``checkpoint.th``, a voipdns
Lightning checkpoint). The file is loaded into the *configured* net, so keys and shapes must match exactly; a
mismatch raises ``CheckpointKeyError`` listing the keys (never a silent partial load).

Why ``setup`` and not ``__init__``: ``load_from_checkpoint`` never calls ``setup``, so inference never needs
the init file; and Lightning restores a resumed run's checkpoint (``ckpt_path=last``) *after* ``setup``, so a
resumed run keeps its own trained weights (the init file is read again, then replaced).

``python -m voipdns.tasks.init_weights CHECKPOINT OUT`` writes a net's weights in the official layout of its
family (Demucs: a plain state_dict as in dns48.th; FullSubNet: the trainer dict ``{epoch, best_score,
optimizer, scaler, model}``), e.g. to make a stand-in for an official checkpoint from a local run.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from voipdns.checkpoint_formats.errors import CheckpointError
from voipdns.pretrained import load_net, load_state_strict

log = logging.getLogger(__name__)


def load_initial_weights(net: nn.Module, init_from: str, net_config: dict | None = None) -> int:
    """Copy the weights of ``init_from`` into ``net`` strictly; returns the number of tensors loaded.

    ``net_config`` (the Task's net config) makes ``load_net`` build exactly this architecture, so settings
    that leave no trace in the weights (Demucs ``resample``, FullSubNet normalisation) come from the config.
    """
    try:
        pretrained = load_net(str(init_from), net_config=dict(net_config) if net_config else None)
        state = pretrained.state_dict()
        load_state_strict(net, state, str(init_from))
    except CheckpointError as err:  # same type, with the config key that pointed at the file
        raise type(err)(f"model.init_from={init_from}: {err}") from err
    return len(state)


def init_from_pretrained(task: Any, stage: str) -> bool:
    """For ``EnhancementTask.setup``: load ``task.hparams.init_from`` into ``task.net`` when a fit starts.

    Returns whether weights were loaded (only for stage ``fit`` with ``init_from`` set).
    """
    init_from = task.hparams.get("init_from")
    if stage != "fit" or not init_from:
        return False
    count = load_initial_weights(task.net, init_from, task.hparams.get("net"))
    params = sum(p.numel() for p in task.net.parameters())
    log.info(
        "init_from=%s: loaded %d tensors (%d parameters) into %s",
        init_from,
        count,
        params,
        type(task.net).__name__,
    )
    return True


def official_layout(net: nn.Module) -> Any:
    """The object the official project saves for ``net``'s family (what the registry's files contain)."""
    state = {key: value.detach().cpu().clone() for key, value in net.state_dict().items()}
    if type(net).__name__ == "FullSubNet":
        return {"epoch": 0, "best_score": -math.inf, "optimizer": {}, "scaler": {}, "model": state}
    return state


def save_official(net: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``official_layout(net)`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    torch.save(official_layout(net), tmp)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voipdns.tasks.init_weights",
        description="write a checkpoint's net weights in the official file layout of its family",
    )
    parser.add_argument("checkpoint", help="registry name or checkpoint path (anything load_net reads)")
    parser.add_argument("out", help="output file, e.g. standin_dns.th")
    args = parser.parse_args(argv)
    net = load_net(args.checkpoint)
    path = save_official(net, args.out)
    params = sum(p.numel() for p in net.parameters())
    print(f"{path}: {type(net).__name__}, {len(net.state_dict())} tensors, {params} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
