"""Figures the notebooks show (seaborn); each returns its matplotlib Figure.

Each function takes a table from :mod:`fraglib.experiments`. Refused and
skipped rows (NaN measurements) are left out of the marks; the notebooks
display them as a table beside the figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..experiments.schedule import MEASURED

__all__ = ["cycles_by_size", "forest", "rx_cycles", "tx_panels", "ring_comparison",
           "memory_panels", "counter_panels", "layout_points", "mde_by_builds"]


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


def _measured(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == MEASURED] if "status" in df else df


def _empty(title: str):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, "nothing measured", ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def rx_cycles(df: pd.DataFrame, *, title: str | None = None):
    """rx cycles per frame by size distribution, one panel per free location.

    Points are medians over repeats, bars the 95 % bootstrap interval of
    the per-run medians; one colour per design; log y axis (order0 costs
    several times the others).

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`fraglib.experiments.rx.rx_grid` output.
    title : str, optional
    """
    m = _measured(df)
    title = title or "rx: alloc + touch + free, TSC cycles per frame"
    if m.empty:
        return _empty(title)
    g = sns.catplot(data=m, x="dist", y="median_cpp", hue="design", col="free_on",
                    kind="point", estimator="median", errorbar=("ci", 95),
                    dodge=0.4 if m["design"].nunique() > 1 else False,
                    height=3.8, aspect=1.3, linestyle="none", markers="o")
    g.set_axis_labels("frame-length distribution", "TSC cycles per frame (log)")
    g.set(yscale="log")
    g.set_titles("freed on {col_name}")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", labelrotation=15)
    g.figure.suptitle(title, y=1.03)
    return g.figure


def tx_panels(df: pd.DataFrame, *, title: str | None = None):
    """tx: cycles per segment, coalesce rate and fragments per segment by design.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`fraglib.experiments.tx.tx_grid` output.
    title : str, optional
    """
    m = _measured(df)
    title = title or "tx copy path (tcp_sendmsg), per design"
    if m.empty:
        return _empty(title)
    m = m.assign(cell=m["dist"] + " · " + m["free_on"])
    order = list(dict.fromkeys(m["design"]))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    kw = dict(data=m, x="design", hue="cell", order=order, estimator="median")
    dodge = 0.4 if m["cell"].nunique() > 1 else False  # seaborn divides by hues - 1
    sns.pointplot(y="median_cpp", errorbar=("ci", 95), dodge=dodge, linestyle="none",
                  ax=axes[0], **kw)
    axes[0].set(ylabel="TSC cycles per wire segment (log)", yscale="log",
                title="cost per segment (lower is better)")
    sns.barplot(y="coalesce_rate", errorbar=None, ax=axes[1], **kw)
    axes[1].set(ylabel="merged chunks / chunks", ylim=(0, 1.05),
                title="coalescing into the last fragment")
    sns.barplot(y="frags_per_segment", errorbar=None, ax=axes[2], **kw)
    axes[2].set(ylabel="fragments (page refs) per segment", title="fragments per segment")
    for i, ax in enumerate(axes):
        ax.tick_params(axis="x", labelrotation=20)
        ax.set_xlabel("")
        if i and ax.get_legend():
            ax.get_legend().remove()
    for x, d in enumerate(order):
        rate = m.loc[m["design"] == d, "coalesce_rate"]
        if rate.notna().any() and (rate.fillna(0) == 0).all():
            axes[1].text(x, 0.03, "never coalesces", rotation=90, ha="center", va="bottom",
                         fontsize=8, color="grey")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(handles, labels, title="sizes · completed on", loc="lower center",
               ncol=max(len(labels), 1), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def ring_comparison(vs: pd.DataFrame, *, title: str | None = None):
    """Kernel after/before ratios beside ours, one row per published figure.

    Black diamonds: the kernel's published ratio (page_frag_test elapsed
    time, after/before the series). Coloured points and bars: our measured
    design/topdown ratio and its 95 % CI for the mode and CPU placement the
    row was matched to. Log x axis; the line at 1 is "no difference". The
    row numbers index the caveat table of the notebook.

    Parameters
    ----------
    vs : pandas.DataFrame
        :func:`fraglib.experiments.ring.ring_vs_kernel` output.
    title : str, optional
    """
    title = title or "page_frag_test: after/before (kernel) vs design/topdown (here)"
    if vs.empty:
        return _empty(title)
    krows = vs.drop_duplicates("kernel_row").reset_index(drop=True)
    designs = [d for d in dict.fromkeys(vs["design"]) if d is not None]
    colours = dict(zip(designs, sns.color_palette("tab10", len(designs))))
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(krows) + 1.6))
    step = 0.5 / max(len(designs), 1)
    labelled: set = set()
    for y, kr in krows.iterrows():
        ax.scatter(kr["kernel_ratio"], y, marker="D", color="black", zorder=4,
                   label="kernel (published)" if y == 0 else None)
        for j, d in enumerate(designs):
            r = vs[(vs["kernel_row"] == kr["kernel_row"]) & (vs["design"] == d)]
            if r.empty or pd.isna(r["our_ratio"].iloc[0]):
                continue
            r = r.iloc[0]
            yy = y + (j + 1) * step - 0.25 - step / 2
            ax.errorbar(r["our_ratio"], yy, xerr=[[r["our_ratio"] - r["our_ci_lo"]],
                                                  [r["our_ci_hi"] - r["our_ratio"]]],
                        fmt="o", color=colours[d], capsize=3, ms=5,
                        label=None if d in labelled else f"{d}/topdown here (95 % CI)")
            labelled.add(d)
    ax.axvline(1, color="grey", lw=0.8)
    ax.set_xscale("log")
    ticks = [0.05, 0.1, 0.25, 0.5, 0.8, 1, 1.25, 2, 4, 10, 20, 50]
    lo = min(vs["kernel_ratio"].min(), vs["our_ci_lo"].min(skipna=True), 0.9) * 0.9
    hi = max(vs["kernel_ratio"].max(), vs["our_ci_hi"].max(skipna=True), 1.1) * 1.1
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in ticks if lo <= t <= hi])
    ax.get_xaxis().set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.get_xaxis().set_minor_formatter(plt.NullFormatter())
    ax.set_yticks(range(len(krows)),
                  [f"[{int(k)}] {lab} → {m}/{c}" for k, lab, m, c in
                   zip(krows["kernel_row"], krows["label"], krows["our_mode"],
                       krows["our_cpus"])], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("elapsed-time ratio (below 1: after / candidate faster)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(designs) + 1,
              fontsize=8)
    fig.tight_layout()
    return fig


def memory_panels(mem: pd.DataFrame, *, title: str | None = None):
    """Pages per 1000 packets, peak pages held and consumed/requested by design.

    One row of panels per free location, one bar colour per workload; the
    page axes are logarithmic (order0 takes a page per packet). Designs
    without a page model have no bar (NaN, "not measured"), not a zero bar.

    Parameters
    ----------
    mem : pandas.DataFrame
        :func:`fraglib.experiments.memory.memory_table` output.
    title : str, optional
    """
    title = title or "memory per design and workload"
    m = _measured(mem)
    if m.empty:
        return _empty(title)
    metrics = [("pages_per_1k_packets", "pages per 1000 packets", True),
               ("peak_pages_held", "peak pages held", True),
               ("consumed_per_requested", "bytes consumed / requested", False)]
    rows = list(dict.fromkeys(m["free_on"]))
    order = list(dict.fromkeys(mem["design"]))
    fig, axes = plt.subplots(len(rows), 3, figsize=(15, 3.8 * len(rows)), squeeze=False)
    for i, free_on in enumerate(rows):
        sub = m[m["free_on"] == free_on]
        for j, (col, label, log) in enumerate(metrics):
            ax = axes[i, j]
            sns.barplot(data=sub, x="design", y=col, hue="workload", order=order,
                        errorbar=None, ax=ax)
            if log and sub[col].notna().any():
                ax.set_yscale("log")
            _mark_missing(ax, sub, col, order)
            ax.set(xlabel="", ylabel=label, title=f"{label} · freed on {free_on}")
            ax.tick_params(axis="x", labelrotation=35, labelsize=8)
            if (i or j) and ax.get_legend():
                ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _mark_missing(ax, data: pd.DataFrame, col: str, order: list[str]) -> None:
    """Write "not measured" where a design has no value, so no bar is not read as 0."""
    for x, d in enumerate(order):
        v = data.loc[data["design"] == d, col]
        if v.isna().all():
            ax.text(x, 0.02, "not measured", rotation=90, ha="center", va="bottom",
                    fontsize=7, color="grey", transform=ax.get_xaxis_transform())


def counter_panels(ct: pd.DataFrame, *, title: str | None = None):
    """Simulated instructions, D1 and LL misses per packet by design and workload.

    Parameters
    ----------
    ct : pandas.DataFrame
        :func:`fraglib.experiments.counters.counter_table_for` output.
    title : str, optional
    """
    title = title or "callgrind (simulated), design functions only, per packet"
    cols = [("instructions_per_packet", "instructions", True),
            ("d1_misses_per_packet", "D1 misses (read + write)", False),
            ("ll_misses_per_packet", "LL misses (read + write)", False)]
    m = _measured(ct).copy()
    for c, _, _ in cols:
        m[c] = pd.to_numeric(m[c], errors="coerce")
    if m.empty or m[cols[0][0]].isna().all():
        return _empty(title + ": not measured")
    order = list(dict.fromkeys(ct["design"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for j, (c, label, log) in enumerate(cols):
        sns.barplot(data=m, x="design", y=c, hue="workload", order=order, errorbar=None,
                    ax=axes[j])
        if log and (m[c] > 0).any():
            axes[j].set_yscale("log")
        _mark_missing(axes[j], _measured(ct).assign(**{c: m[c]}), c, order)
        axes[j].set(xlabel="", ylabel=f"{label} per packet", title=label)
        axes[j].tick_params(axis="x", labelrotation=35, labelsize=8)
        if j and axes[j].get_legend():
            axes[j].get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def layout_points(layouts: pd.DataFrame, *, title: str | None = None):
    """One point per layout build: its median's distance from the median build.

    Parameters
    ----------
    layouts : pandas.DataFrame
        :func:`fraglib.experiments.noise.layout_spread`'s table (``role``,
        ``rel``).
    title : str, optional
    """
    fig, ax = plt.subplots()
    sns.stripplot(data=layouts.assign(pct=100 * layouts["rel"]), x="pct", y="role", size=8,
                  ax=ax)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="% from the median build (cycles per packet)", ylabel="A/A side",
           title=title or "one point per layout build")
    return fig


def mde_by_builds(grid: pd.DataFrame, target: float, *, title: str | None = None):
    """MDE against layout builds, one line per ABBA pairs per build; `target` in red.

    Parameters
    ----------
    grid : pandas.DataFrame
        :func:`fraglib.experiments.noise.cost_grid`'s grid (``builds``,
        ``pairs``, ``mde``).
    target : float
        The MDE asked for (relative; 0.005 is 0.5 %).
    title : str, optional
    """
    fig, ax = plt.subplots()
    sns.lineplot(data=grid.assign(mde_pct=100 * grid["mde"]), x="builds", y="mde_pct",
                 hue="pairs", marker="o", palette="viridis", ax=ax)
    ax.axhline(100 * target, color="tab:red", lw=0.8, ls="--")
    ax.set(xscale="log", yscale="log", xlabel="layout builds", ylabel="MDE (%)",
           title=title or (f"MDE by builds and ABBA pairs per build "
                           f"(red: {100 * target:g} %)"))
    return fig
