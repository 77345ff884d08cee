"""Worker processes that exit when their parent dies, whatever killed it (SIGKILL included).

A pool's workers normally learn of their parent's end through the pool's pipes, which a SIGKILLed parent never
closes cleanly: its scoring or simulation workers would run on as orphans (each holding hundreds of MB). Every
pool of the project therefore starts its workers with :func:`exit_with_parent` as (part of) the initializer:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill the worker the moment its parent ends;
- everywhere, a daemon thread exits the worker when the process that started it is gone (multiprocessing's
  parent sentinel, a pipe that reaches EOF when that process dies) or the worker was re-parented (its parent pid
  changed): the fallback for other systems and for a parent that died while the worker was still starting up
  (a spawned worker imports for seconds before its initializer, and so ``prctl``, runs).

With the ``forkserver`` start method the direct parent is the fork server, which exits when our process dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.pool import Pool
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5
ORPHAN_EXIT_STATUS = 70  # distinct from a crash, for whoever reads it


def exit_with_parent() -> None:
    """Call first thing in a worker process (a pool's initializer): the worker ends when its parent ends."""
    direct_parent = os.getppid()
    _ask_kernel_to_kill_on_parent_death()
    if _orphaned(direct_parent):  # the parent died before prctl took effect: nobody will signal us
        os._exit(ORPHAN_EXIT_STATUS)
    watchdog = threading.Thread(target=_watch_parent, args=(direct_parent,), name="exit-with-parent", daemon=True)
    watchdog.start()


def _orphaned(direct_parent: int) -> bool:
    starter = multiprocessing.parent_process()  # None when not started by multiprocessing
    return os.getppid() != direct_parent or (starter is not None and not starter.is_alive())


def _ask_kernel_to_kill_on_parent_death() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)  # best effort: the watchdog covers a failure


def _watch_parent(direct_parent: int) -> None:
    while not _orphaned(direct_parent):
        time.sleep(POLL_SECONDS)
    os._exit(ORPHAN_EXIT_STATUS)


def _guarded_initializer(initializer: Callable[..., None] | None, *initargs: Any) -> None:
    exit_with_parent()
    if initializer is not None:
        initializer(*initargs)


def guarded_pool(workers: int, initializer: Callable[..., None] | None = None, *initargs: Any) -> Pool:
    """A ``multiprocessing`` pool (default start method) whose workers run ``initializer(*initargs)`` and exit
    when this process dies."""
    return multiprocessing.get_context().Pool(workers, _guarded_initializer, (initializer, *initargs))
