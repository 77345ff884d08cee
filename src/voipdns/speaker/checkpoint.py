"""Save / load a trained speaker embedder as ``{"config": <instantiate dict>, "state_dict": ...}`` so it
can be rebuilt with ``hydra.utils.instantiate`` and no pickled classes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from hydra.utils import instantiate
from torch import nn

#: classes that moved since files were written: old import path -> new one (models/ holds enhancers only)
MOVED_TARGETS = {"voipdns.models.ecapa.EcapaTdnn": "voipdns.speaker.ecapa.EcapaTdnn"}


def save_embedder(path: str | Path, embedder: nn.Module, config: dict) -> Path:
    if "_target_" not in config:
        raise ValueError("embedder config must contain _target_ (the class import path)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    torch.save({"config": dict(config), "state_dict": embedder.state_dict()}, tmp)
    os.replace(tmp, path)
    return path


def load_embedder(path: str | Path) -> nn.Module:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or not {"config", "state_dict"} <= set(payload):
        raise ValueError(f"{path}: not a voipdns speaker-embedder file (needs 'config' and 'state_dict' keys)")
    config = dict(payload["config"])
    config["_target_"] = MOVED_TARGETS.get(config["_target_"], config["_target_"])
    embedder = instantiate(config)
    embedder.load_state_dict(payload["state_dict"], strict=True)
    return embedder.eval()
