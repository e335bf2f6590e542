"""Tables for the rendered reports: units, signed percentages, CIs, footnotes.

A notebook ends a cell with ``tables.show(df, ...)`` instead of a bare
DataFrame: the result renders in Jupyter and in the nbconvert HTML report as a
formatted table (a :class:`pandas.io.formats.style.Styler`), never as a
DataFrame repr, and prints as aligned plain text elsewhere.

Formatting follows the column names the rest of fraglib uses:

* ``effect`` with ``ci_lo``/``ci_hi`` (ratios B/A) become "B/A" as a signed
  percentage and "95 % CI" as a signed-percentage interval;
* ``mde``, ``halfwidth``, ``sigma``/``sigma_*`` (relative) become
  percentages, ``rel`` (relative to a median) a signed percentage;
* ``p_*`` get three significant digits; ``n_*`` and integer columns stay
  integers; ``*_cpp`` and ``median_a``/``median_b`` are cycles per packet;
  ``wall_s``/``*_s`` are seconds;
* columns named in `notes` (``reason``, ``flag``, ...) become numbered
  footnotes: the row shows ``[k]`` and the text is listed once under the
  table. This is how a flagged cell (page faults in the timed region, a
  refused parameter) shows in a report.

Why pandas' Styler: it ships with pandas, which fraglib already needs (no
new dependency for a fresh ``make report``); its HTML needs nothing but
jinja2, which nbconvert already installs; it is maintained with pandas and
renders the same in JupyterLab and in nbconvert's HTML. great-tables has
nicer spanners and source notes but adds a dependency tree (htmltools,
babel, Pillow, ...) for what a caption and a footnote list already do here.
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = ["Table", "show", "signed_pct", "signed_rel", "pct", "ci_pct", "LABELS"]

#: Column headers (with units) for the column names fraglib uses.
LABELS = {
    "design": "design", "workload": "workload", "baseline": "baseline",
    "kind": "verdict", "effect": "B/A", "ci": "95 % CI", "mde": "MDE",
    "mde_target": "MDE target", "halfwidth": "CI ± (half-width)",
    "p_wilcoxon": "p (Wilcoxon)", "p_holm": "p (Holm)",
    "n_builds": "builds", "n_pairs": "pairs", "n": "n",
    "sigma_build": "σ build", "sigma_pair": "σ pair", "sigma_sample": "σ sample",
    "sigma_process": "σ process",
    "median_a": "A (cycles/packet)", "median_b": "B (cycles/packet)",
    "median_cpp": "median (cycles/packet)", "min_cpp": "min (cycles/packet)",
    "ns_per_packet": "ns/packet", "wall_s": "wall (s)", "budget_s": "budget (s)",
    "rel": "vs median build", "value": "cycles/packet", "notes": "notes",
    "faulted": "runs with page faults", "target_met": "target met",
    "stop_reason": "stopped because",
}

_PCT = ("mde", "mde_target", "halfwidth", "sigma", "mde_components")
_SIGNED_PCT = ("rel",)
_CPP_SUFFIX = ("_cpp",)
_CPP = ("median_a", "median_b", "value", "a", "b")


def pct(x: float, digits: int = 2) -> str:
    """``0.0123`` -> ``"1.23 %"``; NaN -> ``"–"``."""
    return "–" if _missing(x) else f"{100 * float(x):.{digits}f} %"


def signed_pct(ratio: float, digits: int = 2) -> str:
    """A ratio as a signed percentage: ``1.0123`` -> ``"+1.23 %"``."""
    return "–" if _missing(ratio) else f"{100 * (float(ratio) - 1):+.{digits}f} %"


def signed_rel(x: float, digits: int = 2) -> str:
    """A relative value as a signed percentage: ``-0.0138`` -> ``"-1.38 %"``."""
    return "–" if _missing(x) else f"{100 * float(x):+.{digits}f} %"


def ci_pct(lo: float, hi: float, digits: int = 2) -> str:
    """A ratio interval as signed percentages: ``"[-0.40, +1.10] %"``."""
    if _missing(lo) or _missing(hi):
        return "–"
    return f"[{100 * (float(lo) - 1):+.{digits}f}, {100 * (float(hi) - 1):+.{digits}f}] %"


def _missing(x) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return isinstance(x, (float, np.floating)) and math.isnan(x)
    except TypeError:
        return False


def _plain(x) -> str:
    if _missing(x):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x)}"
    if isinstance(x, (float, np.floating)):
        if float(x).is_integer() and abs(x) < 1e9:
            return f"{int(x)}"
        return f"{float(x):.4g}"
    return str(x)


def _formatter(col: str):
    """The formatter of one column, chosen by its name; text stays text."""
    f = _numeric_formatter(col)

    def safe(x):
        if isinstance(x, str):
            return x
        try:
            return f(x)
        except (TypeError, ValueError):
            return str(x)
    return safe


def _numeric_formatter(col: str):
    if col in _PCT or col.startswith("sigma_"):
        return pct
    if col in _SIGNED_PCT:
        return signed_rel
    if col.startswith("p_"):
        return lambda x: "–" if _missing(x) else f"{float(x):.3g}"
    if col.endswith(_CPP_SUFFIX) or col in _CPP:
        return lambda x: "–" if _missing(x) else f"{float(x):.1f}"
    if col.endswith("_s"):
        return lambda x: "–" if _missing(x) else f"{float(x):.0f}"
    return _plain


class Table:
    """A formatted table with footnotes; renders as HTML or plain text.

    Build it with :func:`show`. ``_repr_html_`` is what Jupyter and
    nbconvert show; ``str()`` is the plain-text form.

    Attributes
    ----------
    frame : pandas.DataFrame
        The displayed cells, already formatted as strings, with headers.
    notes : list of str
        Footnote texts; row markers ``[k]`` refer to ``notes[k - 1]``.
    caption : str
    """

    def __init__(self, frame: pd.DataFrame, notes: Sequence[str], caption: str = ""):
        self.frame = frame
        self.notes = list(notes)
        self.caption = caption

    @property
    def styler(self):
        """The :class:`pandas.io.formats.style.Styler` of the HTML form."""
        st = self.frame.style.format(escape="html").hide(axis="index")
        if self.caption:
            st = st.set_caption(_html.escape(self.caption))
        return st.set_table_styles([
            {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em;"},
            {"selector": "caption", "props": "caption-side: top; text-align: left; "
                                             "font-weight: bold; padding: 4px 0;"},
            {"selector": "th", "props": "text-align: right; padding: 2px 8px; "
                                        "border-bottom: 1px solid #888;"},
            {"selector": "td", "props": "text-align: right; padding: 2px 8px; "
                                        "font-variant-numeric: tabular-nums;"},
        ])

    def _repr_html_(self) -> str:
        if self.frame.empty:
            cap = f"<strong>{_html.escape(self.caption)}</strong>: " if self.caption else ""
            return f"<p>{cap}none.</p>"
        body = self.styler.to_html()
        if self.notes:
            items = "".join(f"<li>{_html.escape(n)}</li>" for n in self.notes)
            body += f'<ol class="fraglib-notes" style="font-size: 0.85em">{items}</ol>'
        return body

    def __str__(self) -> str:
        if self.frame.empty:
            return f"{self.caption}: none." if self.caption else "none."
        cols = list(self.frame.columns)
        widths = [max([len(str(c))] + [len(str(v)) for v in self.frame[c]]) for c in cols]
        lines = []
        if self.caption:
            lines.append(self.caption)
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(cols, widths)))
        lines.append("  ".join("-" * w for w in widths))
        for _, row in self.frame.iterrows():
            lines.append("  ".join(str(row[c]).rjust(w) for c, w in zip(cols, widths)))
        lines += [f"[{i}] {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(lines)

    __repr__ = __str__


def show(df: pd.DataFrame, columns: Sequence[str] | None = None, *,
         caption: str = "", notes: Sequence[str] = ("reason", "flag", "flags", "note"),
         labels: Mapping[str, str] | None = None, index: bool | str = "auto",
         percent: bool | Sequence[str] = ()) -> Table:
    """Format `df` for a report: units, signed percentages, CIs, footnotes.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table; known column names get their units (see the module
        docstring), others a plain format.
    columns : sequence of str, optional
        Columns to show, in order (default all). ``effect`` pulls in the CI
        when ``ci_lo`` and ``ci_hi`` exist. Columns named in `notes` need not
        be listed: they always become footnotes when present.
    caption : str
        Caption above the table.
    notes : sequence of str
        Text columns turned into numbered footnotes (empty values: none).
    labels : mapping, optional
        Header overrides, ``{column: header}``.
    index : bool or "auto", default "auto"
        Keep the index as leading column(s) (e.g. after a pivot or a
        groupby); "auto": when it is named (a groupby, a pivot), not a row number.
    percent : bool or sequence of str
        Further columns holding relative values to show as percentages
        (True: every column that is not the index), e.g. the cells of a
        pivoted MDE grid.

    Returns
    -------
    Table

    Raises
    ------
    ParameterError
        A requested column is missing.
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError("df", type(df).__name__, "a pandas DataFrame")
    if index == "auto":
        index = any(n is not None for n in df.index.names)
    t = df.reset_index() if index else df
    if index and isinstance(df.columns, pd.MultiIndex):
        t.columns = [" ".join(str(x) for x in c if str(x)) for c in t.columns]
    t.columns = [str(c) for c in t.columns]
    note_cols = [c for c in notes if c in t.columns]
    cols = list(t.columns) if columns is None else [str(c) for c in columns]
    if index and columns is not None:
        cols = [c for c in t.columns if c not in df.columns.astype(str)] + cols
    missing = [c for c in cols if c not in t.columns]
    if missing:
        raise ParameterError("columns", missing, "columns of the table: " + ", ".join(t.columns))
    cols = [c for c in cols if c not in note_cols]
    index_cols = [c for c in t.columns if c not in df.columns.astype(str)] if index else []
    as_pct = (set(t.columns) - set(index_cols) if percent is True
              else {str(c) for c in (percent or ())})
    has_ci = {"ci_lo", "ci_hi"} <= set(t.columns)
    heads = {**LABELS, **dict(labels or {})}
    out: dict[str, list[str]] = {}
    for c in cols:
        if c in ("ci_lo", "ci_hi") and has_ci and "effect" in cols:
            continue
        if c == "effect":
            out[heads["effect"]] = [signed_pct(x) for x in t["effect"]]
            if has_ci:
                out[heads["ci"]] = [ci_pct(lo, hi) for lo, hi in zip(t["ci_lo"], t["ci_hi"])]
            continue
        f = pct if c in as_pct else _formatter(c)
        out[heads.get(c, c.replace("_", " "))] = [f(x) for x in t[c]]
    notes_out: list[str] = []
    if note_cols:
        markers = []
        for _, row in t.iterrows():
            mine = []
            for c in note_cols:
                text = row[c]
                if _missing(text) or not str(text).strip():
                    continue
                text = str(text).strip()
                if text not in notes_out:
                    notes_out.append(text)
                mine.append(f"[{notes_out.index(text) + 1}]")
            markers.append(" ".join(mine))
        if any(markers):
            out[heads["notes"]] = markers
    return Table(pd.DataFrame(out, index=range(len(t))), notes_out, caption)
