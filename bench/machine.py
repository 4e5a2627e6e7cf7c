"""What machine a benchmark ran on: every script prints this next to its figures."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LIBRARIES = ("numpy", "pandas", "scikit-learn", "SQLAlchemy", "pydantic", "RapidFuzz")


def describe_machine() -> dict[str, str]:
    """Platform, CPU model, usable cores, memory, load and library versions."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"platform": platform.platform(), "cpu": cpu, "cores": str(cores),
            "python": platform.python_version()}  # fmt: skip
    with contextlib.suppress(ValueError, OSError):
        info["memory"] = (
            f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
        )
    if hasattr(os, "getloadavg"):
        info["load"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    for name in LIBRARIES:
        with contextlib.suppress(PackageNotFoundError):
            info[name] = version(name)
    return info


def machine_line() -> str:
    """``describe_machine`` on one line."""
    return "; ".join(f"{k} {v}" for k, v in describe_machine().items())
