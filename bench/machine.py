"""The machine line every benchmark prints first: CPU model, cores, load, versions (results depend on all)."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def machine_info(packages: tuple[str, ...] = ("numpy", "torch"), threads: int | None = None) -> str:
    """``CPU; N logical CPUs, load average x, y, z; python; package versions[; T thread(s)]``."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    line = (
        f"{cpu_model()}; {os.cpu_count()} logical CPUs, load average {load}; {platform.platform()}; "
        f"python {platform.python_version()}; {versions}"
    )
    return line if threads is None else f"{line}; {threads} thread(s)"
