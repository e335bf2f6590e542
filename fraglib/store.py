"""The results store: Parquet files under ``data/runs/<machine>/``.

Layout (store schema 2)::

    runs/<machine>/<run_id>.parquet                        one run, as written
    runs/<machine>/compacted/workload=<w>/part-<id>.parquet  many runs, compacted
    runs/<machine>/.lock                                   compaction lock
    runs/.quarantine/<machine>/<file>[.reason]             files set aside

Each file holds one row per sample (tidy, so DuckDB and pandas can query
every run at once). A run made from a :class:`~fraglib.spec.RunSpec` has
its labels as columns (:data:`LABEL_COLUMNS`: ``build_id``, ``process``,
``pair``, ``role``, ``comparison``, ``pair_order``, ``label``) and the
whole spec as JSON in the ``spec`` column of its first sample's row, so a
comparison's statistics come back from the rows alone
(:func:`fraglib.stats.verdict_from_store`); ``tsc_step`` is a column too. The whole :class:`~fraglib.results.RunResult` rides
along as JSON: in the Parquet key-value metadata of a one-run file, and in
the ``run_doc`` column (first sample's row only) of every file, so a run
reads back exactly from a compacted part too. The key ``fraglib.schema``
in each file's metadata says the store layout version; files without it
were written by schema 1 (one run per file, no ``run_doc`` column) and are
read as they are (``fraglib store compact`` upgrades them).

Guarantees:

- **Atomic writes.** A run goes to a temporary name in the same directory,
  is flushed and renamed: a crash or a full disk never leaves a partial
  result file (the temporary is removed; a dead process's ``.tmp-*`` file
  is ignored by readers and removed by :func:`compact`).
- **Compaction** (:func:`compact`, ``fraglib store compact``, and
  automatically once a machine has more than :data:`COMPACT_THRESHOLD`
  one-run files) merges one-run files into a few partitioned parts so
  opening the store stays fast. It holds an exclusive lock (``filelock``),
  writes each part atomically and only then removes its sources; a crash in
  between leaves a run in two files, and readers keep one copy per
  ``run_id``. Writers never take the lock: a run written during a
  compaction is not among its sources and stays.
- **Quarantine.** A file that is not a readable fraglib Parquet file is
  moved to ``runs/.quarantine/`` with a ``.reason`` note, reported once as a
  :class:`~fraglib.exceptions.StoreWarning` and by :func:`check`; the rest of
  the store stays readable.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import json
import os
import tempfile
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._build import REPO_ROOT
from .exceptions import ParameterError, StoreError, StoreSchemaError, StoreWarning
from .results import RunResult

__all__ = ["data_dir", "runs_dir", "write_run", "read_run", "load_run", "connect",
           "samples", "runs", "run_files", "compact", "check", "StoreCheck",
           "STORE_SCHEMA", "COMPACT_THRESHOLD", "LABEL_COLUMNS", "SPEC_COLUMN"]

#: layout version written into every file's metadata (``fraglib.schema``)
STORE_SCHEMA = 2
#: one-run files per machine above which a write compacts (env
#: ``FRAGLIB_COMPACT_THRESHOLD`` overrides; 0 turns automatic compaction off)
COMPACT_THRESHOLD = 256

_META_KEY = b"fraglib.run"
_SCHEMA_KEY = b"fraglib.schema"
_DOC_COL = "run_doc"
_COMPACTED = "compacted"
_QUARANTINE = ".quarantine"
_TMP = ".tmp-"

#: parameters copied into columns (the rest stay in the JSON document)
_PARAM_COLUMNS = ("size", "align", "batch", "cpu", "cpu2", "dist", "queue_depth",
                  "mss", "ring_size", "busy_poll", "high_order_fail",
                  "pfmemalloc_rate", "seed", "init_on_alloc", "small_heads",
                  "remote_free")
_PROV_COLUMNS = ("machine", "time", "git_sha", "git_dirty", "build_key",
                 "source_hash", "layout_seed", "env_pad", "spec_key", "spec_seq",
                 "spec_scope")
#: the run spec's labels (:class:`fraglib.spec.Labels`) as columns: label -> column
LABEL_COLUMNS = {"build_id": "build_id", "process": "process", "pair": "pair",
                 "role": "role", "comparison": "comparison", "order": "pair_order",
                 "name": "label"}
#: column holding the run's spec as JSON (first sample's row only, like run_doc)
SPEC_COLUMN = "spec"

#: files this process already quarantined or warned about (warn once)
_warned: set[str] = set()


def data_dir() -> Path:
    """``$FRAGLIB_DATA`` or ``<repo>/data``."""
    env = os.environ.get("FRAGLIB_DATA")
    return Path(env) if env else REPO_ROOT / "data"


def runs_dir(root: str | os.PathLike | None = None) -> Path:
    """Directory holding ``<machine>/`` directories of run files."""
    return Path(root) if root is not None else data_dir() / "runs"


def _threshold() -> int:
    env = os.environ.get("FRAGLIB_COMPACT_THRESHOLD")
    if env is None:
        return COMPACT_THRESHOLD
    try:
        value = int(env)
    except ValueError:
        value = -1
    if value < 0:
        raise ParameterError("FRAGLIB_COMPACT_THRESHOLD", env,
                             "an integer >= 0 (0: never compact automatically)")
    return value


# ---------------------------------------------------------------------------
# writing

def _table(r: RunResult) -> pa.Table:
    n = len(r.cycles)
    doc = json.dumps(r.to_dict())
    cols: dict[str, pa.Array | list] = {
        "run_id": [r.run_id] * n,
        "design": [r.design] * n,
        "workload": [r.workload] * n,
        "sample": list(range(n)),
        "warmup": [i < r.warmup_samples for i in range(n)],
        "cycles": r.cycles,
        "packets": r.packets,
        "cycles_per_packet": r.cycles / r.packets,
        "tsc_hz": [r.tsc_hz] * n,
    }
    for k in _PARAM_COLUMNS:
        if k in r.params:
            cols[k] = [r.params[k]] * n
    for k in _PROV_COLUMNS:
        if k in r.provenance:
            cols[k] = [r.provenance[k]] * n
    # a number, or NaN where the engine did not report it (stats.process_values)
    cols["tsc_step"] = pa.array([r.tsc_step if r.tsc_step is not None else None] * n,
                                pa.float64())
    if r.spec is not None:
        for label, col in LABEL_COLUMNS.items():
            v = r.labels.get(label)
            if v is not None:
                cols[col] = [v] * n
        spec_doc = json.dumps(r.to_dict()["spec"], sort_keys=True)
        cols[SPEC_COLUMN] = pa.array([spec_doc] + [None] * (n - 1), pa.string()) \
            if n else pa.array([], pa.string())
    for prefix, src in (("m_", r.metrics), ("pages_", r.pages), ("stat_", r.stats)):
        for k, v in src.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cols[prefix + k] = [float(v)] * n
    cols[_DOC_COL] = pa.array([doc] + [None] * (n - 1), pa.string()) if n else \
        pa.array([], pa.string())
    table = pa.table(cols)
    meta = {_META_KEY: doc.encode(), _SCHEMA_KEY: str(STORE_SCHEMA).encode()}
    return table.replace_schema_metadata(meta)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(table: pa.Table, out: Path, durable: bool = False) -> None:
    """Write ``table`` to ``out`` via a temporary and a rename.

    Hand-written rather than ``pyarrow.dataset.write_dataset``, which writes
    its files in place: a crash there leaves a truncated part. ``durable``
    also fsyncs the file and the directory (compaction, which then deletes
    the sources); a one-run write does not (a dead process never leaves a
    partial file either way; fsync per run cost 10x in write time on a VM,
    and a file truncated by a power cut is quarantined on the next read).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP, suffix=".parquet", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pq.write_table(table, f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(out.parent)


def _os_reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno:
        name = _errno.errorcode.get(e.errno, str(e.errno))
        return f"{e.strerror or e} ({name})"
    return str(e)


def write_run(result: RunResult, root: str | os.PathLike | None = None) -> Path:
    """Write one run atomically; return its path.

    When the machine's directory then holds more than
    :data:`COMPACT_THRESHOLD` one-run files, they are compacted (unless
    another process is compacting; a failed compaction only warns).

    Parameters
    ----------
    result : RunResult
    root : path, optional
        Runs directory (default :func:`runs_dir`).

    Raises
    ------
    StoreError
        The file could not be written (read-only directory, full disk):
        nothing was written.
    """
    limit = _threshold()                  # a bad setting refuses before writing
    machine = str(result.provenance.get("machine", "unknown"))
    out_dir = runs_dir(root) / machine
    out = out_dir / f"{result.run_id}.parquet"
    try:
        _write_atomic(_table(result), out)
    except OSError as e:
        reason = _os_reason(e)
        hint = ("free some space or set FRAGLIB_DATA to another disk"
                if getattr(e, "errno", None) == _errno.ENOSPC else
                "make it writable or set FRAGLIB_DATA to a writable directory")
        raise StoreError(f"cannot write run {result.run_id} to {out_dir}: {reason}; "
                         f"nothing was written ({hint})", out_dir, reason) from e
    if limit and _loose_count(out_dir) > limit:
        try:
            compact(root, machine=machine, wait=False)
        except StoreError as e:
            warnings.warn(f"automatic compaction skipped: {e}", StoreWarning, stacklevel=2)
    return out


# ---------------------------------------------------------------------------
# listing, health and quarantine

def _machines(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _loose(machine_dir: Path) -> list[Path]:
    return sorted(p for p in machine_dir.glob("*.parquet") if not p.name.startswith("."))


def _loose_count(machine_dir: Path) -> int:
    try:
        with os.scandir(machine_dir) as it:
            return sum(1 for e in it if e.name.endswith(".parquet")
                       and not e.name.startswith("."))
    except OSError:
        return 0


def _parts(machine_dir: Path) -> list[Path]:
    return sorted(p for p in (machine_dir / _COMPACTED).glob("*/*.parquet")
                  if not p.name.startswith("."))


def run_files(root: str | os.PathLike | None = None) -> list[Path]:
    """Every stored file: one-run files and compacted parts (temporaries and
    quarantined files excluded)."""
    out: list[Path] = []
    for m in _machines(runs_dir(root)):
        out += _loose(m) + _parts(m)
    return out


def _schema_of(meta: dict) -> int | None:
    """Store schema of a file from its key-value metadata; None: not fraglib."""
    if _SCHEMA_KEY in meta:
        try:
            return int(meta[_SCHEMA_KEY])
        except ValueError:
            return None
    if _META_KEY in meta:
        return 1
    return None


def _inspect(path: Path) -> tuple[int | None, str]:
    """``(schema, "")`` for a fraglib file, ``(None, why)`` otherwise."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        return -1, "gone"          # removed by a compaction since it was listed
    except (OSError, pa.ArrowException, ValueError) as e:
        if not path.exists():
            return -1, "gone"
        return None, f"not a readable Parquet file ({str(e).splitlines()[0][:200]})"
    schema = _schema_of(meta)
    if schema is None:
        return None, "a Parquet file, but not a fraglib run file (no fraglib metadata)"
    return schema, ""


def _quarantine(path: Path, root: Path, reason: str) -> None:
    """Move ``path`` aside with a note; warn once."""
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    dest = root / _QUARANTINE / rel
    moved = True
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest = dest.with_name(f"{dest.stem}-{uuid.uuid4().hex[:6]}{dest.suffix}")
        os.replace(path, dest)
        dest.with_name(dest.name + ".reason").write_text(f"{rel}: {reason}\n")
    except OSError as e:
        moved = False
        reason = f"{reason}; could not move it aside ({_os_reason(e)})"
    key = str(path)
    if key not in _warned:
        _warned.add(key)
        where = f"moved to {dest}" if moved else "left in place and skipped"
        warnings.warn(f"fraglib store: {rel} {where}: {reason}; "
                      "`fraglib store check` lists set-aside files", StoreWarning,
                      stacklevel=3)


def _healthy(files: list[Path], root: Path, with_schemas: bool = False):
    """Files that DuckDB can read; quarantine the rest.

    Fast path: one ``parquet_kv_metadata`` call over every footer. Only when
    it fails (a corrupt file) is each file opened on its own.
    """
    if not files:
        return ([], {}) if with_schemas else []
    import duckdb

    listing = _listing(files)
    try:
        rows = _duck(f"SELECT file_name, key, value FROM parquet_kv_metadata([{listing}])")
    except duckdb.Error:
        rows = None
    verdict: dict[str, tuple[int | None, str]] = {}
    if rows is not None:
        metas: dict[str, dict] = {str(f): {} for f in files}
        for name, k, v in rows:
            metas.setdefault(name, {})[bytes(k)] = bytes(v)
        for f in files:
            s = _schema_of(metas.get(str(f), {}))
            verdict[str(f)] = (s, "" if s is not None else
                               "a Parquet file, but not a fraglib run file "
                               "(no fraglib metadata)")
    else:
        verdict = {str(f): _inspect(f) for f in files}
    good = []
    for f in files:
        schema, why = verdict[str(f)]
        if schema == -1:
            continue
        if schema is None:
            _quarantine(f, root, why)
        elif schema > STORE_SCHEMA:
            raise StoreSchemaError(f, schema, STORE_SCHEMA)
        else:
            good.append(f)
    if with_schemas:
        return good, {k: v[0] for k, v in verdict.items()}
    return good


def _duck(sql: str, params: list | None = None):
    """Every row of one query, on a private in-memory DuckDB connection (the
    module-wide default one refuses work while a result is unfinished)."""
    import duckdb

    with duckdb.connect() as con:
        return con.execute(sql, params or []).fetchall()


def _listing(files: list[Path]) -> str:
    return ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)


# ---------------------------------------------------------------------------
# reading

def read_run(path: str | os.PathLike) -> RunResult:
    """Read a one-run file back exactly as it was written."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException) as e:
        raise StoreError(f"{path} is not a readable Parquet file: {e}", path) from e
    schema = _schema_of(meta)
    if schema is not None and schema > STORE_SCHEMA:
        raise StoreSchemaError(path, schema, STORE_SCHEMA)
    if _META_KEY not in meta:
        raise StoreError(f"{path} is not a one-run fraglib file (a compacted part? "
                         "use fraglib.store.load_run(run_id))", path)
    return RunResult.from_dict(json.loads(meta[_META_KEY]))


def load_run(run_id: str, root: str | os.PathLike | None = None) -> RunResult:
    """Read a stored run back exactly, wherever it lies (one-run file or part).

    Raises
    ------
    StoreError
        No run with that id is stored.
    """
    base = runs_dir(root)
    for m in _machines(base):
        p = m / f"{run_id}.parquet"
        if p.is_file():
            try:
                return read_run(p)
            except StoreError:
                break
    parts = _healthy([p for m in _machines(base) for p in _parts(m)], base)
    rows = _duck(f"SELECT {_DOC_COL} FROM read_parquet([{_listing(parts)}], "
                 f"union_by_name=true) WHERE run_id = ? AND {_DOC_COL} IS NOT NULL "
                 "LIMIT 1", [run_id]) if parts else []
    row = rows[0] if rows else None
    if not row:
        raise StoreError(f"no run {run_id!r} in {base}", base)
    return RunResult.from_dict(json.loads(row[0]))


def connect(root: str | os.PathLike | None = None):
    """A DuckDB connection with views ``samples`` (one row per sample) and
    ``runs`` (one row per run: median cycles per packet over measured samples).

    Corrupt and foreign files are quarantined first (a
    :class:`~fraglib.exceptions.StoreWarning` names each once). A run
    present in two files (a compaction interrupted between writing its part
    and removing the sources) appears once. An empty store gives empty views.
    Only footers are checked here; a file whose data pages are damaged
    makes the query fail, and :func:`check` finds and quarantines it.

    Raises
    ------
    StoreSchemaError
        A file was written by a newer fraglib.
    """
    import duckdb

    base = runs_dir(root)
    con = duckdb.connect()
    for attempt in range(4):
        listed = run_files(root)
        files, schemas = _healthy(listed, base, with_schemas=True)
        if attempt < 3 and any(not f.exists() and f not in files for f in listed
                               if str(f) not in _warned):
            continue      # a compaction moved runs into a part meanwhile: list again
        if not files:
            break
        parts = [f for f in files if _COMPACTED in f.parts]
        loose = [f for f in files if _COMPACTED not in f.parts]
        try:
            if parts and loose:
                # a run in a part and in its one-run file (a compaction that
                # died before removing its sources, or is removing them now):
                # read the part's copy
                ids = _part_ids(parts)
                loose = [f for f in loose if f.stem not in ids]
            has_docs = any(schemas[str(f)] >= 2 for f in parts + loose)
            # one view over every file: each view binding reads every footer
            con.execute("CREATE OR REPLACE VIEW samples AS SELECT * "
                        + ("EXCLUDE (run_doc) " if has_docs else "")
                        + f"FROM read_parquet([{_listing(parts + loose)}], "
                        "union_by_name=true)")
            break
        except duckdb.Error:
            if attempt == 3:
                raise
            if any(not f.exists() for f in files):
                continue
            for f in files:      # a footer that read but a schema that does not
                try:
                    pq.read_schema(f)
                    pq.read_table(f, columns=["run_id"])
                except (OSError, pa.ArrowException, ValueError) as e:
                    if f.exists():
                        _quarantine(f, base, f"unreadable ({str(e)[:200]})")
    if not files:
        con.execute("CREATE OR REPLACE VIEW samples AS SELECT NULL::VARCHAR AS run_id, "
                    "NULL::VARCHAR AS design, NULL::VARCHAR AS workload, "
                    "NULL::BIGINT AS sample, "
                    "NULL::BOOLEAN AS warmup, NULL::DOUBLE AS cycles_per_packet, "
                    "NULL::DOUBLE AS tsc_hz WHERE false")
    con.execute("""
        CREATE OR REPLACE VIEW runs AS
        SELECT run_id, any_value(design) AS design, any_value(workload) AS workload,
               median(cycles_per_packet) FILTER (WHERE NOT warmup) AS median_cpp,
               min(cycles_per_packet) FILTER (WHERE NOT warmup) AS min_cpp,
               count(*) FILTER (WHERE NOT warmup) AS samples,
               any_value(tsc_hz) AS tsc_hz
        FROM samples GROUP BY run_id""")
    return con


@contextlib.contextmanager
def _no_compaction(root):
    """Hold every machine's compaction lock (briefly: one query), so the
    files a reader listed are still there when it reads them. A directory
    that cannot be locked (read-only) or a lock held for 30 s is read
    without it (:func:`connect` then lists again if files move)."""
    from filelock import FileLock, Timeout

    with contextlib.ExitStack() as stack:
        for mdir in _machines(runs_dir(root)):
            lock = FileLock(str(mdir / ".lock"))
            try:
                lock.acquire(timeout=30)
            except (OSError, Timeout):
                continue
            stack.callback(lock.release)
        yield


def _query(root, sql: str):
    """Open the store and run ``sql`` with compaction held off."""
    with _no_compaction(root):
        return connect(root).execute(sql).df()


def samples(root: str | os.PathLike | None = None, where: str | None = None):
    """Every stored sample as a pandas DataFrame (optionally filtered by SQL)."""
    return _query(root, "SELECT * FROM samples" + (f" WHERE {where}" if where else ""))


def runs(root: str | os.PathLike | None = None):
    """One row per stored run as a pandas DataFrame."""
    return _query(root, "SELECT * FROM runs ORDER BY run_id")


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


def _part_ids(parts: list[Path]) -> set[str]:
    if not parts:
        return set()
    rows = _duck(f"SELECT DISTINCT run_id FROM read_parquet([{_listing(parts)}], "
                 "union_by_name=true)")
    return {r[0] for r in rows}


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
    import time

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
