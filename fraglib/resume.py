"""Resume a sweep or comparison that was killed: skip the runs already stored.

Every run :func:`fraglib.run` stores carries three provenance fields:

``spec_key``
    A hash of what determines the measurement: design, workload, every
    validated engine parameter, the build (layout seed, statistics build,
    extra flags) and the caller's provenance (a comparison's build, pair,
    role and order; its random comparison id is left out): :func:`key_of`
    of the run's :class:`~fraglib.spec.RunSpec`.
``spec_scope``
    ``$FRAGLIB_RESUME_SCOPE`` (``fraglib sweep`` sets the notebook's name;
    ``fraglib compare`` its designs and seed), else ``""``.
``spec_seq``
    How many runs with the same scope and key this process asked for before
    (a grid's repeats are identical specs; the n-th request maps to the n-th
    stored run).

With resume on (``resume=True``, or ``$FRAGLIB_RESUME=1``, which
``--resume`` sets for the notebooks' kernels), a request whose
``(scope, key, seq)`` is stored returns that stored run instead of running
the engine. A process killed with SIGKILL loses only the run in flight:
stored files are complete (written atomically) and the rerun walks the
same specs in the same order (the grids and comparisons draw their order
from a seed).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

__all__ = ["RESUME_VAR", "SCOPE_VAR", "spec_key", "key_of", "next_seq", "resume_enabled",
           "lookup", "reset"]

RESUME_VAR = "FRAGLIB_RESUME"
SCOPE_VAR = "FRAGLIB_RESUME_SCOPE"
#: provenance keys that differ between two runs of the same spec
_VOLATILE = frozenset({"compare_id"})
#: labels that differ between two runs of the same spec (a comparison's random id)
_VOLATILE_LABELS = frozenset({"comparison"})

_seq: dict[tuple[str, str], int] = {}
_index: dict[str, dict[tuple[str, str, int], str]] = {}


def scope() -> str:
    """The current resume scope (``$FRAGLIB_RESUME_SCOPE`` or ``""``)."""
    return os.environ.get(SCOPE_VAR, "")


def resume_enabled(resume: bool | None) -> bool:
    """``resume`` when given, else whether ``$FRAGLIB_RESUME`` is ``1``."""
    return bool(resume) if resume is not None else os.environ.get(RESUME_VAR) == "1"


def spec_key(design: str, workload: str, params: Mapping[str, object], *,
             layout_seed: int | None, stats: bool, extra_flags: tuple[str, ...],
             provenance: Mapping[str, object] | None) -> str:
    """A stable 16-hex-digit key of one run's specification."""
    doc = {"design": design, "workload": workload,
           "params": {k: params[k] for k in sorted(params)},
           "layout_seed": layout_seed, "stats": bool(stats),
           "extra_flags": list(extra_flags),
           "provenance": {k: v for k, v in sorted(dict(provenance or {}).items())
                          if k not in _VOLATILE}}
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def key_of(spec) -> str:
    """:func:`spec_key` of a :class:`~fraglib.spec.RunSpec` (its labels included,
    the comparison id left out; the env pad and timeout do not change what
    is measured)."""
    labels = {k: v for k, v in spec.labels.as_dict().items()
              if k not in _VOLATILE_LABELS and v is not None}
    prov = dict(spec.provenance)
    if labels:
        prov["labels"] = labels
    return spec_key(spec.design, spec.workload, spec.engine_params,
                    layout_seed=spec.layout_seed, stats=spec.stats,
                    extra_flags=spec.extra_flags, provenance=prov)


def next_seq(key: str) -> int:
    """This process's occurrence number of ``key`` in the current scope."""
    k = (scope(), key)
    n = _seq.get(k, 0)
    _seq[k] = n + 1
    return n


def reset() -> None:
    """Forget occurrence counts and the cached index (tests; a new sweep)."""
    _seq.clear()
    _index.clear()


def _load_index(root) -> dict[tuple[str, str, int], str]:
    from . import store

    with store._no_compaction(root):
        con = store.connect(root)
        cols = {r[0] for r in con.execute("DESCRIBE samples").fetchall()}
        if not {"spec_key", "spec_seq", "spec_scope"} <= cols:
            return {}
        rows = con.execute("SELECT DISTINCT spec_scope, spec_key, spec_seq, run_id "
                           "FROM samples WHERE spec_key IS NOT NULL").fetchall()
    return {(s or "", k, int(q)): rid for s, k, q, rid in rows}


def lookup(key: str, seq: int, root=None):
    """The stored :class:`~fraglib.results.RunResult` for ``(scope, key, seq)``,
    or None."""
    from . import store

    where = str(store.runs_dir(root))
    if where not in _index:
        _index[where] = _load_index(root)
    run_id = _index[where].get((scope(), key, seq))
    return None if run_id is None else store.load_run(run_id, root)
