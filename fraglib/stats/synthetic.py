"""Synthetic paired data with known variance components (for tests and planning).

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from .validation import _check_nonneg


# ---- synthetic data -------------------------------------------------------


def simulate_pairs(n_builds: int, n_pairs: int, effect: float = 0.0,
                   sigma_build: float = 0.0, sigma_pair: float = 0.01,
                   build_effects: Sequence[float] | None = None, seed=0, *,
                   a: str = "A", b: str = "B", base: float = 1000.0) -> pd.DataFrame:
    """Synthetic process-level data with a known true effect.

    Model, on the log scale, for pair ``k`` of build ``j``::

        log A = log(base) + L_j + D_jk + e_A
        log B = log(base) + L_j + D_jk + log1p(effect) + u_j + e_B

    ``L_j ~ N(0, 0.03)`` is a layout shift common to both designs and
    ``D_jk ~ N(0, 0.02)`` drift shared within a pair; both cancel in the
    ratio. ``u_j ~ N(0, sigma_build)`` is the build's layout effect on B only
    (the A/B interaction) and ``e ~ N(0, sigma_pair / sqrt(2))`` is process
    noise, so the log ratio has between-build SD `sigma_build` and
    within-build SD `sigma_pair`, and the true geometric mean ratio is
    ``1 + effect`` (averaged over builds).

    Parameters
    ----------
    n_builds, n_pairs : int
        Builds, and pairs per build (each >= 1).
    effect : float, default 0.0
        True relative effect of B over A (0.005: B takes 0.5 % more cycles).
    sigma_build, sigma_pair : float, default 0.0, 0.01
        SDs of the log ratio between and within builds.
    build_effects : sequence of float, optional
        Per-build relative effects (length `n_builds`, each > -1) used
        instead of the random ``u_j``: ``u_j = log1p(build_effects[j])``.
        Use it to force sign flips.
    seed : int, numpy.random.Generator or None, default 0
        Seed for :func:`numpy.random.default_rng`.
    a, b : str, default "A", "B"
        Design labels.
    base : float, default 1000.0
        Typical cycles per packet.

    Returns
    -------
    pandas.DataFrame
        Columns ``build, pair, design, value``: ``2 * n_builds * n_pairs``
        rows, A then B for each pair.
    """
    for param, v in (("n_builds", n_builds), ("n_pairs", n_pairs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(param, v, "an integer >= 1")
    if not (math.isfinite(effect) and effect > -1.0):
        raise ParameterError("effect", effect, "a finite relative effect > -1")
    sigma_build = _check_nonneg("sigma_build", sigma_build)
    sigma_pair = _check_nonneg("sigma_pair", sigma_pair)
    if not (math.isfinite(base) and base > 0):
        raise ParameterError("base", base, "a finite number > 0")
    if a == b:
        raise ParameterError("b", b, "a design label different from a")
    rng = np.random.default_rng(seed)
    if build_effects is None:
        u = rng.normal(0.0, sigma_build, n_builds)
    else:
        be = np.asarray(build_effects, dtype=float)
        if be.shape != (n_builds,) or not np.all(np.isfinite(be) & (be > -1.0)):
            raise ParameterError("build_effects", list(np.ravel(be))[:5],
                                 f"{n_builds} finite relative effects, each > -1")
        u = np.log1p(be)
    shape = (n_builds, n_pairs)
    layout = rng.normal(0.0, 0.03, n_builds)[:, None]
    drift = rng.normal(0.0, 0.02, shape)
    common = math.log(base) + layout + drift
    noise = sigma_pair / math.sqrt(2.0)
    log_a = common + rng.normal(0.0, noise, shape)
    log_b = common + math.log1p(effect) + u[:, None] + rng.normal(0.0, noise, shape)
    build = np.repeat(np.arange(n_builds), n_pairs)
    pair = np.tile(np.arange(n_pairs), n_builds)
    return pd.DataFrame({
        "build": np.repeat(build, 2),
        "pair": np.repeat(pair, 2),
        "design": np.tile(np.array([a, b], dtype=object), n_builds * n_pairs),
        "value": np.column_stack([np.exp(log_a).ravel(), np.exp(log_b).ravel()]).ravel(),
    })
