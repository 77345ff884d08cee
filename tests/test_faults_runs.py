"""Faults around runs (issue #12): orphan workers, bad items in evaluation, enhance output collisions,
changed simulation settings. Every test builds its own files under tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER_EXIT_SECONDS = 15.0  # a spawned worker may still be importing when its parent dies


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _start_parent(tmp_path: Path, body: str, workers: int = 2) -> tuple[subprocess.Popen, list[int]]:
    """Runs ``body`` in a parent process; it (or its workers) prints the ``workers`` worker pids."""
    script = tmp_path / "parent.py"
    script.write_text(body)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    while len(pids) < workers:
        line = parent.stdout.readline()
        if not line:
            parent.kill()
            pytest.fail(f"the parent process printed {pids}, not {workers} worker pids (exit {parent.wait()})")
        pids += [int(pid) for pid in line.split()]
    return parent, pids


def _kill_and_check_workers_exit(parent: subprocess.Popen, workers: list[int]) -> None:
    assert workers and all(_alive(pid) for pid in workers), "the workers should run before the parent dies"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + WORKER_EXIT_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:  # leave no orphan behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their SIGKILLed parent by {WORKER_EXIT_SECONDS} s"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see which processes live")
def test_scoring_pool_workers_exit_when_the_parent_is_sigkilled(tmp_path):
    parent, workers = _start_parent(tmp_path, """
import time
import numpy as np
from voipdns.metrics.pool import ScoringPool

if __name__ == "__main__":  # the workers are spawned: they import this file
    pool = ScoringPool(num_workers=2, metrics=["si_sdr"])
    clip = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    for key in range(2):
        pool.submit(key, clip, clip)
    pool.results()
    print(*pool._executor._processes, flush=True)
    time.sleep(120)
""")
    _kill_and_check_workers_exit(parent, workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see which processes live")
def test_simulate_workers_exit_when_the_parent_is_sigkilled(tmp_path):
    parent, workers = _start_parent(tmp_path, """
import os, time
from voipdns.worker_guard import guarded_pool  # the pool of voipdns-simulate's workers


def long_job(_):  # busy workers: idle ones would also exit on their task pipe's EOF
    print(os.getpid(), flush=True)
    time.sleep(120)


if __name__ == "__main__":
    with guarded_pool(2, os.getpid) as pool:
        pool.map(long_job, range(2), chunksize=1)
""")
    _kill_and_check_workers_exit(parent, workers)
