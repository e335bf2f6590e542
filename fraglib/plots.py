"""Figures the notebooks show (seaborn); each returns its matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["cycles_by_size", "forest"]


def cycles_by_size(df: pd.DataFrame, *, y: str = "median_cpp", x: str = "size",
                   col: str | None = "align", title: str | None = None):
    """Cycles per packet by fragment size, one colour per design.

    Points are the median over repeats, bars the 95 % interval of the
    per-run medians (seaborn's bootstrap), one panel per alignment.
    """
    kw = {"col": col} if col and col in df and df[col].nunique() > 1 else {}
    g = sns.catplot(data=df, x=x, y=y, hue="design", kind="point", estimator="median",
                    errorbar=("ci", 95), dodge=0.3, height=3.6, aspect=1.4, **kw)
    g.set_axis_labels(f"{x} (bytes)" if x == "size" else x, "TSC cycles per packet")
    if title:
        g.figure.suptitle(title, y=1.03)
    return g.figure


def forest(table: pd.DataFrame, *, label: str = "label", title: str | None = None):
    """Forest plot of ratios B/A with their CIs; the line at 1 is 'no difference'."""
    t = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(t) + 1.2))
    y = range(len(t))
    colours = t["kind"].map({"faster": "tab:green", "slower": "tab:red",
                             "layout-sensitive": "tab:orange"}).fillna("tab:grey")
    ax.hlines(list(y), (t["ci_lo"] - 1) * 100, (t["ci_hi"] - 1) * 100,
              colors=list(colours), lw=2)
    ax.scatter((t["effect"] - 1) * 100, y, c=list(colours), zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(list(y), t[label] if label in t else list(y))
    ax.invert_yaxis()
    ax.set_xlabel("B vs A, % cycles per packet (negative = B faster), 95 % CI")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
