"""Does a patch change cycles per packet? Base against base + patches.

The 8.0 notebook's logic: register the base revision and the patched one
as kernel designs, then per workload a :func:`fraglib.compare` verdict
(the suite's statistics: layout builds, ABBA pairs, bootstrap interval),
callgrind's simulated instructions and misses per packet for both, and
the code-size change of the functions the patches touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from ..exceptions import ParameterError
from . import registry

__all__ = ["register_pair", "touched_functions", "code_sizes", "simulated_deltas",
           "verdicts", "answer"]

#: callgrind events reported per packet.
EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "Bc", "Bcm")


def register_pair(tree, base: str, patches=(), *, name: str = "nb") -> tuple[str, str]:
    """Register ``kernel:<name>-base`` (``base``) and ``kernel:<name>-patched``
    (``base`` + ``patches``); return the two design names."""
    if not patches:
        raise ParameterError("patches", list(patches), "at least one patch file")
    a = registry.add(f"{name}-base", tree, base)
    b = registry.add(f"{name}-patched", tree, base, list(patches))
    return a["design"], b["design"]


def touched_functions(a: str, b: str) -> list[str]:
    """Functions whose text differs between two kernel designs (added,
    removed or changed), in ``b``'s order then ``a``'s leftovers."""
    ha, hb = registry.entry(a)["function_hashes"], registry.entry(b)["function_hashes"]
    names = list(hb) + [n for n in ha if n not in hb]
    return [n for n in names if ha.get(n) != hb.get(n)]


def _symbol_sizes(binary: Path) -> dict[str, int]:
    out = subprocess.run(["nm", "-S", "--defined-only", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            sizes[parts[3].split(".")[0]] = sizes.get(parts[3].split(".")[0], 0) \
                + int(parts[1], 16)
    return sizes


def code_sizes(a: str, b: str, functions) -> pd.DataFrame:
    """Bytes of machine code of ``functions`` in each design's engine (0 when
    absent: removed, or inlined everywhere), and the change."""
    from .._build import build_engine
    sa, sb = (_symbol_sizes(build_engine(d).path) for d in (a, b))
    rows = [{"function": f, "bytes_a": sa.get(f, 0), "bytes_b": sb.get(f, 0)}
            for f in functions]
    df = pd.DataFrame(rows, columns=["function", "bytes_a", "bytes_b"])
    df["delta"] = df["bytes_b"] - df["bytes_a"]
    return df


def simulated_deltas(a: str, b: str, workloads, **params) -> pd.DataFrame:
    """Callgrind's events per packet for both designs on each workload, and
    B - A. Deterministic: one run each tells the difference exactly."""
    from ..valgrind import callgrind_costs
    rows = []
    for wl in workloads:
        per = {}
        for d in (a, b):
            c = callgrind_costs(d, wl, functions=registry.design_functions(d), **params)
            per[d] = {e: c.totals.get(e, 0) / c.packets for e in EVENTS}
        for e in EVENTS:
            rows.append({"workload": wl, "event": e, "a": per[a][e], "b": per[b][e],
                         "delta": per[b][e] - per[a][e]})
    return pd.DataFrame(rows)


def verdicts(a: str, b: str, workloads, **kwargs) -> pd.DataFrame:
    """One :func:`fraglib.compare` per workload: the verdict on cycles per packet."""
    from ..compare import compare
    rows = []
    for wl in workloads:
        c = compare(a, b, workload=wl, progress=False, **kwargs)
        v = c.verdict
        rows.append({"workload": wl, "verdict": v.kind, "effect": v.effect,
                     "ci_lo": v.ci_lo, "ci_hi": v.ci_hi, "mde": v.mde,
                     "confidence": v.confidence, "builds": v.n_builds,
                     "pairs": v.n_pairs, "text": c.text})
    return pd.DataFrame(rows)


def answer(verdict_table: pd.DataFrame, simulated: pd.DataFrame, sizes: pd.DataFrame) -> str:
    """The closing answer: per workload, what the timing verdict says and what
    the simulator counts, and which functions changed size."""
    lines = []
    for _, r in verdict_table.iterrows():
        ir = simulated[(simulated.workload == r.workload) & (simulated.event == "Ir")]
        sim = ("" if ir.empty else
               f"; callgrind: {ir['delta'].iat[0]:+.3f} instructions per packet")
        lines.append(f"{r.workload}: {r.verdict} (B/A = {r.effect:.4f}, "
                     f"{100 * r.confidence:.0f} % CI [{r.ci_lo:.4f}, {r.ci_hi:.4f}]){sim}")
    changed = sizes[sizes["delta"] != 0]
    lines.append("code size: " + ("no change in the touched functions" if changed.empty else
                                  ", ".join(f"{f} {d:+d} B" for f, d in
                                            zip(changed["function"], changed["delta"]))))
    return "\n".join(lines)
