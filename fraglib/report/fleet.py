"""One comparison across machines: verdicts side by side, and whether they agree.

:func:`fleet_table` puts each machine's verdict (from a
:class:`fraglib.fleet.FleetComparison`, or from the store:
:func:`fleet_table_from_store`) in one row; :func:`fleet_sentence` says in
one sentence whether the verdict holds on every machine, and names the
machines where it does not; :func:`forest_by_machine` draws one interval
per machine.

Across the whole store (``notebooks/9.0-fleet``): :func:`fleet_runs` reads
every run with its machine, CPU model, kernel and fraglib version (DuckDB,
filterable by each); :func:`fleet_verdicts` judges every stored comparison
per machine, :func:`verdict_grid` puts them side by side,
:func:`forest_faceted` draws one forest panel per machine, and
:func:`fleet_answer` says whether each verdict holds on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..exceptions import ParameterError

__all__ = ["FLEET_COLUMNS", "fleet_table", "fleet_table_from_store", "fleet_sentence",
           "fleet_text", "forest_by_machine", "RUN_COLUMNS", "fleet_runs",
           "machines_overview", "plot_across_machines", "VERDICT_COLUMNS",
           "fleet_verdicts", "verdict_grid", "forest_faceted", "fleet_answer"]

#: columns of :func:`fleet_table`
FLEET_COLUMNS = ("machine", "kind", "effect", "ci_lo", "ci_hi", "mde", "n_builds",
                 "n_pairs", "p_wilcoxon", "label_a", "label_b")


def _row(machine: str, v, label_a: str, label_b: str) -> dict:
    return {"machine": machine, "kind": v.kind, "effect": v.effect, "ci_lo": v.ci_lo,
            "ci_hi": v.ci_hi, "mde": v.mde, "n_builds": v.n_builds, "n_pairs": v.n_pairs,
            "p_wilcoxon": v.p_wilcoxon, "label_a": label_a, "label_b": label_b}


def fleet_table(comparisons: Mapping) -> pd.DataFrame:
    """One row per machine: its verdict's kind, effect (B/A), CI, MDE, sizes.

    Parameters
    ----------
    comparisons : Mapping
        ``{machine: fraglib.compare.Comparison}`` (a
        :class:`~fraglib.fleet.FleetComparison` is one).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLEET_COLUMNS`, sorted by machine.
    """
    if not isinstance(comparisons, Mapping) or not comparisons:
        raise ParameterError("comparisons", comparisons,
                             "a non-empty mapping of machine to Comparison")
    rows = [_row(m, c.verdict, c.label_a, c.label_b) for m, c in comparisons.items()]
    return pd.DataFrame(rows, columns=list(FLEET_COLUMNS)).sort_values(
        "machine", ignore_index=True)


def fleet_table_from_store(where: str | None = None, *, root=None,
                           confidence: float = 0.95, resamples: int = 10_000,
                           seed: int = 0) -> pd.DataFrame:
    """:func:`fleet_table` rebuilt from stored rows alone, one row per machine.

    Parameters
    ----------
    where : str, optional
        SQL condition on the stored samples selecting one comparison per
        machine (e.g. ``"design IN ('topdown', 'bottomup') AND workload =
        'fastpath'"`` when the store holds just that); each machine's rows
        must hold exactly one comparison id.
    root : path, optional
        Runs directory.
    confidence, resamples, seed :
        As :func:`fraglib.stats.verdict_from_store` (``seed``: compare's).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FLEET_COLUMNS`.

    Raises
    ------
    ParameterError
        No labelled rows, or a machine with several comparisons (named).
    """
    from .. import store
    from ..stats import SAMPLE_COLUMNS, verdict_from_store

    df = store.samples(root, where=where, columns=("machine", "time", *SAMPLE_COLUMNS))
    if df.empty or "comparison" not in df.columns or df["comparison"].isna().all():
        raise ParameterError("where", where, "a condition matching runs of a comparison "
                             "(fraglib.compare with cluster=) in the store")
    df = df[df["comparison"].notna()]
    rows = []
    for m, part in df.groupby("machine", sort=True):
        ids = sorted(map(str, part["comparison"].unique()))
        if len(ids) != 1:
            raise ParameterError("where", where, f"a condition leaving one comparison on "
                                 f"machine {m} (it has {len(ids)}: {', '.join(ids)})")
        v = verdict_from_store(part, confidence=confidence, resamples=resamples, seed=seed)
        rows.append(_row(str(m), v, v.a, v.b))
    return pd.DataFrame(rows, columns=list(FLEET_COLUMNS))


def fleet_sentence(table: pd.DataFrame) -> str:
    """Whether the verdict holds on every machine, and where it does not.

    The verdict that holds is the kind most machines agree on (ties: the
    first machine's, by name).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`fleet_table`'s output.
    """
    if not isinstance(table, pd.DataFrame) or table.empty \
            or not {"machine", "kind", "effect"} <= set(table.columns):
        raise ParameterError("table", type(table).__name__,
                             "a non-empty fleet_table() DataFrame")
    la, lb = table["label_a"].iloc[0], table["label_b"].iloc[0]
    counts = table["kind"].value_counts()
    top = counts[counts == counts.max()].index
    first = table.sort_values("machine")["kind"]
    kind = next(k for k in first if k in top)
    n = len(table)
    holds = table[table["kind"] == kind]
    if len(holds) == n:
        where = "the only machine, " if n == 1 else f"every machine ({n}: "
        return (f"{lb} vs {la}: the verdict '{kind}' holds on {where}"
                f"{', '.join(table['machine'])}{')' if n > 1 else ''}; effects "
                f"{_pct(table['effect'].min())} to {_pct(table['effect'].max())}.")
    other = table[table["kind"] != kind]
    others = ", ".join(f"{r.machine} ({r.kind}, {_pct(r.effect)})" for r in
                       other.itertuples())
    return (f"{lb} vs {la}: the verdict does not hold on every machine: "
            f"'{kind}' on {len(holds)} of {n} ({', '.join(holds['machine'])}), "
            f"not on {others}.")


def _pct(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.2f} %"


def fleet_text(fc) -> str:
    """A :class:`~fraglib.fleet.FleetComparison` as text: per-machine verdicts,
    the across-machines sentence, and what was lost."""
    lines = []
    for m, c in sorted(fc.items()):
        lines.append(f"{m}: {c.verdict.text}")
    if len(fc):
        lines.append(fleet_sentence(fleet_table(fc)))
    for lost in fc.lost:
        lines.append(f"lost on {lost.machine}: {lost.what}: {lost.reason}")
    resumed = sum(fc.pairs_resumed.values())
    if resumed:
        lines.append(f"{resumed} pair(s) read back from the store (--resume), "
                     f"{sum(fc.pairs_run.values())} run now")
    return "\n".join(lines)


def forest_by_machine(table: pd.DataFrame, ax=None):
    """One horizontal interval per machine (B/A with its CI, 1 marked)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(table)))
    t = table.sort_values("machine", ascending=False)
    y = range(len(t))
    ax.errorbar(t["effect"], list(y), xerr=[t["effect"] - t["ci_lo"], t["ci_hi"] - t["effect"]],
                fmt="o", capsize=3)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(list(y), t["machine"])
    la, lb = table["label_a"].iloc[0], table["label_b"].iloc[0]
    ax.set_xlabel(f"{lb} / {la} (cycles per packet)")
    return ax


# ---- the store across machines (notebooks/9.0-fleet) -------------------------------

#: columns of :func:`fleet_runs`
RUN_COLUMNS = ("run_id", "machine", "design", "workload", "median_cpp", "samples",
               "cpu_model", "kernel", "version", "comparison", "time")
#: the run's columns each filter of :func:`fleet_runs` matches
_FILTERS = {"cpu_model": "cpu_model", "kernel": "kernel", "version": "version",
            "machines": "machine"}
_UNKNOWN = "unknown"


def fleet_runs(root=None, **filters) -> pd.DataFrame:
    """One row per stored run, with the machine it ran on and what that was.

    DuckDB reads every run file of the store (one query): the run's median
    cycles per packet over its measured samples, its machine directory, and
    from the run's document the CPU model and kernel it recorded
    (``"unknown"`` for runs made with ``metadata=False``) and the fraglib
    version (the git commit, ``+dirty`` when the tree had changes).

    Parameters
    ----------
    root : path, optional
        Runs directory.
    cpu_model, kernel, version, machines : str or list of str, optional
        Keep the runs whose value is one of these; a value no run has is
        refused, naming the values there are.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUN_COLUMNS`, sorted by machine, time and run id.
    """
    from .. import store

    unknown = set(filters) - set(_FILTERS)
    if unknown:
        raise ParameterError(sorted(unknown)[0], filters[sorted(unknown)[0]],
                             "a filter among " + ", ".join(_FILTERS))
    with store._no_compaction(root):
        store.connect(root)                    # sets unreadable files aside first
        files = store.run_files(root)
        df = _read_runs(files) if files else pd.DataFrame(columns=list(RUN_COLUMNS))
    df = df[list(RUN_COLUMNS)].sort_values(["machine", "time", "run_id"], ignore_index=True)
    for name, value in filters.items():
        if value is None:
            continue
        wanted = [value] if isinstance(value, str) else list(value)
        column = _FILTERS[name]
        there = sorted(map(str, df[column].dropna().unique()))
        if not wanted or not all(isinstance(v, str) for v in wanted) \
                or not set(wanted) & set(there):
            raise ParameterError(name, value, "one or more of the values in the store: "
                                 + (", ".join(there) or "(no runs)"))
        df = df[df[column].isin(wanted)].reset_index(drop=True)
    return df


def _read_runs(files) -> pd.DataFrame:
    """:func:`fleet_runs`'s one DuckDB query over the run files."""
    import duckdb

    src = "read_parquet([" + ", ".join("'" + str(f).replace("'", "''") + "'"
                                       for f in files) + "], union_by_name=true)"
    con = duckdb.connect()
    have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}

    def col(name: str, sql: str | None = None) -> str:
        return (sql or name) if name in have else "NULL"

    doc = "run_doc" if "run_doc" in have else "NULL"
    df = con.execute(f"""
        SELECT run_id, any_value(machine) AS machine, any_value(design) AS design,
               any_value(workload) AS workload,
               median(cycles_per_packet) FILTER (WHERE NOT warmup) AS median_cpp,
               count(*) FILTER (WHERE NOT warmup) AS samples,
               coalesce(any_value(json_extract_string({doc},
                        '$.provenance.meta_cpu_model')), '{_UNKNOWN}') AS cpu_model,
               coalesce(any_value(json_extract_string({doc},
                        '$.provenance.meta_kernel')), '{_UNKNOWN}') AS kernel,
               coalesce(left(any_value({col('git_sha')}), 12)
                        || CASE WHEN any_value({col('git_dirty', 'git_dirty::BOOLEAN')})
                                THEN '+dirty' ELSE '' END, '{_UNKNOWN}') AS version,
               any_value({col('comparison')}) AS comparison,
               any_value({col('time', 'time::VARCHAR')}) AS time
        FROM {src} GROUP BY run_id""").df()
    return df


def machines_overview(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per machine of :func:`fleet_runs`: what it is and what it ran."""
    cols = ["machine", "cpu_model", "kernel", "version", "runs", "designs", "workloads"]
    if runs.empty:
        return pd.DataFrame(columns=cols)

    def joined(s):
        return ", ".join(sorted(map(str, s.dropna().unique())))

    g = runs.groupby("machine", sort=True)
    return pd.DataFrame({"cpu_model": g["cpu_model"].agg(joined),
                         "kernel": g["kernel"].agg(joined),
                         "version": g["version"].agg(joined),
                         "runs": g["run_id"].nunique(),
                         "designs": g["design"].agg(joined),
                         "workloads": g["workload"].agg(joined)}).reset_index()[cols]


def plot_across_machines(runs: pd.DataFrame, designs, workload: str, ax=None):
    """Each run's median cycles per packet of ``designs`` on ``workload``, by machine.

    Returns the axes, or the reason (``"not measured: ..."``) when the store
    has no such run.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    designs = [designs] if isinstance(designs, str) else list(designs)
    sel = runs[runs["design"].isin(designs) & (runs["workload"] == workload)]
    if sel.empty:
        return (f"not measured: no run of {', '.join(designs)} on {workload} among "
                f"the {len(runs)} selected run(s)")
    machines = sorted(sel["machine"].unique())
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(machines)), 3.5))
    width = 0.8 / len(designs)
    rng = np.random.default_rng(0)
    for i, d in enumerate(designs):
        for j, m in enumerate(machines):
            y = sel[(sel["design"] == d) & (sel["machine"] == m)]["median_cpp"].to_numpy()
            x = j - 0.4 + width * (i + 0.5) + rng.uniform(-width / 4, width / 4, len(y))
            ax.plot(x, y, "o", ms=4, alpha=0.7, color=f"C{i}",
                    label=d if j == 0 else None)
    ax.set_xticks(range(len(machines)), machines)
    ax.set_ylabel("TSC cycles per packet (median of a run)")
    ax.set_title(f"{workload}: every stored run, by machine")
    ax.legend(frameon=False, fontsize="small")
    return ax


#: columns of :func:`fleet_verdicts`
VERDICT_COLUMNS = ("comparison", "machine", "workload", "label_a", "label_b", "kind",
                   "effect", "ci_lo", "ci_hi", "mde", "n_builds", "n_pairs", "id")


def fleet_verdicts(runs: pd.DataFrame, root=None, *, baseline: str | None = None,
                   resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The verdict of every stored comparison among ``runs``, per machine.

    A comparison is the runs of one :func:`fraglib.compare.compare` call
    (one ``comparison`` label); per machine, the latest comparison of the
    same sides on the same workload is judged
    (:func:`fraglib.stats.verdict_from_store`).

    Parameters
    ----------
    runs : pandas.DataFrame
        :func:`fleet_runs` (its filters choose the runs).
    root : path, optional
    baseline : str, optional
        Only comparisons whose A side is this design.
    resamples, seed :
        Of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VERDICT_COLUMNS`; ``comparison`` reads
        ``"B vs A (workload)"``.
    """
    from .. import store
    from ..stats import SAMPLE_COLUMNS, verdict_from_store

    ids = runs["comparison"].dropna().unique() if not runs.empty else []
    if not len(ids):
        return pd.DataFrame(columns=list(VERDICT_COLUMNS))
    quoted = ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids)
    df = store.samples(root, where=f"comparison IN ({quoted})",
                       columns=("machine", "time", *SAMPLE_COLUMNS))
    df = df[df["run_id"].isin(set(runs["run_id"]))]
    rows = []
    for (machine, cid), part in df.groupby(["machine", "comparison"], sort=True):
        sides = part.drop_duplicates("run_id").set_index("role")
        if not {"A", "B"} <= set(sides.index):
            continue
        a, b = sides.loc[["A"]].iloc[0], sides.loc[["B"]].iloc[0]
        if baseline is not None and a["design"] != baseline:
            continue
        rows.append({"machine": machine, "id": cid, "workload": a["workload"],
                     "label_a": a["label"], "label_b": b["label"],
                     "time": str(part["time"].max()) if "time" in part else "",
                     "part": part})
    if not rows:
        return pd.DataFrame(columns=list(VERDICT_COLUMNS))
    latest = (pd.DataFrame(rows).sort_values("time")
              .groupby(["machine", "label_a", "label_b", "workload"], sort=True).tail(1))
    out = []
    for r in latest.itertuples():
        try:
            v = verdict_from_store(r.part, resamples=resamples, seed=seed)
        except ParameterError:
            continue                       # fewer than 2 pairs: no verdict to show
        out.append({"comparison": f"{r.label_b} vs {r.label_a} ({r.workload})",
                    "machine": r.machine, "workload": r.workload, "label_a": r.label_a,
                    "label_b": r.label_b, "kind": v.kind, "effect": v.effect,
                    "ci_lo": v.ci_lo, "ci_hi": v.ci_hi, "mde": v.mde,
                    "n_builds": v.n_builds, "n_pairs": v.n_pairs, "id": r.id})
    return pd.DataFrame(out, columns=list(VERDICT_COLUMNS)).sort_values(
        ["comparison", "machine"], ignore_index=True)


def verdict_grid(verdicts: pd.DataFrame) -> pd.DataFrame:
    """:func:`fleet_verdicts` side by side: one row per comparison, one column
    per machine, each cell ``kind effect [CI]`` (B/A - 1, in %)."""
    if verdicts.empty:
        return pd.DataFrame()
    cell = verdicts.apply(lambda r: f"{r['kind']} {_pct(r['effect'])} "
                                    f"[{_pct(r['ci_lo'])}, {_pct(r['ci_hi'])}]", axis=1)
    grid = verdicts.assign(cell=cell).pivot(index="comparison", columns="machine",
                                            values="cell")
    grid.columns.name = None
    return grid.fillna("not measured here").reset_index()


def forest_faceted(verdicts: pd.DataFrame):
    """A forest plot per machine (one panel each, shared axes): every
    comparison's B/A with its CI, 1 marked. Returns the figure."""
    import matplotlib.pyplot as plt

    machines = sorted(verdicts["machine"].unique())
    labels = sorted(verdicts["comparison"].unique(), reverse=True)
    fig, axes = plt.subplots(1, len(machines), sharex=True, sharey=True, squeeze=False,
                             figsize=(3.2 * len(machines) + 2.5, 0.6 + 0.35 * len(labels)))
    y = {c: i for i, c in enumerate(labels)}
    colours = {"faster": "tab:green", "slower": "tab:red"}
    for ax, m in zip(axes[0], machines):
        t = verdicts[verdicts["machine"] == m]
        for r in t.itertuples():
            ax.errorbar([r.effect], [y[r.comparison]], fmt="o", capsize=3,
                        xerr=[[r.effect - r.ci_lo], [r.ci_hi - r.effect]],
                        color=colours.get(r.kind, "grey"))
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_title(m)
        ax.set_xlabel("B / A (cycles per packet)")
    axes[0][0].set_yticks(range(len(labels)), labels)
    fig.tight_layout()
    return fig


def fleet_answer(verdicts: pd.DataFrame) -> str:
    """One sentence: does each verdict hold on every machine, and where not.

    Only comparisons measured on at least two machines count; with fewer
    than two machines in the selection the answer says it was not measured.
    """
    machines = sorted(verdicts["machine"].unique()) if not verdicts.empty else []
    if not machines:
        return ("not measured: no comparison (fraglib.compare runs) among the selected "
                "runs, so no verdict to hold or not")
    if len(machines) == 1:
        return (f"not measured: only one machine in the store ({machines[0]}), so "
                "whether its verdicts hold on other machines is not known")
    shared = [c for c, t in verdicts.groupby("comparison", sort=True)
              if t["machine"].nunique() >= 2]
    if not shared:
        return (f"not measured: no comparison was run on two or more of the "
                f"{len(machines)} machines ({', '.join(machines)})")
    split = {c: verdicts[verdicts["comparison"] == c] for c in shared}
    differ = {c: t for c, t in split.items() if t["kind"].nunique() > 1}
    alone = verdicts["comparison"].nunique() - len(shared)
    tail = (f" ({alone} comparison(s) measured on one machine only are left out)"
            if alone else "")
    if not differ:
        return (f"Every verdict holds on every machine that measured it: "
                f"{len(shared)} comparison(s) across {len(machines)} machines "
                f"({', '.join(machines)}){tail}.")
    details = "; ".join(f"{c}: " + ", ".join(f"{r.machine} {r.kind} {_pct(r.effect)}"
                                              for r in t.itertuples())
                        for c, t in differ.items())
    return (f"The verdict does not hold on every machine for {len(differ)} of "
            f"{len(shared)} comparison(s): {details}{tail}.")
