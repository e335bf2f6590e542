"""What the two perf collectors share: finding perf and the permission check."""

from __future__ import annotations

import os
import shutil

from .. import counters as _counters
from .base import tool_version

__all__ = ["find_perf", "perf_permitted", "perf_usable", "PERF_PACKAGE"]

#: what to install when perf is missing
PERF_PACKAGE = "linux-perf (Debian) / linux-tools"


def find_perf() -> tuple[str | None, str]:
    """``(path, version)`` of perf, or ``(None, why not)``."""
    exe = shutil.which("perf")
    if exe is None:
        return None, "perf not installed (not on PATH)"
    ver = tool_version(exe, "--version")
    if ver is None:
        # Debian's /usr/bin/perf wrapper fails without a matching linux-perf.
        return None, f"{exe} --version failed (no perf for this kernel?)"
    return exe, ver


def perf_permitted() -> str | None:
    """None when user-space self-profiling is allowed, else why not."""
    if os.geteuid() == 0:
        return None
    p = _counters.perf_event_paranoid()
    if p is not None and p > 2:
        return f"not permitted: perf_event_paranoid={p} (needs <= 2 or root)"
    return None


def perf_usable() -> tuple[bool, str]:
    """``(True, version)`` when perf is installed and permitted, else
    ``(False, why not)``: the first half of both collectors' ``available()``."""
    exe, ver = find_perf()
    if exe is None:
        return False, ver
    denied = perf_permitted()
    return (False, denied) if denied else (True, ver)
