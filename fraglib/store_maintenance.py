"""Store maintenance: :func:`compact` (merge one-run files into partitioned
parts, crash-safe) and :func:`check` (verify every file, quarantine what is
unreadable, report). Both are reachable as ``fraglib.store.compact`` and
``fraglib.store.check``; the layout and guarantees are described in
:mod:`fraglib.store`.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .exceptions import StoreError
from .store_files import (_COMPACTED, _DOC_COL, _META_KEY, _QUARANTINE, _SCHEMA_KEY, _TMP,
                    STORE_SCHEMA, _duck, _fsync_dir, _healthy, _listing, _loose, _machines,
                    _os_reason, _part_ids, _parts, _quarantine, _schema_of, _write_atomic, run_files,
                    runs_dir)

__all__ = ["compact", "check", "CompactResult", "StoreCheck"]


# ---------------------------------------------------------------------------
# compaction

def _lock(machine_dir: Path, wait: bool):
    from filelock import FileLock, Timeout

    lock = FileLock(str(machine_dir / ".lock"))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return None
    except OSError as e:
        raise StoreError(f"cannot lock {machine_dir} for compaction: {_os_reason(e)}",
                         machine_dir, _os_reason(e)) from e
    return lock


def _with_doc(table: pa.Table, meta: dict) -> pa.Table:
    """A schema-1 file's table with the ``run_doc`` column it lacks."""
    if _DOC_COL in table.column_names:
        return table
    doc = meta.get(_META_KEY, b"").decode() or None
    n = table.num_rows
    return table.append_column(_DOC_COL, pa.array([doc] + [None] * (n - 1), pa.string())
                               if n else pa.array([], pa.string()))


@dataclass
class CompactResult:
    """What one :func:`compact` call did."""

    machines: list[str] = field(default_factory=list)
    runs_compacted: int = 0
    parts_written: int = 0
    files_removed: int = 0
    skipped_locked: list[str] = field(default_factory=list)


def compact(root: str | os.PathLike | None = None, *, machine: str | None = None,
            wait: bool = True) -> CompactResult:
    """Merge one-run files into partitioned parts (one per workload).

    Crash-safe: each part is written to a temporary name, flushed and
    renamed; only then are its source files removed. A run already in a
    part (an earlier compaction that died before removing its sources)
    is not copied again; its one-run file is removed. Corrupt or foreign
    files are quarantined. Stale temporaries of dead writers (older than
    an hour) are removed.

    Parameters
    ----------
    root : path, optional
        Runs directory.
    machine : str, optional
        Only this machine's directory (default: every machine).
    wait : bool
        Wait for another compaction to finish (True), or skip a locked
        machine (False; listed in ``skipped_locked``).

    Raises
    ------
    StoreError
        The directory cannot be locked or written (nothing was removed).
    """
    base = runs_dir(root)
    res = CompactResult()
    dirs = [base / machine] if machine else _machines(base)
    for mdir in dirs:
        if not mdir.is_dir():
            continue
        lock = _lock(mdir, wait)
        if lock is None:
            res.skipped_locked.append(mdir.name)
            continue
        try:
            res.machines.append(mdir.name)
            for tmp in mdir.rglob(f"{_TMP}*"):
                try:
                    if time.time() - tmp.stat().st_mtime > 3600:
                        tmp.unlink()
                except OSError:
                    pass
            loose = _healthy(_loose(mdir), base)
            if not loose:
                continue
            have = _part_ids(_parts(mdir))
            by_wl: dict[str, list[pa.Table]] = {}
            for f in loose:
                if f.stem in have:
                    continue
                pf = pq.ParquetFile(f)
                t = _with_doc(pf.read(), pf.schema_arrow.metadata or {})
                wl = t.column("workload")[0].as_py() if t.num_rows else "empty"
                by_wl.setdefault(str(wl), []).append(t.replace_schema_metadata(None))
                res.runs_compacted += 1
            for wl, tables in sorted(by_wl.items()):
                table = pa.concat_tables(tables, promote_options="permissive")
                table = table.replace_schema_metadata(
                    {_SCHEMA_KEY: str(STORE_SCHEMA).encode(), b"fraglib.part": b"1"})
                out = (mdir / _COMPACTED / f"workload={wl}" /
                       f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
                       ".parquet")
                try:
                    _write_atomic(table, out, durable=True)
                except OSError as e:
                    raise StoreError(f"cannot write compacted part in {mdir}: "
                                     f"{_os_reason(e)}; no run was removed", mdir,
                                     _os_reason(e)) from e
                res.parts_written += 1
            for f in loose:
                try:
                    f.unlink()
                    res.files_removed += 1
                except FileNotFoundError:
                    pass
            _fsync_dir(mdir)
        finally:
            lock.release()
    return res


# ---------------------------------------------------------------------------
# check

@dataclass
class StoreCheck:
    """What :func:`check` found.

    Attributes
    ----------
    runs : int
        Distinct stored runs.
    loose_files, parts : int
        One-run files and compacted parts.
    old_schema : list of str
        Files written by store schema 1 (readable; ``compact`` upgrades them).
    duplicates : int
        Runs present in more than one file (an interrupted compaction;
        readers keep one copy, ``compact`` removes the extra).
    quarantined : list of (str, str)
        Set-aside files and why, relative to the runs directory.
    """

    runs: int = 0
    loose_files: int = 0
    parts: int = 0
    old_schema: list[str] = field(default_factory=list)
    duplicates: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.quarantined

    def text(self) -> str:
        lines = [f"{self.runs} runs in {self.loose_files} one-run files and "
                 f"{self.parts} compacted parts"]
        if self.duplicates:
            lines.append(f"{self.duplicates} runs stored twice (interrupted compaction; "
                         "read once; `fraglib store compact` removes the copies)")
        if self.old_schema:
            lines.append(f"{len(self.old_schema)} files from store schema 1 (readable; "
                         "`fraglib store compact` upgrades them)")
        for name, why in self.quarantined:
            lines.append(f"quarantined: {name}: {why}")
        if self.quarantined:
            lines.append("quarantined files are in the .quarantine directory: inspect, "
                         "then delete them or move them back")
        return "\n".join(lines)


def check(root: str | os.PathLike | None = None) -> StoreCheck:
    """Check every file, quarantine what is unreadable, report the store's state."""
    base = runs_dir(root)
    out = StoreCheck()
    files = _healthy(run_files(root), base)
    for f in files:
        try:
            pq.read_table(f)
        except (OSError, pa.ArrowException, ValueError) as e:
            _quarantine(f, base, f"data pages unreadable ({str(e)[:200]})")
    files = [f for f in files if f.exists()]
    out.parts = sum(1 for f in files if _COMPACTED in f.parts)
    out.loose_files = len(files) - out.parts
    if files:
        rows = _duck(f"SELECT run_id, count(DISTINCT filename) FROM read_parquet("
                          f"[{_listing(files)}], union_by_name=true, filename=true) "
                          "GROUP BY run_id")
        out.runs = len(rows)
        out.duplicates = sum(1 for _, n in rows if n > 1)
        for f in files:
            if _COMPACTED not in f.parts:
                meta = pq.read_schema(f).metadata or {}
                if _schema_of(meta) == 1:
                    out.old_schema.append(str(f.relative_to(base)))
    qdir = base / _QUARANTINE
    if qdir.is_dir():
        for note in sorted(qdir.rglob("*.reason")):
            name, _, why = note.read_text().strip().partition(": ")
            out.quarantined.append((name, why))
    return out
