"""Where a result came from: git state of the checkout, package versions."""

from __future__ import annotations

import subprocess
from functools import lru_cache

from ._build import REPO_ROOT

__all__ = ["git_state"]


@lru_cache(maxsize=1)
def git_state() -> dict[str, object]:
    """``{"git_sha": ..., "git_dirty": bool}``; "unknown" outside a git checkout.

    The dirty flag ignores generated trees (data/runs, reports, build),
    so a sweep does not mark its own later runs dirty.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--",
                         ".", ":!data", ":!reports", ":!notebooks/executed"))
    except (OSError, subprocess.CalledProcessError):
        return {"git_sha": "unknown", "git_dirty": True}
    return {"git_sha": sha, "git_dirty": dirty}
