"""Which commit of the code produced a run, and whether the working tree had uncommitted changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from voipdns.config import PROJECT_ROOT

_GIT_TIMEOUT_SECONDS = 10


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=_GIT_TIMEOUT_SECONDS, check=True
    )
    return done.stdout.strip()


def git_state(root: str | Path = PROJECT_ROOT) -> dict[str, object]:
    """``{"git_commit": sha, "git_dirty": bool}``; outside a repository (a wheel install) or without git both are
    None and ``git_error`` says why, so a run never fails for lack of provenance."""
    root = Path(root)
    try:
        commit = _git(root, "rev-parse", "HEAD")
        # tracked files only: logs/ and other untracked outputs do not change what the code computes
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError) as error:
        lines = (getattr(error, "stderr", None) or str(error) or type(error).__name__).strip().splitlines()
        return {"git_commit": None, "git_dirty": None, "git_error": f"{root}: {lines[0] if lines else error!r}"}
    return {"git_commit": commit, "git_dirty": dirty}
