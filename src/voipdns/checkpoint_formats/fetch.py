"""Download a registry file into the cache once, and check its sha256 every time it is used."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from voipdns.checkpoint_formats.errors import CheckpointDownloadError, CheckpointHashError

CACHE_ENV = "VOIPDNS_CHECKPOINT_DIR"
_CHUNK_BYTES = 1 << 20


def default_cache_dir() -> Path:
    """``$VOIPDNS_CHECKPOINT_DIR``, else torch.hub's ``checkpoints/`` (reuses files torch.hub fetched)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(torch.hub.get_dir()) / "checkpoints"


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, sha256: str | None, sha256_prefix: str | None, name: str) -> None:
    """Compare against the full digest when known, else against the recorded prefix."""
    expected = (sha256 or sha256_prefix or "").lower()
    if not expected:
        raise CheckpointHashError(f"registry entry '{name}' records neither sha256 nor sha256_prefix")
    got = sha256_of_file(path)
    if not got.startswith(expected):
        raise CheckpointHashError(
            f"sha256 mismatch for '{name}' at {path}: expected {expected}, got {got[: len(expected)]} "
            f"(full: {got}). The file is corrupt or not the published one: delete it and retry, "
            "or fix the registry entry."
        )


def download(url: str, destination: Path, name: str) -> None:
    """Fetch ``url`` to ``destination`` via a temporary file, so a failed download leaves no partial file."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        torch.hub.download_url_to_file(url, str(partial), progress=True)
    except Exception as err:  # URLError, HTTPError, timeouts, SSL: all mean "could not fetch"
        partial.unlink(missing_ok=True)
        raise CheckpointDownloadError(
            f"could not download checkpoint '{name}' from {url} ({type(err).__name__}: {err}). "
            f"Without network access, fetch that URL elsewhere and put the file at {destination} "
            "(or pass the file's path to load_net)."
        ) from err
    os.replace(partial, destination)


def fetch(url: str, cache_dir: Path, name: str, sha256: str | None, sha256_prefix: str | None) -> Path:
    """Path of the verified cached file for ``url``, downloading it first if absent."""
    destination = cache_dir / url.rsplit("/", 1)[-1]
    if not destination.is_file():
        download(url, destination, name)
        try:
            verify_sha256(destination, sha256, sha256_prefix, name)
        except CheckpointHashError:
            destination.unlink(missing_ok=True)  # never leave a bad download in the cache
            raise
        return destination
    verify_sha256(destination, sha256, sha256_prefix, name)
    return destination
