"""The closing sentences of the workload notebooks, computed from their tables.

Every function takes the tables a notebook made (:mod:`fraglib.experiments`)
and returns a sentence or a paragraph, so a notebook's answer stays true
when it is rerun: :func:`headline` (fastpath), :func:`rx_answer` and
:func:`rx_routing_text`, :func:`tx_answer` and :func:`tx_copy_text`,
:func:`ring_answer`, :func:`memory_answer`, :func:`counters_answer`,
:func:`noise_answer`. The summary notebook's sentences are in
:mod:`fraglib.report.summary_text`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import compare as _cmp
from ..experiments.cells import cell_medians
from ..experiments.noise import cheapest
from ..experiments.rx import rx_routing
from ..experiments.schedule import MEASURED
from ..experiments.tx import tx_summary

__all__ = ["headline", "rx_routing_text", "tx_copy_text", "rx_answer", "tx_answer",
           "ring_answer", "memory_answer", "counters_answer", "noise_answer"]


def headline(table: pd.DataFrame, a: str, b: str) -> str:
    """One sentence: which design was faster, by how much, where it holds."""
    eff = table["effect"]
    lo, hi = (eff.min() - 1) * 100, (eff.max() - 1) * 100
    kinds = table["kind"].value_counts().to_dict()
    faster = kinds.get("faster", 0)
    slower = kinds.get("slower", 0)
    n = len(table)
    if slower and not faster:
        verb = f"{b} was slower than {a} in {slower} of {n} cells"
    elif faster and not slower:
        verb = f"{b} was faster than {a} in {faster} of {n} cells"
    elif faster and slower:
        verb = f"{b} was faster in {faster} and slower in {slower} of {n} cells"
    else:
        verb = f"no difference between {b} and {a} was resolved in any of {n} cells"
    return (f"{verb}; per-cell cycles-per-packet ratio {b}/{a} ranged from "
            f"{lo:+.1f} % to {hi:+.1f} % (after Holm correction, "
            f"{n - faster - slower} cells unresolved).")


_ROUTE_TEXT = {"slicer1k": "a 1 KiB slice of page_frag_alloc_1k() (the 6.3–6.13 napi path)",
               "kmalloc": "the kmalloc-1k stand-in (up to 6.2 and from 6.14)",
               "design": "the design itself (a what-if: no kernel does this)"}


def rx_routing_text(df: pd.DataFrame) -> str:
    """One sentence per routing: which designs' runs sent small heads where."""
    t = rx_routing(df)
    if t.empty:
        return "No rx run was measured, so no small-head routing was used."
    parts = []
    for (route, free), g in t.groupby(["small_heads", "remote_free"], sort=False):
        names = ", ".join(g["design"])
        share = 1 - g["design_share"].median()
        parts.append(f"{names}: small heads (len + NET_SKB_PAD <= SKB_WITH_OVERHEAD(1024)) "
                     f"went to {_ROUTE_TEXT.get(route, route)}, {share:.0%} of frames; "
                     f"remote_free={free}")
    return ("Routing used by every figure below: " + "; ".join(parts) + ". Only the "
            "remaining heads reach the design's page_frag_cache.")


def tx_copy_text(df: pd.DataFrame) -> str:
    """What each tx run copied per allocator call, as the engine counted it.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`fraglib.experiments.tx.tx_grid` output.

    Returns
    -------
    str
        One sentence per (dist, design): mean bytes per copy, allocator
        calls per message and per wire segment (medians over the runs).
    """
    m = df[df["status"] == MEASURED]
    if m.empty:
        return "No tx run was measured."
    g = (m.groupby(["dist", "design"], sort=False)
          [["copy_bytes_mean", "alloc_calls_per_message", "alloc_calls_per_wire_segment"]]
          .median())
    parts = []
    for dist in dict.fromkeys(m["dist"]):
        rows = [f"{d} {r.copy_bytes_mean:.0f} B per copy, {r.alloc_calls_per_message:.2f} "
                f"allocator calls per message, {r.alloc_calls_per_wire_segment:.3f} per wire "
                "segment" for (dd, d), r in g.iterrows() if dd == dist]
        parts.append(f"{dist}: " + "; ".join(rows))
    return ("Each copy is min(size_goal − skb length, bytes left, room in the page "
            "fragment), with no MSS cap; prepare() is asked for 32 B as "
            "sk_page_frag_refill() asks; designs without prepare/commit allocate each "
            "copy (at most a page). Measured by the engine: " + ". ".join(parts) + ".")


def _pairs_text(df: pd.DataFrame) -> str:
    m = df[df["status"] == MEASURED]
    reps = m["repeat"].nunique()
    return f"{reps} interleaved round{'s' if reps != 1 else ''}"


def _answer_word(table: pd.DataFrame) -> str:
    kinds = set(table["kind"])
    if not len(table):
        return "Not compared"
    if kinds <= {"slower"}:
        return "Yes"
    if kinds <= {"faster"}:
        return "No, the opposite"
    if "slower" in kinds and "faster" in kinds:
        return "It depends on the cell"
    if "slower" in kinds:
        return "In some cells"
    if "faster" in kinds:
        return "No; where resolved it was cheaper"
    return "No difference resolved on this machine"


def _unmeasured_text(df: pd.DataFrame, by: Sequence[str]) -> str:
    bad = df[df["status"] != MEASURED]
    if bad.empty:
        return ""
    cells = df.groupby(list(by), sort=False).ngroups
    parts = []
    for (design, status), sub in bad.groupby(["design", "status"], sort=False):
        n = sub.groupby(list(by), sort=False).ngroups
        where = ("all " if n == cells else "") + f"{n} of {cells} cells"
        parts.append(f"{design} in {where}: {status}")
    return " Not measured: " + " | ".join(parts) + "."


def _cheapest_text(df: pd.DataFrame, by: Sequence[str], value: str = "median_cpp",
                   what: str = "cycles per packet") -> str:
    med = cell_medians(df, by, value)
    if med.empty:
        return ""
    best = med.idxmin(axis=1)
    counts = best.value_counts()
    lead = ", ".join(f"{d} in {n} of {len(best)}" for d, n in counts.items())
    return f" Lowest median {what} per cell: {lead}."


def rx_answer(df: pd.DataFrame, table: pd.DataFrame, baseline: str = "topdown",
              candidate: str = "bottomup") -> str:
    """One paragraph answering the rx notebook's question, from the data.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`fraglib.experiments.rx.rx_grid` output.
    table : pandas.DataFrame
        :func:`fraglib.experiments.cells.cell_verdicts` of ``df`` against ``baseline``.
    baseline, candidate : str
        The pair the question is about.
    """
    t = table[table["design"] == candidate]
    parts = []
    for free_on in dict.fromkeys(df["free_on"]):
        sub = t[t["free_on"] == free_on]
        if len(sub):
            ci = (f"; 95 % CIs within {100 * (sub['ci_lo'].min() - 1):+.1f} % to "
                  f"{100 * (sub['ci_hi'].max() - 1):+.1f} %")
            parts.append(f"freed on {free_on}, "
                         + headline(sub, baseline, candidate).rstrip(".") + ci)
        else:
            parts.append(f"freed on {free_on}, not compared")
    dists = ", ".join(dict.fromkeys(df["dist"]))
    head = _answer_word(t)
    return (f"{head}. {candidate} against {baseline} on rx ({dists}; "
            f"{_pairs_text(df)}, TSC cycles per frame, alloc + touch + free): "
            + "; ".join(parts) + "."
            + _cheapest_text(df, ["dist", "free_on"])
            + _unmeasured_text(df, ["dist", "free_on"]))


def tx_answer(df: pd.DataFrame, table: pd.DataFrame, baseline: str = "sockfrag") -> str:
    """One paragraph on coalescing and cycles per segment, from the data.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`fraglib.experiments.tx.tx_grid` output.
    table : pandas.DataFrame
        :func:`fraglib.experiments.cells.cell_verdicts` of ``df`` against ``baseline``.
    baseline : str
        The design the others are compared with.
    """
    s = tx_summary(df)
    s = s[s["status"] == MEASURED]
    coal = []
    for dist, sub in s.groupby("dist", sort=False):
        groups: dict[tuple, list[str]] = {}
        for _, r in sub.groupby("design", sort=False)[["coalesce_rate", "frags_per_segment"]] \
                       .median().iterrows():
            groups.setdefault((round(r["coalesce_rate"], 3),
                               round(r["frags_per_segment"], 2)), []).append(r.name)
        coal.append(f"{dist}: " + "; ".join(
            f"{', '.join(ds)} merged {100 * rate:.1f} % of chunks "
            f"({fps:.2f} fragments per segment)"
            for (rate, fps), ds in sorted(groups.items(), key=lambda kv: -kv[0][0])))
    never = sorted(set(df.loc[df["note"].str.contains("never coalesces", na=False), "design"]))
    verdict_parts = []
    for d in dict.fromkeys(table["design"]):
        t = table[table["design"] == d]
        verdict_parts.append(headline(t, baseline, d).rstrip(".")
                             .replace("cycles-per-packet", "cycles-per-segment"))
    cyc = ("Cycles per wire segment against " + baseline + ": "
           + "; ".join(verdict_parts) + ".") if verdict_parts else \
        f"Cycles per wire segment were not compared with {baseline}."
    never_txt = (f" {', '.join(never)} lack prepare/commit and allocate every chunk, so "
                 "they never coalesce." if never else "")
    return ("Coalescing (" + _pairs_text(df) + ") — " + " | ".join(coal) + "."
            + never_txt + " " + cyc
            + _cheapest_text(df, ["dist", "free_on"], what="cycles per segment")
            + _unmeasured_text(df, ["dist", "free_on"]))


def ring_answer(ratios: pd.DataFrame, vs: pd.DataFrame, push: pd.DataFrame | None = None,
                *, candidate: str = "bottomup", baseline: str = "topdown") -> str:
    """One paragraph: our ring ratios, the kernel's, and whether they agree.

    Parameters
    ----------
    ratios : pandas.DataFrame
        :func:`fraglib.experiments.ring.ring_ratios` output (elapsed time per object).
    vs : pandas.DataFrame
        :func:`fraglib.experiments.ring.ring_vs_kernel` output.
    push : pandas.DataFrame, optional
        :func:`fraglib.experiments.ring.ring_ratios` with ``value="median_cpp"`` (push-thread cycles
        per push), reported beside the elapsed-time ratios.
    candidate, baseline : str
        The pair the sentence is about.
    """
    r = ratios[ratios["design"] == candidate]
    if r.empty:
        return f"{candidate} was not compared with {baseline} on the ring here."

    def fmt(t: pd.DataFrame) -> str:
        return "; ".join(f"{x.mode}/{x.cpus} {x.effect:.3f} [{x.ci_lo:.3f}, {x.ci_hi:.3f}] "
                         f"({x.kind})" for x in t.itertuples())

    v = vs[(vs["design"] == candidate) & vs["our_ratio"].notna()]
    kr = vs.drop_duplicates("kernel_row")["kernel_ratio"]
    agree = int(v["consistent"].astype(bool).sum()) if len(v) else 0
    lo, hi = r["effect"].min(), r["effect"].max()
    text = (f"Measured {candidate}/{baseline} elapsed time per object (ratio, 95 % CI, "
            f"verdict after Holm): {fmt(r)}. Across modes and CPU placements our ratios "
            f"span {lo:.3f}–{hi:.3f}; the kernel's published after/before ratios for "
            f"page_frag_test span {kr.min():.3f}–{kr.max():.3f}, and our CI contains the "
            f"kernel's ratio in {agree} of {len(v)} matched rows (our CIs are "
            f"{100 * (r['ci_hi'] - r['ci_lo']).median():.0f} percentage points wide at the "
            "median: containing a kernel ratio is agreement only that wide).")
    if push is not None:
        p = push[push["design"] == candidate]
        if len(p):
            text += (f" Push-thread cycles per push (the allocation side alone): "
                     f"{fmt(p)}.")
    ff = r[["full_frees_baseline", "full_frees_design"]].to_numpy(float)
    if len(ff) and np.nanmax(ff) > 0:
        text += (f" Ring-full frees (the push thread outran the pop thread) ranged "
                 f"{np.nanmin(ff):.0f}–{np.nanmax(ff):.0f} per run (medians per cell), so "
                 "elapsed time here also measures how the two threads were scheduled.")
    return text


def memory_answer(mem: pd.DataFrame, baseline: str = "topdown",
                  candidate: str = "bottomup") -> str:
    """One paragraph: candidate vs baseline, then fewest/most pages, peak and waste.

    Parameters
    ----------
    mem : pandas.DataFrame
        :func:`fraglib.experiments.memory.memory_table` output.
    baseline, candidate : str
        The pair compared first.
    """
    m = mem[mem["status"] == MEASURED]
    idx = m.set_index(["design", "workload", "free_on"])
    pair = []
    for (w, free_on), _ in m.groupby(["workload", "free_on"], sort=False):
        if (baseline, w, free_on) in idx.index and (candidate, w, free_on) in idx.index:
            a, b = idx.loc[(baseline, w, free_on)], idx.loc[(candidate, w, free_on)]
            pair.append(f"{w}/{free_on} {b['pages_per_1k_packets']:.1f} vs "
                        f"{a['pages_per_1k_packets']:.1f} pages per 1000 packets, peak "
                        f"{b['peak_pages_held']:.0f} vs {a['peak_pages_held']:.0f}")
    parts = []
    for (w, free_on), sub in m.groupby(["workload", "free_on"], sort=False):
        p = sub.dropna(subset=["pages_per_1k_packets"])
        c = sub.dropna(subset=["consumed_per_requested"])
        k = sub.dropna(subset=["peak_pages_held"])
        bits = []
        if len(p):
            lo, hi = p.loc[p["pages_per_1k_packets"].idxmin()], \
                p.loc[p["pages_per_1k_packets"].idxmax()]
            same = p.loc[np.isclose(p["pages_per_1k_packets"], lo["pages_per_1k_packets"]),
                         "design"]
            bits.append(f"fewest pages per 1000 packets {', '.join(same)} "
                        f"({lo['pages_per_1k_packets']:.1f}), most {hi['design']} "
                        f"({hi['pages_per_1k_packets']:.1f})")
        if len(k):
            top = k.loc[k["peak_pages_held"].idxmax()]
            bits.append(f"highest peak {top['design']} ({top['peak_pages_held']:.0f} pages)")
        if len(c):
            lo, hi = c["consumed_per_requested"].min(), c["consumed_per_requested"].max()
            worst = c.loc[c["consumed_per_requested"].idxmax(), "design"]
            bits.append(f"consumed/requested {lo:.2f}–{hi:.2f} (worst {worst})")
        parts.append(f"{w}, freed on {free_on}: " + "; ".join(bits))
    nm_parts = []
    for d, sub in mem[mem["not_measured"] != ""].groupby("design", sort=False):
        reasons = dict.fromkeys(r.split(": ", 1)[1] for s in sub["not_measured"]
                                for r in s.split("; "))
        nm_parts.append(f"{d} ({'; '.join(reasons)})")
    nm_txt = (" Not measured, shown as NaN rather than zero: " + ", ".join(nm_parts) + "."
              if nm_parts else "")
    bad = mem.loc[mem["status"] != MEASURED].drop_duplicates(["design", "workload"])
    bad_txt = "".join(f" {r.design} on {r.workload}: {r.status}." for r in bad.itertuples())
    lead = (f"{candidate} vs {baseline}: " + "; ".join(pair) + ". ") if pair else ""
    return lead + ". ".join(parts) + "." + nm_txt + bad_txt


def _num(v) -> float:
    return v if isinstance(v, float) and not math.isnan(v) else np.nan


def counters_answer(ct: pd.DataFrame, profile: pd.DataFrame | None = None, *,
                    baseline: str = "topdown", candidate: str = "bottomup") -> str:
    """One paragraph: simulated costs of candidate vs baseline, hardware status, profile.

    Parameters
    ----------
    ct : pandas.DataFrame
        :func:`fraglib.experiments.counters.counter_table_for` output.
    profile : pandas.DataFrame, optional
        :func:`fraglib.experiments.counters.top_functions` output.
    baseline, candidate : str
        The pair compared.
    """
    m = ct[ct["status"] == MEASURED].set_index(["design", "workload"])
    parts = []
    for w in dict.fromkeys(ct["workload"]):
        if (baseline, w) not in m.index or (candidate, w) not in m.index:
            parts.append(f"{w}: not compared")
            continue
        a, b = m.loc[(baseline, w)], m.loc[(candidate, w)]
        ia, ib = _num(a["instructions_per_packet"]), _num(b["instructions_per_packet"])
        if math.isnan(ia) or math.isnan(ib):
            parts.append(f"{w}: {a['instructions_per_packet']}")
            continue
        da, db = _num(a["d1_misses_per_packet"]), _num(b["d1_misses_per_packet"])
        parts.append(f"{w} {ib:.1f} vs {ia:.1f} instructions per packet "
                     f"({ib - ia:+.1f}, {100 * (ib / ia - 1):+.1f} %), D1 misses "
                     f"{db:.3f} vs {da:.3f}")
    hw = ct.loc[ct["status"] == MEASURED, "hw_cycles_per_packet"]
    if len(hw) and all(isinstance(v, str) for v in hw):
        hw_txt = f" Hardware cycles, IPC and misses: {sorted(set(hw))[0]}."
    elif len(hw):
        hw_txt = " Hardware counters were measured (hw_* columns) over the whole region."
    else:
        hw_txt = ""
    prof_txt = ""
    if profile is not None and len(profile):
        tops = []
        for d, sub in profile.groupby("design", sort=False):
            t = sub.sort_values("rank").iloc[0]
            tops.append(f"{d}: {t['function']} ({100 * t['self_share']:.0f} % of "
                        f"{t['event']})")
        prof_txt = (f" Profile ({profile['method'].iloc[0]}, {profile['workload'].iloc[0]}) "
                    "top function — " + "; ".join(tops) + ".")
    refused = ct[ct["status"] != MEASURED]
    ref_txt = "".join(f" {r.design} on {r.workload}: {r.status}." for r in refused.itertuples())
    return (f"Simulated ({candidate} vs {baseline}, callgrind, the design's own functions): "
            + "; ".join(parts) + "." + hw_txt + prof_txt + ref_txt)


def _ci(row) -> str:
    return (f"{100 * (row['effect'] - 1):+.2f} % [{100 * (row['ci_lo'] - 1):+.2f}, "
            f"{100 * (row['ci_hi'] - 1):+.2f}]")


def noise_answer(aa: _cmp.Comparison, components: pd.DataFrame, grid: pd.DataFrame,
           sleep: pd.DataFrame | None = None, curve: pd.DataFrame | None = None, *,
           target: float = 0.005) -> str:
    """The closing paragraph of ``7.0-noise`` (Markdown), from the numbers.

    Parameters
    ----------
    aa : Comparison
        The A/A run.
    components : pandas.DataFrame
        :func:`fraglib.experiments.noise.variance_components` of `aa`.
    grid : pandas.DataFrame
        :func:`fraglib.experiments.noise.cost_grid` of `aa`.
    sleep, curve : pandas.DataFrame, optional
        :func:`~fraglib.experiments.noise.sleep_check` and
        :func:`~fraglib.experiments.noise.slowdown_curve` tables.
    target : float, default 0.005
        The MDE the debate asks about.
    """
    v = aa.verdict
    sig = dict(zip(components["component"], components["sigma"]))
    contains = v.ci_lo <= 1.0 <= v.ci_hi
    out = [f"**A/A.** {aa.a} against itself on different layout builds: "
           f"{100 * (v.effect - 1):+.2f} % [{100 * (v.ci_lo - 1):+.2f}, "
           f"{100 * (v.ci_hi - 1):+.2f}], "
           + ("the interval contains 0 as it should; a difference inside it is not "
              "resolved here." if contains else
              "the interval excludes 0: a false positive, which a 95 % interval gives "
              "about one time in twenty, or a bias between the sides (rerun with "
              "another seed).")]
    comp = ", ".join(f"{k.replace('sigma_', 'σ_')} {100 * s:.2f} %" for k, s in sig.items()
                     if math.isfinite(s))
    parts = [f"**Noise by level** (SD of log cycles per packet): {comp}."]
    sb, sp = sig.get("sigma_build", math.nan), sig.get("sigma_pair", math.nan)
    if math.isfinite(sb) and math.isfinite(sp):
        parts.append("Code layout dominates: only more builds help." if sb > sp / 2 else
                     "Process-to-process noise dominates: more pairs per build help.")
    share = components.attrs.get("batch_share", math.nan)
    if isinstance(share, float) and math.isfinite(share):
        parts.append(f"Batch-to-batch noise alone would explain {100 * min(share, 9.99):.0f} % "
                     "of σ_pair; the rest is between processes.")
    out.append(" ".join(parts))
    best = cheapest(grid, target)
    if best is None:
        out.append(f"**{100 * target:.1f} % resolution.** No design in the grid (up to "
                   f"{int(grid['builds'].max())} builds x {int(grid['pairs'].max())} pairs) "
                   f"reaches an MDE of {100 * target:.1f} % at this noise; the best is "
                   f"{100 * grid['mde'].min():.2f} %.")
    else:
        cost = (f", about {best['seconds'] / 60:.0f} min here" if "seconds" in best
                and math.isfinite(best["seconds"]) else "")
        out.append(f"**{100 * target:.1f} % resolution** needs {int(best['builds'])} layout "
                   f"builds x {int(best['pairs'])} pairs ({int(best['processes'])} "
                   f"processes{cost}).")
    if sleep is not None and len(sleep) == 2:
        r0, r1 = sleep.iloc[0], sleep.iloc[1]
        overlap = r0["ci_lo"] <= r1["ci_hi"] and r1["ci_lo"] <= r0["ci_hi"]
        out.append(f"**Sleep states.** busy_poll=0: {_ci(r0)}; busy_poll=1: {_ci(r1)}; "
                   + ("the intervals overlap, so CPU sleep states do not change the "
                      "verdict at this resolution." if overlap else
                      "the intervals do not overlap: sleep states move the ratio."))
    if curve is not None and len(curve):
        rows = curve[curve["k"] > 0]
        seen = rows[rows["kind"] == "slower"]
        first = (f"first detected at k = {int(seen['k'].min())}" if len(seen)
                 else "not detected at any k tried")
        desc = "; ".join(f"k = {int(r['k'])}: {r['kind']} {_ci(r)}" for _, r in rows.iterrows())
        out.append(f"**Positive control.** Injected dependent adds: {desc}; {first}.")
    return "\n\n".join(out)
