"""The debate's answer in words: sentences, Markdown and ``reports/summary.txt``.

:func:`answer` turns one verdict row into a sentence ("bottom-up is slower
than top-down by X % [CI] (MDE Y %)", or "not resolved below Y %"),
:func:`answer_lines` a table into one per workload, :func:`answer_markdown`
the debate into what ``0.0-summary`` shows first. :func:`format_report`
puts the same sentences first in ``reports/summary.txt``, then the tables;
:func:`format_summary` writes a
:func:`~fraglib.experiments.verdict_table.workload_verdicts` table. Every
line fits :data:`~fraglib.experiments.summary.WIDTH` (72) columns, a netdev
post.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..exceptions import ParameterError
from ..experiments.summary import DISPLAY_NAMES, NOT_APPLICABLE, NOT_RUN, WIDTH, Summary

__all__ = ["answer", "answer_lines", "answer_markdown", "measured", "format_report",
           "format_summary", "write_summary", "summary_path"]


def _display(design: str) -> str:
    return DISPLAY_NAMES.get(design, design)


def answer(row: Mapping) -> str:
    """One sentence for one verdict row, computed from its numbers.

    "bottom-up is slower than top-down by 1.20 % [0.40, 2.00] (MDE 0.45 %)",
    "bottom-up vs top-down: not resolved below 2.10 % (B/A +0.30 % [-1.20,
    +1.80] %)", "... layout-sensitive ...", or why the cell was not measured.

    Parameters
    ----------
    row : mapping
        A row of :func:`~fraglib.experiments.summary.debate` or
        :func:`~fraglib.experiments.verdict_table.workload_verdicts` (``design``,
        ``baseline``, ``kind``, ``kind_raw``, ``effect``, ``ci_lo``,
        ``ci_hi``, ``mde``, ``reason``).
    """
    b, a = _display(str(row["design"])), _display(str(row.get("baseline", "topdown")))
    kind = str(row["kind"])
    if kind in (NOT_APPLICABLE, NOT_RUN):
        why = str(row.get("reason") or "").strip()
        word = "not applicable" if kind == NOT_APPLICABLE else "not measured"
        return f"{b} vs {a}: {word}" + (f" ({why})" if why else "")
    mde = row.get("mde", math.nan)
    known = isinstance(mde, (int, float)) and math.isfinite(mde)
    mde_txt = f"MDE {100 * mde:.2f} %" if known else "MDE unknown"
    eff, lo, hi = (float(row[k]) for k in ("effect", "ci_lo", "ci_hi"))
    if kind == "slower":
        return (f"{b} is slower than {a} by {100 * (eff - 1):.2f} % "
                f"[{100 * (lo - 1):.2f}, {100 * (hi - 1):.2f}] ({mde_txt})")
    if kind == "faster":
        return (f"{b} is faster than {a} by {100 * (1 - eff):.2f} % "
                f"[{100 * (1 - hi):.2f}, {100 * (1 - lo):.2f}] ({mde_txt})")
    interval = (f"B/A {100 * (eff - 1):+.2f} % [{100 * (lo - 1):+.2f}, "
                f"{100 * (hi - 1):+.2f}]")
    if kind == "layout-sensitive":
        return (f"{b} vs {a}: layout-sensitive, code layout flips the sign "
                f"({mde_txt}; {interval})")
    holm = (" after Holm correction" if str(row.get("kind_raw", kind)) in ("faster", "slower")
            else "")
    below = f"below {100 * mde:.2f} %" if known else "(MDE unknown: needs 2 builds)"
    return f"{b} vs {a}: not resolved {below}{holm} ({interval})"


def answer_lines(table: pd.DataFrame) -> list[str]:
    """``"<workload>: <sentence>"`` for every row of `table`, in order."""
    return [f"{r['workload']}: {answer(r)}" for _, r in table.iterrows()]


def _signed(x: float) -> str:
    return f"{x:+.2f}" if abs(x) < 100 else f"{x:+.0f}"


def _machine_line() -> str:
    from .. import metadata

    m = metadata.machine_metadata()
    cpu = str(m.get("cpu_model", "unknown CPU"))
    cores = m.get("cpu_logical_cores", "?")
    vm = ", VM" if m.get("hypervisor") is True else ""
    return f"{cpu}, {cores} CPUs{vm}, Linux {m.get('kernel', '?')}"


def _sha() -> str:
    from ..provenance import git_state

    g = git_state()
    sha = str(g.get("git_sha", "unknown"))[:12]
    return sha + (" (dirty)" if g.get("git_dirty") else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "~"


_SHORT = {"layout-sensitive": "layout-sens.", "no difference": "no diff.",
          "no difference*": "no diff.*", "not applicable": "n/a", NOT_RUN: "not run"}


def _verdict_cell(kind: str, marker: str, width: int = 16) -> str:
    text = f"{kind} {marker}".strip()
    if len(text) > width:
        text = f"{_SHORT.get(kind, kind)} {marker}".strip()
    return _clip(text, width)


def _table_rows(table: pd.DataFrame, notes: list[str]) -> tuple[list[str], bool]:
    """Header and one line per row; footnotes are appended to `notes`."""
    head = (f"{'design':<10} {'workload':<8} {'B/A %':>6} {'95 % CI':<16} "
            f"{'verdict':<16} {'MDE %':>5} {'n':>4}")
    lines, demoted = [head, "-" * len(head)], False

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    for _, r in table.iterrows():
        design, wl = _clip(str(r["design"]), 10), _clip(str(r["workload"]), 8)
        kind = str(r["kind"])
        if kind in (NOT_APPLICABLE, NOT_RUN):
            # the row names the cell; equal reasons share one note
            why = str(r.get("reason", "") or "refused")
            m = mark(f"{'not applicable' if kind == NOT_APPLICABLE else 'not run'}: {why}")
            lines.append(f"{design:<10} {wl:<8} {'-':>6} {'-':<16} "
                         f"{_verdict_cell(_SHORT[kind], m):<16} {'-':>5} {'-':>4}")
            continue
        eff = 100 * (float(r["effect"]) - 1)
        ci = f"[{_signed(100 * (r['ci_lo'] - 1))}, {_signed(100 * (r['ci_hi'] - 1))}]"
        if r.get("kind_raw", kind) != kind:
            kind, demoted = kind + "*", True
        flag = r.get("flag", "")
        m = mark(flag.strip()) if isinstance(flag, str) and flag.strip() else ""
        mde = r.get("mde", math.nan)
        mde_txt = f"{100 * mde:.2f}" if isinstance(mde, float) and math.isfinite(mde) \
            and mde < 1 else "-"
        lines.append(_clip(f"{design:<10} {wl:<8} {_signed(eff):>6} {_clip(ci, 16):<16} "
                           f"{_verdict_cell(kind, m):<16} {mde_txt:>5} "
                           f"{int(r['n_pairs']):>4}", WIDTH))
    return lines, demoted


def _legend(base: str, demoted: bool, notes: Sequence[str]) -> list[str]:
    legend = (f"B/A % = cycles per packet of the design relative to {base} "
              "(negative: faster); 95 % CI of that ratio; n = A/B process pairs; "
              "MDE = minimum detectable effect (alpha 0.05, power 0.8). "
              "'no difference' means not resolved at this MDE, not 'equal'. "
              "'layout-sensitive': code-layout builds disagree on the sign.")
    lines = textwrap.wrap(legend, WIDTH)
    if demoted:
        lines += textwrap.wrap("* CI excluded 0 but the Holm-adjusted Wilcoxon p across "
                               "the cells of its table is above 0.05.", WIDTH)
    for i, n in enumerate(notes, 1):
        lines += textwrap.wrap(f"[{i}] {n}", WIDTH, subsequent_indent="    ")
    return lines


def answer_markdown(result: Summary) -> str:
    """The answer as Markdown: one bullet per debate cell, grouped by design.

    The first thing ``0.0-summary`` shows; the same sentences open
    ``summary.txt`` (:func:`format_report`).
    """
    if not isinstance(result, Summary):
        raise ParameterError("result", type(result).__name__,
                             "the Summary returned by fraglib.experiments.summary.debate()")
    t = result.debate
    out = []
    for design in dict.fromkeys(t["design"]):
        out.append(f"**{_display(design)} vs {_display(result.baseline)}** "
                   "(TSC cycles per packet, B/A):\n")
        out += [f"- **{r['workload']}**: {answer(r)}" for _, r in
                t[t["design"] == design].iterrows()]
        out.append("")
    spent = (f"Measured in {result.spent_s:.0f} s of a {result.budget_s:.0f} s budget; "
             "MDE targets " + ", ".join(f"{w} {100 * m:.1f} %" for w, m in
                                        t.drop_duplicates("workload")[["workload",
                                                                       "mde_target"]]
                                        .itertuples(index=False)) + ".")
    return "\n".join(out + [spent])


def measured(result: Summary) -> pd.DataFrame:
    """Both tables' rows that have a verdict (for a forest plot)."""
    t = pd.concat([result.debate, result.others], ignore_index=True)
    return t[~t["kind"].isin((NOT_APPLICABLE, NOT_RUN))].reset_index(drop=True)


def format_report(result: Summary, *, machine: str | None = None,
                  date: str | None = None, sha: str | None = None) -> str:
    """:func:`~fraglib.experiments.summary.debate`'s result as plain text: the answer first, then tables.

    Every line fits :data:`~fraglib.experiments.summary.WIDTH` columns (a netdev post). The first lines
    are the answer, one sentence per debate cell (:func:`answer_lines`);
    then the machine, date, git sha, method and budget; then the debate
    table, the other designs' table, the legend and numbered notes (why a
    cell was not applicable or not run, which cells had page faults in the
    timed region).

    Parameters
    ----------
    result : Summary
        Output of :func:`~fraglib.experiments.summary.debate`.
    machine, date, sha : str, optional
        Header fields (default: this machine, now, the git sha).
    """
    if not isinstance(result, Summary):
        raise ParameterError("result", type(result).__name__,
                             "the Summary returned by fraglib.experiments.summary.debate()")
    base = result.baseline
    designs = list(dict.fromkeys(result.debate["design"])) if len(result.debate) else []
    names = " and ".join(_display(d) for d in designs) or "the debate's designs"
    verb = "Are" if len(designs) > 1 else "Is"
    lines = [_clip(f"{verb} {names} slower than {_display(base)}? "
                   "(TSC cycles per packet)", WIDTH)]
    for design in designs:
        for _, r in result.debate[result.debate["design"] == design].iterrows():
            lines += textwrap.wrap(f"{r['workload']}: {answer(r)}", WIDTH,
                                   subsequent_indent="    ")
    date = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    targets = result.debate.drop_duplicates("workload")
    tgt = ", ".join(f"{w} {100 * t:.2f} %" for w, t in
                    zip(targets["workload"], targets["mde_target"]))
    lines += [""]
    lines += textwrap.wrap(f"machine: {machine or _machine_line()}", WIDTH,
                           subsequent_indent="    ")
    lines += [_clip(f"date: {date}  git: {sha or _sha()}", WIDTH)]
    lines += textwrap.wrap(f"method: {result.method}", WIDTH, subsequent_indent="    ")
    lines += textwrap.wrap(f"budget: {result.budget_s:.0f} s, spent {result.spent_s:.0f} s; "
                           f"MDE targets: {tgt}", WIDTH, subsequent_indent="    ")
    notes: list[str] = []
    rows, demoted = _table_rows(result.debate, notes)
    lines += ["", _clip(f"The debate: {names} vs {_display(base)}", WIDTH)] + rows
    if len(result.others):
        rows, dem2 = _table_rows(result.others, notes)
        demoted = demoted or dem2
        lines += ["", _clip(f"Other designs vs {_display(base)} (what the rest of the "
                            "budget resolves)", WIDTH)] + rows
    lines += [""] + _legend(base, demoted, notes)
    return "\n".join(lines) + "\n"


def format_summary(table: pd.DataFrame, *, machine: str | None = None,
                   date: str | None = None, sha: str | None = None,
                   method: str | None = None, title: str | None = None) -> str:
    """The verdict table as plain text, every line at most 72 columns.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`~fraglib.experiments.verdict_table.workload_verdicts` (columns ``design``, ``workload``, ``kind``,
        ``kind_raw``, ``effect``, ``ci_lo``, ``ci_hi``, ``mde``, ``n_pairs``,
        ``reason``; ``baseline`` optional).
    machine, date, sha, method, title : str, optional
        Header fields; by default this machine's CPU and kernel, the UTC date,
        the git sha (with "(dirty)") and the method of
        :func:`~fraglib.experiments.verdict_table.workload_verdicts`.

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
                             "the output of fraglib.experiments.verdict_table.workload_verdicts()")
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
    notes: list[str] = []
    rows, demoted = _table_rows(table, notes)
    lines += rows + [""] + _legend(base, demoted, notes)
    return "\n".join(lines) + "\n"


def summary_path() -> Path:
    """``reports/summary.txt`` (``$FRAGLIB_REPORTS`` moves ``reports/``)."""
    from ..notebooks import reports_dir

    return reports_dir() / "summary.txt"


def write_summary(table: pd.DataFrame, path: str | os.PathLike | None = None,
                  **header) -> Path:
    """Write :func:`format_summary` of `table` atomically; return the path.

    Parameters
    ----------
    table : pandas.DataFrame or Summary
        Output of :func:`~fraglib.experiments.verdict_table.workload_verdicts` (written by :func:`format_summary`) or of
        :func:`~fraglib.experiments.summary.debate` (written by :func:`format_report`: the answer first).
    path : path, optional
        Default :func:`summary_path` (``reports/summary.txt``).
    **header
        ``machine``, ``date``, ``sha``, ``method``, ``title`` for
        :func:`format_summary`.
    """
    out = Path(path) if path is not None else summary_path()
    text = (format_report(table, **header) if isinstance(table, Summary)
            else format_summary(table, **header))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.write_text(text)
    os.replace(tmp, out)
    return out
