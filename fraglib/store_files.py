"""The store's file layer: where run files live, how one is written
atomically, how the files of a machine are listed, which of them are
readable fraglib runs, and how the others are set aside (quarantine).

:mod:`fraglib.store` (writing and reading runs) and
:mod:`fraglib.store_maintenance` (compaction and checks) both stand on it;
the layout and its guarantees are described in :mod:`fraglib.store`.
"""

from __future__ import annotations

import errno as _errno
import os
import tempfile
import uuid
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._build import REPO_ROOT
from .exceptions import StoreSchemaError, StoreWarning

__all__ = ["data_dir", "runs_dir", "run_files", "STORE_SCHEMA"]

#: version of the store layout this fraglib writes (files' ``fraglib.schema``)
STORE_SCHEMA = 2
_META_KEY = b"fraglib.run"
_SCHEMA_KEY = b"fraglib.schema"
_DOC_COL = "run_doc"
_COMPACTED = "compacted"
_QUARANTINE = ".quarantine"
_TMP = ".tmp-"

#: files this process already quarantined or warned about (warn once)
_warned: set[str] = set()


def data_dir() -> Path:
    """``$FRAGLIB_DATA`` or ``<repo>/data``."""
    env = os.environ.get("FRAGLIB_DATA")
    return Path(env) if env else REPO_ROOT / "data"


def runs_dir(root: str | os.PathLike | None = None) -> Path:
    """Directory holding ``<machine>/`` directories of run files."""
    return Path(root) if root is not None else data_dir() / "runs"


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


def _part_ids(parts: list[Path]) -> set[str]:
    if not parts:
        return set()
    rows = _duck(f"SELECT DISTINCT run_id FROM read_parquet([{_listing(parts)}], "
                 "union_by_name=true)")
    return {r[0] for r in rows}
