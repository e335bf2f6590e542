"""One comparison across machines: verdicts side by side, and whether they agree.

:func:`fleet_table` puts each machine's verdict (from a
:class:`fraglib.fleet.FleetComparison`, or from the store:
:func:`fleet_table_from_store`) in one row; :func:`fleet_sentence` says in
one sentence whether the verdict holds on every machine, and names the
machines where it does not; :func:`forest_by_machine` draws one interval
per machine.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..exceptions import ParameterError

__all__ = ["FLEET_COLUMNS", "fleet_table", "fleet_table_from_store", "fleet_sentence",
           "fleet_text", "forest_by_machine"]

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
    from ..stats import verdict_from_store

    df = store.samples(root, where=where)
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
