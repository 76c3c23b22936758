"""Checks, before any work, that a job fits the machine: memory and disk (step counts:
:func:`sciml._util.validation.check_step_count`).

Estimates are deliberately rough (a small factor); they exist to refuse requests that are
off by orders of magnitude (``--n 1e11``, a 60000^2 grid, ``--dt 1e-300``) with one line
instead of an out-of-memory kill, a full disk or a run that never ends.
"""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

__all__ = ["available_memory", "check_memory", "check_disk", "format_bytes"]


def format_bytes(n: float) -> str:
    """``1.5 GB`` style."""
    if not math.isfinite(n):
        return "an unbounded amount"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable, else free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on Linux
        return 1 << 62


def check_memory(nbytes: float, what: str) -> None:
    """``ValueError`` when ``nbytes`` exceeds the available memory; ``what`` names the request."""
    avail = available_memory()
    if not math.isfinite(nbytes) or nbytes > avail:
        raise ValueError(f"{what} needs about {format_bytes(nbytes)} of memory; "
                         f"{format_bytes(avail)} is available")


def check_disk(nbytes: float, path, what: str) -> None:
    """``ValueError`` when ``nbytes`` exceeds the free space of the file system holding ``path``."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    free = shutil.disk_usage(p).free
    if not math.isfinite(nbytes) or nbytes > free:
        raise ValueError(f"{what} needs about {format_bytes(nbytes)} of disk; "
                         f"{format_bytes(free)} is free on {p}")
