"""The kernel's published page_frag figures, loaded from ``data/published/``.

Every before/after figure posted in the page_frag series' cover letters and
replies (Jan–Dec 2024) is one row of ``data/published/kernel_figures.csv``;
``data/published/README.md`` says which mail each row comes from. Nothing
here is measured: the ring notebook puts these beside its own ratios.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._build import REPO_ROOT
from ..exceptions import ParameterError

__all__ = ["KERNEL_FIGURES", "FIGURE_COLUMNS", "load_kernel_figures", "kernel_ratios"]

#: the CSV of published figures
KERNEL_FIGURES = REPO_ROOT / "data" / "published" / "kernel_figures.csv"
#: its columns, in order
FIGURE_COLUMNS = ("version", "date", "test", "mode", "alloc_len", "nr_test", "cpus", "runs",
                  "before_s", "after_s", "claimed", "compares", "caveat", "source")
_NUMERIC = ("alloc_len", "nr_test", "runs")


def load_kernel_figures(path: str | Path | None = None) -> pd.DataFrame:
    """The CSV as written: one row per published figure, text as text.

    Parameters
    ----------
    path : path, optional
        Default :data:`KERNEL_FIGURES`.

    Returns
    -------
    pandas.DataFrame
        :data:`FIGURE_COLUMNS`; ``alloc_len``, ``nr_test`` and ``runs`` are
        numbers (NaN where the mail does not state them); ``before_s`` and
        ``after_s`` are strings, ``;``-separated where the mail gave several
        repeated series; empty text stays ``""``.
    """
    df = pd.read_csv(KERNEL_FIGURES if path is None else path, dtype=str,
                     keep_default_na=False)
    missing = [c for c in FIGURE_COLUMNS if c not in df.columns]
    if missing:
        raise ParameterError("path", str(path or KERNEL_FIGURES),
                             "a CSV with the columns " + ", ".join(FIGURE_COLUMNS)
                             + f" (missing: {', '.join(missing)})")
    df = df[list(FIGURE_COLUMNS)]
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c].replace("", np.nan))
    return df


def _mean(text: str) -> float:
    """The mean of a ``;``-separated list of seconds (one value: itself)."""
    return float(np.mean([float(x) for x in text.split(";")]))


def kernel_ratios(include_other: bool = False, path: str | Path | None = None
                  ) -> pd.DataFrame:
    """The published page_frag_test before/after figures, each with its caveat.

    ``ratio`` is after/before elapsed time: below 1 means the series was
    faster. Where a mail gave several repeated series, before and after are
    their means (the caveat says so).

    Parameters
    ----------
    include_other : bool
        Also the vhost_net_test and netcat figures of the same letters.
    path : path, optional
        The CSV (default :data:`KERNEL_FIGURES`).

    Returns
    -------
    pandas.DataFrame
        version, date, test, mode (``non-aligned``/``aligned``/
        ``unspecified``), alloc_len (bytes, NaN where not stated), nr_test,
        cpus (``cross``/``same``/``not stated``), runs, before_s, after_s,
        ratio, change_pct, claimed, compares (``series`` = without vs with
        the series), caveat, source (message-id where known).
    """
    k = load_kernel_figures(path)
    if not include_other:
        k = k[k["test"] == "page_frag_test"]
    before = k["before_s"].map(_mean)
    after = k["after_s"].map(_mean)
    out = k.assign(mode=[m or None for m in k["mode"]], before_s=before,
                   after_s=after, ratio=after / before, change_pct=100 * (after / before - 1))
    cols = [*FIGURE_COLUMNS[:10], "ratio", "change_pct", *FIGURE_COLUMNS[10:]]
    return out[cols].reset_index(drop=True)
