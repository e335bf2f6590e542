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


def forest(table: pd.DataFrame, *, label: str = "label", title: str | None = None,
           limit: float = 100.0):
    """Forest plot of ratios B/A with their CIs; the line at 0 % is 'no difference'.

    The axis is clipped at ``+limit`` % so that a baseline many times slower
    (order0, malloc) does not flatten the small effects the question is
    about: such a row is drawn as an arrow at the edge, labelled with its
    value.
    """
    t = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(t) + 1.2))
    y = list(range(len(t)))
    colours = list(t["kind"].map({"faster": "tab:green", "slower": "tab:red",
                                  "layout-sensitive": "tab:orange"}).fillna("tab:grey"))
    eff, lo, hi = ((t[c] - 1) * 100 for c in ("effect", "ci_lo", "ci_hi"))
    edge = max(min(limit, float(hi.max()) * 1.05 + 1), 5.0)
    inside = eff <= edge
    ax.hlines(y, lo.clip(upper=edge), hi.clip(upper=edge), colors=colours, lw=2)
    ax.scatter(eff[inside], [v for v, k in zip(y, inside) if k],
               c=[c for c, k in zip(colours, inside) if k], zorder=3)
    for yi, e, c in zip(y, eff, colours):
        if e > edge:
            ax.scatter([edge], [yi], marker=">", c=[c], zorder=3)
            ax.annotate(f"{e:+.0f} %", (edge, yi), xytext=(-6, 0), textcoords="offset points",
                        ha="right", va="center", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(right=edge * 1.02)
    ax.set_yticks(y, t[label] if label in t else y)
    ax.invert_yaxis()
    ax.set_xlabel("B vs A, % cycles per packet (negative = B faster), 95 % CI")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
