"""Errors raised while finding, fetching and loading checkpoints; each message names the file and the fix."""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """Base class: anything that stops a checkpoint from becoming a net."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The path does not exist and is not a registry name."""


class UnknownCheckpointError(CheckpointError, ValueError):
    """A registry name that the registry does not list."""


class CheckpointDownloadError(CheckpointError, OSError):
    """The official URL could not be fetched (no network, server error)."""


class CheckpointHashError(CheckpointError, ValueError):
    """The file's sha256 differs from the one recorded in the registry."""


class CheckpointFormatError(CheckpointError, ValueError):
    """The file is not a checkpoint format voipdns knows, or lacks what its format needs."""


class CheckpointKeyError(CheckpointError, KeyError):
    """The state_dict does not match the net's parameters exactly (missing, unexpected or mis-shaped keys)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""
