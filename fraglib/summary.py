"""The verdict table for the debate, and its plain-text form for a mail.

:func:`verdicts` compares every design against a baseline (``topdown``) on
every workload with :func:`fraglib.compare.compare`, Holm-corrects the
Wilcoxon p-values across all cells (:func:`fraglib.stats.verdict_table`) and
lists the cells a workload refuses as "not applicable" with the reason.
:func:`format_summary` turns that table into text that fits 72 columns (a
netdev post), and :func:`write_summary` writes it, by default to
``reports/summary.txt``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import stats as _stats
from .exceptions import ParameterError

__all__ = ["verdicts", "format_summary", "write_summary", "summary_path",
           "WIDTH", "WORKLOADS", "NOT_APPLICABLE"]

#: the longest line :func:`format_summary` writes.
WIDTH = 72
#: the workloads of the debate, in reading order.
WORKLOADS = ("fastpath", "rx", "tx", "ring")
#: ``kind`` of a cell the workload refuses to run.
NOT_APPLICABLE = "not applicable"

_TABLE_COLUMNS = ("label", "design", "workload", "baseline", "kind", "kind_raw",
                  "resolved", "effect", "ci_lo", "ci_hi", "mde", "p_wilcoxon",
                  "p_holm", "n_builds", "n_pairs", "text", "reason", "ci_method",
                  "wall_s")


def _preferred(workload: str) -> dict:
    """The workload's preferred values of fraglib.run's own arguments."""
    from .compare import RUN_KEYS
    from .workloads import get_workload

    w = get_workload(workload)
    return {k: v for k, v in w.params.items() if k in RUN_KEYS}


def verdicts(baseline: str = "topdown", designs: Sequence[str] | None = None,
             workloads: Sequence[str] | None = WORKLOADS, *, builds: int = 3,
             processes: int = 4, seed: int = 0, alpha: float = 0.05,
             workload_params: Mapping[str, Mapping[str, object]] | None = None,
             store: bool = True, root=None, progress: bool = False,
             resamples: int = 10_000, **params) -> pd.DataFrame:
    """Every design against `baseline` on every workload, Holm-corrected.

    Parameters
    ----------
    baseline : str, default "topdown"
        Design A of every cell.
    designs : sequence of str, optional
        Designs B; default every registered design except `baseline`, with
        ``bottomup`` (the question of the debate) first.
    workloads : sequence of str, optional
        Workloads; names that are not registered are skipped (listed in
        ``table.attrs["skipped_workloads"]``). None: every registered one
        except ``sizes`` (not a measurement).
    builds, processes, seed, store, root, progress, resamples :
        Passed to :func:`fraglib.compare.compare` for every cell.
    alpha : float, default 0.05
        Family-wise error rate of the Holm correction.
    workload_params : mapping, optional
        Per-workload parameters, e.g. ``{"tx": {"packets": 512}}``. Each
        workload starts from its preferred run arguments (the registry's
        ``packets``, ``size``, ``batch``...), then `params`, then these.
    **params
        Run and workload parameters for every cell (``packets=16384``).

    Returns
    -------
    pandas.DataFrame
        One row per (design, workload): ``label`` ("design/workload"),
        ``design``, ``workload``, ``baseline``, the columns of
        :func:`fraglib.stats.verdict_table` (``kind`` after Holm), ``reason``
        (why a cell is "not applicable", else empty), ``ci_method`` and
        ``wall_s``. Not-applicable rows have NaN numbers.
    """
    from .compare import _validate, compare
    from .designs import design_names, get_design

    get_design(baseline)
    if designs is None:
        others = [d for d in design_names() if d != baseline]
        designs = sorted(others, key=lambda d: d != "bottomup")
    designs = list(dict.fromkeys(designs))
    for d in designs:
        get_design(d)
    if baseline in designs:
        raise ParameterError("designs", baseline, "designs other than the baseline")
    from .workloads import workload_names

    known = workload_names()
    wanted = [w for w in known if w != "sizes"] if workloads is None else list(workloads)
    present = [w for w in wanted if w in known]
    extra = dict(workload_params or {})
    for w in extra:
        if w not in known:
            raise ParameterError("workload_params", w, "keys that are workload names: "
                                 + ", ".join(known))

    cells, na = [], []
    for w in present:
        kw = {**_preferred(w), **params, **dict(extra.get(w, {}))}
        # bad input fails here, for the baseline, before anything runs; what
        # compare() refuses below is then the workload refusing a design
        _validate(baseline, baseline, w, builds, processes, True, None, 0, seed,
                  resamples, 0.0025, dict(kw))
        for d in designs:
            label = {"label": f"{d}/{w}", "design": d, "workload": w, "baseline": baseline}
            try:
                c = compare(baseline, d, workload=w, builds=builds, processes=processes,
                            seed=seed, store=store, root=root, progress=progress,
                            resamples=resamples, **kw)
            except ParameterError as e:
                na.append({**label, "kind": NOT_APPLICABLE, "kind_raw": NOT_APPLICABLE,
                           "resolved": False, "reason": str(e)})
                continue
            cells.append({**label, "verdict": c.verdict, "reason": "",
                          "ci_method": c.ci_method, "wall_s": c.wall_s})
    table = (_stats.verdict_table(cells, alpha=alpha) if cells
             else pd.DataFrame(columns=list(_TABLE_COLUMNS)))
    if na:
        table = pd.concat([table, pd.DataFrame(na)], ignore_index=True)
    order = {(d, w): i for i, (w, d) in enumerate((w, d) for w in present for d in designs)}
    table = table.iloc[sorted(range(len(table)), key=lambda i: order[
        (table["design"].iat[i], table["workload"].iat[i])])].reset_index(drop=True)
    table = table[[c for c in _TABLE_COLUMNS if c in table]]
    table.attrs.update({"baseline": baseline, "builds": builds, "processes": processes,
                        "alpha": alpha, "seed": seed,
                        "skipped_workloads": [w for w in wanted if w not in known]})
    return table


# ---- plain text -----------------------------------------------------------------


def _signed(x: float) -> str:
    return f"{x:+.2f}" if abs(x) < 100 else f"{x:+.0f}"


def _machine_line() -> str:
    from . import metadata

    m = metadata.machine_metadata()
    cpu = str(m.get("cpu_model", "unknown CPU"))
    cores = m.get("cpu_logical_cores", "?")
    vm = ", VM" if m.get("hypervisor") is True else ""
    return f"{cpu}, {cores} CPUs{vm}, Linux {m.get('kernel', '?')}"


def _sha() -> str:
    from .provenance import git_state

    g = git_state()
    sha = str(g.get("git_sha", "unknown"))[:12]
    return sha + (" (dirty)" if g.get("git_dirty") else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "~"


def format_summary(table: pd.DataFrame, *, machine: str | None = None,
                   date: str | None = None, sha: str | None = None,
                   method: str | None = None, title: str | None = None) -> str:
    """The verdict table as plain text, every line at most 72 columns.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`verdicts` (columns ``design``, ``workload``, ``kind``,
        ``kind_raw``, ``effect``, ``ci_lo``, ``ci_hi``, ``mde``, ``n_pairs``,
        ``reason``; ``baseline`` optional).
    machine, date, sha, method, title : str, optional
        Header fields; by default this machine's CPU and kernel, the UTC date,
        the git sha (with "(dirty)") and the method of :func:`verdicts`.

    Returns
    -------
    str
        Header, one row per cell (design, workload, B/A %, 95 % CI, verdict,
        MDE %, n pairs), then notes: what the columns mean, Holm demotions
        and the reason of every "not applicable" cell.
    """
    need = ("design", "workload", "kind", "effect", "ci_lo", "ci_hi", "n_pairs")
    missing = [c for c in need if c not in table]
    if missing:
        raise ParameterError("table", f"missing columns {missing}",
                             "the output of fraglib.summary.verdicts()")
    base = (str(table["baseline"].dropna().iloc[0]) if "baseline" in table
            and table["baseline"].notna().any() else table.attrs.get("baseline", "A"))
    builds = table.attrs.get("builds")
    processes = table.attrs.get("processes")
    if method is None:
        shape = (f"{builds} layout builds x {processes}" if builds and processes
                 else "layout builds x")
        method = f"{shape} ABBA process pairs, hier. bootstrap, Holm"
    date = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        _clip(title or f"page_frag designs vs {base}: TSC cycles per packet", WIDTH),
        _clip(f"machine: {machine or _machine_line()}", WIDTH),
        _clip(f"date: {date}  git: {sha or _sha()}", WIDTH),
        _clip(f"method: {method}", WIDTH),
        "",
    ]
    head = (f"{'design':<10} {'workload':<8} {'B/A %':>6} {'95 % CI':<16} "
            f"{'verdict':<16} {'MDE %':>5} {'n':>4}")
    lines += [head, "-" * len(head)]
    notes, demoted = [], False
    for _, r in table.iterrows():
        design, wl = _clip(str(r["design"]), 10), _clip(str(r["workload"]), 8)
        kind = str(r["kind"])
        if kind == NOT_APPLICABLE:
            notes.append(f"{r['design']}/{r['workload']}: {r.get('reason', '') or 'refused'}")
            lines.append(f"{design:<10} {wl:<8} {'-':>6} {'-':<16} "
                         f"{'n/a [' + str(len(notes)) + ']':<16} {'-':>5} {'-':>4}")
            continue
        eff = 100 * (float(r["effect"]) - 1)
        ci = f"[{_signed(100 * (r['ci_lo'] - 1))}, {_signed(100 * (r['ci_hi'] - 1))}]"
        if r.get("kind_raw", kind) != kind:
            kind, demoted = kind + "*", True
        mde = r.get("mde", math.nan)
        mde_txt = f"{100 * mde:.2f}" if isinstance(mde, float) and math.isfinite(mde) \
            and mde < 1 else "-"
        lines.append(_clip(f"{design:<10} {wl:<8} {_signed(eff):>6} {_clip(ci, 16):<16} "
                           f"{_clip(kind, 16):<16} {mde_txt:>5} {int(r['n_pairs']):>4}",
                           WIDTH))
    lines.append("")
    legend = (f"B/A % = cycles per packet of the design relative to {base} "
              "(negative: faster); 95 % CI of that ratio; n = A/B process pairs; "
              "MDE = minimum detectable effect (alpha 0.05, power 0.8). "
              "'no difference' means not resolved at this MDE, not 'equal'. "
              "'layout-sensitive': code-layout builds disagree on the sign.")
    lines += textwrap.wrap(legend, WIDTH)
    if demoted:
        lines += textwrap.wrap("* CI excluded 0 but the Holm-adjusted Wilcoxon p across "
                               "all cells is above 0.05.", WIDTH)
    for i, n in enumerate(notes, 1):
        lines += textwrap.wrap(f"[{i}] not applicable, {n}", WIDTH,
                               subsequent_indent="    ")
    return "\n".join(lines) + "\n"


def summary_path() -> Path:
    """``reports/summary.txt`` (``$FRAGLIB_REPORTS`` moves ``reports/``)."""
    from .notebooks import reports_dir

    return reports_dir() / "summary.txt"


def write_summary(table: pd.DataFrame, path: str | os.PathLike | None = None,
                  **header) -> Path:
    """Write :func:`format_summary` of `table` atomically; return the path.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`verdicts`.
    path : path, optional
        Default :func:`summary_path` (``reports/summary.txt``).
    **header
        ``machine``, ``date``, ``sha``, ``method``, ``title`` for
        :func:`format_summary`.
    """
    out = Path(path) if path is not None else summary_path()
    text = format_summary(table, **header)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.write_text(text)
    os.replace(tmp, out)
    return out
