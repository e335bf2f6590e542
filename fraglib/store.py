"""The results store: one Parquet file per run under ``data/runs/<machine>/``.

Each file holds one row per sample (tidy, so DuckDB and pandas can query
every run at once) plus the whole :class:`~fraglib.results.RunResult` as
JSON in the Parquet key-value metadata, so a run reads back exactly.
Files are written to a temporary name in the same directory and renamed:
a crash never leaves a partial result file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._build import REPO_ROOT
from .exceptions import StoreError
from .results import RunResult

__all__ = ["data_dir", "runs_dir", "write_run", "read_run", "connect", "samples",
           "runs", "run_files"]

_META_KEY = b"fraglib.run"

#: parameters copied into columns (the rest stay in the JSON metadata)
_PARAM_COLUMNS = ("size", "align", "batch", "cpu", "cpu2", "dist", "queue_depth",
                  "mss", "ring_size", "busy_poll", "high_order_fail",
                  "pfmemalloc_rate", "seed", "init_on_alloc", "small_heads",
                  "remote_free")
_PROV_COLUMNS = ("machine", "time", "git_sha", "git_dirty", "build_key",
                 "source_hash", "layout_seed", "env_pad", "build_id", "process",
                 "pair", "role")


def data_dir() -> Path:
    """``$FRAGLIB_DATA`` or ``<repo>/data``."""
    env = os.environ.get("FRAGLIB_DATA")
    return Path(env) if env else REPO_ROOT / "data"


def runs_dir(root: str | os.PathLike | None = None) -> Path:
    """Directory holding ``<machine>/<run_id>.parquet`` files."""
    return Path(root) if root is not None else data_dir() / "runs"


def _table(r: RunResult) -> pa.Table:
    n = len(r.cycles)
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
    for prefix, src in (("m_", r.metrics), ("pages_", r.pages), ("stat_", r.stats)):
        for k, v in src.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cols[prefix + k] = [float(v)] * n
    table = pa.table(cols)
    meta = {_META_KEY: json.dumps(r.to_dict()).encode()}
    return table.replace_schema_metadata(meta)


def write_run(result: RunResult, root: str | os.PathLike | None = None) -> Path:
    """Write one run atomically; return its path.

    Parameters
    ----------
    result : RunResult
    root : path, optional
        Runs directory (default :func:`runs_dir`).
    """
    machine = str(result.provenance.get("machine", "unknown"))
    out_dir = runs_dir(root) / machine
    out = out_dir / f"{result.run_id}.parquet"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=out_dir)
        os.close(fd)
        try:
            pq.write_table(_table(result), tmp)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise StoreError(f"cannot write {out}: {e}") from e
    return out


def read_run(path: str | os.PathLike) -> RunResult:
    """Read a run back exactly as it was written."""
    meta = pq.read_schema(path).metadata or {}
    if _META_KEY not in meta:
        raise StoreError(f"{path} is not a fraglib run file")
    return RunResult.from_dict(json.loads(meta[_META_KEY]))


def run_files(root: str | os.PathLike | None = None) -> list[Path]:
    """Every stored run file (temporary files excluded)."""
    return sorted(p for p in runs_dir(root).glob("*/*.parquet")
                  if not p.name.startswith(".tmp-"))


def connect(root: str | os.PathLike | None = None):
    """A DuckDB connection with views ``samples`` (one row per sample) and
    ``runs`` (one row per run: median cycles per packet over measured samples).

    An empty store gives empty views rather than an error.
    """
    import duckdb

    con = duckdb.connect()
    files = [str(p) for p in run_files(root)]
    if files:
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW samples AS SELECT * FROM "
                    f"read_parquet([{listing}], union_by_name=true)")
    else:
        con.execute("CREATE VIEW samples AS SELECT NULL::VARCHAR AS run_id, "
                    "NULL::VARCHAR AS design, NULL::VARCHAR AS workload, "
                    "NULL::BOOLEAN AS warmup, NULL::DOUBLE AS cycles_per_packet, "
                    "NULL::DOUBLE AS tsc_hz WHERE false")
    con.execute("""
        CREATE VIEW runs AS
        SELECT run_id, any_value(design) AS design, any_value(workload) AS workload,
               median(cycles_per_packet) FILTER (WHERE NOT warmup) AS median_cpp,
               min(cycles_per_packet) FILTER (WHERE NOT warmup) AS min_cpp,
               count(*) FILTER (WHERE NOT warmup) AS samples,
               any_value(tsc_hz) AS tsc_hz
        FROM samples GROUP BY run_id""")
    return con


def samples(root: str | os.PathLike | None = None, where: str | None = None):
    """Every stored sample as a pandas DataFrame (optionally filtered by SQL)."""
    sql = "SELECT * FROM samples" + (f" WHERE {where}" if where else "")
    return connect(root).execute(sql).df()


def runs(root: str | os.PathLike | None = None):
    """One row per stored run as a pandas DataFrame."""
    return connect(root).execute("SELECT * FROM runs ORDER BY run_id").df()
