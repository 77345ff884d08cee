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


class CheckpointKeyError(CheckpointFormatError, KeyError):
    """The state_dict does not match the expected keys exactly (missing, unexpected or mis-shaped keys).

    A ``CheckpointFormatError`` (a file voipdns cannot use as it is) and a ``KeyError`` (what callers that
    index a state_dict catch); the message names the file, the keys and the expected shapes.
    """

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""
