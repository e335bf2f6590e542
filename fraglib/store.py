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

The file layer (paths, atomic writes, listing, quarantine) is
:mod:`fraglib.store_files`; :func:`compact` and :func:`check` are
:mod:`fraglib.store_maintenance`, served from here.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import json
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .exceptions import ParameterError, StoreError, StoreSchemaError, StoreWarning
from .results import RunResult
from .store_files import (_COMPACTED, _DOC_COL, _META_KEY, _SCHEMA_KEY, STORE_SCHEMA,
                          _duck, _healthy, _listing, _loose_count, _machines, _os_reason,
                          _part_ids, _parts, _quarantine, _schema_of, _warned,
                          _write_atomic, data_dir, run_files, runs_dir)

__all__ = ["data_dir", "runs_dir", "write_run", "read_run", "load_run", "connect",
           "samples", "runs", "run_files", "compact", "check", "StoreCheck",
           "STORE_SCHEMA", "COMPACT_THRESHOLD", "LABEL_COLUMNS", "SPEC_COLUMN"]

#: one-run files per machine above which a write compacts (env
#: ``FRAGLIB_COMPACT_THRESHOLD`` overrides; 0 turns automatic compaction off)
COMPACT_THRESHOLD = 256


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
        from .store_maintenance import compact
        try:
            compact(root, machine=machine, wait=False)
        except StoreError as e:
            warnings.warn(f"automatic compaction skipped: {e}", StoreWarning, stacklevel=2)
    return out


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


def _query(root, sql):
    """Open the store and run ``sql`` with compaction held off.

    ``sql`` is a statement, or a function of the open connection that
    returns one (to look at the views first).
    """
    with _no_compaction(root):
        con = connect(root)
        return con.execute(sql(con) if callable(sql) else sql).df()


def samples(root: str | os.PathLike | None = None, where: str | None = None,
            columns=None):
    """Every stored sample as a pandas DataFrame (optionally filtered by SQL).

    ``columns``: only these, in this order (the view has a column per run
    parameter and metric, over a hundred; a verdict reads about fifteen).
    One that no stored file has comes back as a column of None, as a file
    without it reads in the full view.
    """
    if columns is None:
        return _query(root, "SELECT * FROM samples" + (f" WHERE {where}" if where else ""))
    columns = list(dict.fromkeys(columns))
    for c in columns:
        if not isinstance(c, str) or not c.isidentifier():
            raise ParameterError("columns", c, "names of columns of the samples view")

    def select(con) -> str:
        have = {d[0] for d in con.execute("SELECT * FROM samples LIMIT 0").description}
        sel = ", ".join(f'"{c}"' if c in have else f'NULL AS "{c}"' for c in columns)
        return f"SELECT {sel} FROM samples" + (f" WHERE {where}" if where else "")

    return _query(root, select)


def runs(root: str | os.PathLike | None = None):
    """One row per stored run as a pandas DataFrame."""
    return _query(root, "SELECT * FROM runs ORDER BY run_id")


def __getattr__(name: str):
    # compact(), check() and their records live in fraglib.store_maintenance
    # (which imports this module's file helpers); served from here (PEP 562)
    # as part of the store's API.
    if name in ("compact", "check", "CompactResult", "StoreCheck"):
        from . import store_maintenance
        return getattr(store_maintenance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
