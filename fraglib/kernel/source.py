"""Read page_frag code out of a git tree at a revision, patched or not.

Files come from git: ``git show REV:path`` for a plain revision; with
patches, a temporary detached worktree at REV where each patch is applied
(``git am`` for a mail, ``git apply`` for a diff), removed afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import NotAGitTreeError, PatchApplyError, UnknownRevError

__all__ = ["Patch", "TreeFiles", "read_files"]

#: a committer for ``git am`` in the temporary worktree (never pushed).
_GIT_ENV = {"GIT_COMMITTER_NAME": "fraglib", "GIT_COMMITTER_EMAIL": "fraglib@localhost",
            "GIT_AUTHOR_NAME": "fraglib", "GIT_AUTHOR_EMAIL": "fraglib@localhost"}


@dataclass(frozen=True)
class Patch:
    """A patch file and its content hash."""

    path: str
    sha256: str
    mbox: bool

    @classmethod
    def read(cls, path) -> "Patch":
        data = Path(path).read_bytes()
        head = data.lstrip()[:4096]
        mbox = head.startswith(b"From ") or (b"\nSubject:" in head and b"From:" in head)
        return cls(str(path), hashlib.sha256(data).hexdigest(), mbox)


@dataclass(frozen=True)
class TreeFiles:
    """The candidate files of one revision: path -> text (absent = missing)."""

    tree: str
    rev: str
    commit: str
    files: dict


def _git(tree, *args, check=False, env=None):
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True,
                          check=check, env={**os.environ, **(env or {})})


@contextmanager
def _worktree(tree, commit):
    tmp = tempfile.mkdtemp(prefix="fraglib-kernel-")
    path = Path(tmp) / "wt"
    r = _git(tree, "worktree", "add", "--detach", str(path), commit)
    if r.returncode:
        raise NotAGitTreeError(tree, commit, "cannot add a temporary worktree: "
                               + r.stderr.strip())
    try:
        yield path
    finally:
        _git(tree, "worktree", "remove", "--force", str(path))
        _git(tree, "worktree", "prune")
        if Path(tmp).exists():
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


def read_files(tree, rev: str, paths, patches=()) -> TreeFiles:
    """Read ``paths`` at ``rev`` of ``tree``, after applying ``patches``.

    Parameters
    ----------
    tree : path
        A git repository (work tree or bare).
    rev : str
        Any revision git resolves to a commit.
    paths : iterable of str
        Files to read; those missing at the revision are left out.
    patches : sequence of Patch
        Applied in order in a temporary worktree.

    Raises
    ------
    NotAGitTreeError, UnknownRevError, PatchApplyError
    """
    tree = str(tree)
    if not Path(tree).is_dir():
        raise NotAGitTreeError(tree, rev, "no such directory")
    r = _git(tree, "rev-parse", "--git-dir")
    if r.returncode:
        raise NotAGitTreeError(tree, rev, r.stderr.strip() or "git rev-parse failed")
    r = _git(tree, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if r.returncode or not r.stdout.strip():
        raise UnknownRevError(tree, rev)
    commit = r.stdout.strip()
    files = {}
    if not patches:
        for p in paths:
            r = _git(tree, "show", f"{commit}:{p}")
            if r.returncode == 0:
                files[p] = r.stdout
        return TreeFiles(tree, rev, commit, files)
    with _worktree(tree, commit) as wt:
        for patch in patches:
            cmd = (["am", "--keep-cr", "--3way"] if patch.mbox else ["apply"])
            r = _git(wt, *cmd, str(Path(patch.path).resolve()), env=_GIT_ENV)
            if r.returncode:
                if patch.mbox:
                    _git(wt, "am", "--abort")
                raise PatchApplyError(tree, rev, patch.path, r.stderr + r.stdout)
        for p in paths:
            f = wt / p
            if f.is_file():
                files[p] = f.read_text()
    return TreeFiles(tree, rev, commit, files)
