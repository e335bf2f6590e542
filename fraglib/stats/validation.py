"""Checks shared by the statistics modules: bad input names its parameter.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

#: The kinds a :class:`Verdict` can have.
KINDS = ("faster", "slower", "no difference", "layout-sensitive")

_OBS_COLUMNS = ("build", "pair", "design", "value")
#: Fewest bootstrap resamples a verdict accepts (10,000 recommended); the
#: notebooks' parameter checks (fraglib.nbparams) and compare() read it too.
MIN_RESAMPLES = 1000
# Random draws per bootstrap chunk: bounds memory (16 MB of indices) whatever
# the data size, and is large enough that 10 builds x 20 pairs x 10,000
# resamples is a single chunk.
_CHUNK_ELEMENTS = 2_000_000


# ---- validation helpers ---------------------------------------------------


def _check_confidence(confidence: float, param: str = "confidence") -> float:
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ParameterError(param, confidence, "a number in (0, 1)") from None
    if not 0.0 < c < 1.0:
        raise ParameterError(param, confidence, "a number in (0, 1), e.g. 0.95")
    return c


def _check_resamples(resamples: int) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)):
        raise ParameterError("resamples", resamples, f"an integer >= {MIN_RESAMPLES}")
    if resamples < MIN_RESAMPLES:
        raise ParameterError("resamples", resamples,
                             f"an integer >= {MIN_RESAMPLES} (10,000 recommended)")
    return int(resamples)


def _check_nonneg(param: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(param, value, "a finite number >= 0") from None
    if not (math.isfinite(v) and v >= 0.0):
        raise ParameterError(param, value, "a finite number >= 0")
    return v


def _check_frame(df: object, columns: Sequence[str], param: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(param, type(df).__name__,
                             "a pandas DataFrame with columns " + ", ".join(columns))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(param, f"missing columns {missing}",
                             "a DataFrame with columns " + ", ".join(columns))
    return df


def _check_positive_values(values: pd.Series, param: str) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        first = values.to_numpy()[np.flatnonzero(bad)[0]]
        raise ParameterError(param, first,
                             f"finite and > 0 ({int(bad.sum())} bad row(s))")
    return v


