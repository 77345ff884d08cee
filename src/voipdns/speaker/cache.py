"""Per-speaker embedding cache: mean embedding over enrollment clips, saved as
``<cache_dir>/<model_hash>/<speaker_id>.pt`` so a retrained embedder never reuses stale vectors."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def model_hash(model: nn.Module, length: int = 16) -> str:
    """sha256 over the state_dict (names, shapes and values) of ``model``."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:length]


class SpeakerEmbeddingCache:
    """``cache.get(speaker_id, clips)`` returns the (unit-norm) mean embedding, computing it once."""

    def __init__(self, cache_dir: str | Path, embedder: nn.Module, normalize: bool = True):
        self.embedder = embedder
        self.normalize = normalize
        self.directory = Path(cache_dir) / model_hash(embedder)

    def path(self, speaker_id: str) -> Path:
        if not _SAFE_ID.match(speaker_id):
            raise ValueError(f"speaker id {speaker_id!r} is not a safe file name (letters, digits, '.', '_', '-' only)")
        return self.directory / f"{speaker_id}.pt"

    @torch.no_grad()
    def compute(self, clips: Iterable[torch.Tensor]) -> torch.Tensor:
        """Mean of per-clip embeddings (each clip ``[1, T]`` or ``[T]``), unit-normalised if asked."""
        was_training = self.embedder.training
        self.embedder.eval()
        try:
            embeddings = [self.embedder(clip.reshape(1, -1)).squeeze(0) for clip in clips]
        finally:
            self.embedder.train(was_training)
        if not embeddings:
            raise ValueError("cannot compute a speaker embedding from zero enrollment clips")
        embeddings = torch.stack(embeddings)
        if self.normalize:
            embeddings = F.normalize(embeddings, dim=-1)
        mean = embeddings.mean(0)
        return F.normalize(mean, dim=0) if self.normalize else mean

    def load(self, speaker_id: str) -> torch.Tensor | None:
        path = self.path(speaker_id)
        return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None

    def save(self, speaker_id: str, embedding: torch.Tensor) -> Path:
        path = self.path(speaker_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # atomic: temp file + rename
        os.close(handle)
        torch.save(embedding.detach().cpu(), tmp)
        os.replace(tmp, path)
        return path

    def get(self, speaker_id: str, clips: Iterable[torch.Tensor] | None = None) -> torch.Tensor:
        cached = self.load(speaker_id)
        if cached is not None:
            return cached
        if clips is None:
            raise KeyError(f"no cached embedding for speaker {speaker_id!r} in {self.directory} and no clips given")
        embedding = self.compute(clips)
        self.save(speaker_id, embedding)
        return embedding
