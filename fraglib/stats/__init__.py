"""Paired A/B statistics: from process-level measurements to a verdict.

One module per concept; this package re-exports their public names, so
``from fraglib import stats; stats.verdict(...)`` is the way in:

================  ==========================================================
``process``       one process's value (robust median) and the TSC step
``observations``  samples (runs, the store, grid tables) -> observations;
                  :func:`verdict_from_store`
``bootstrap``     paired log ratios, effect, hierarchical bootstrap CI,
                  variance components, MDE
``significance``  Wilcoxon, Mann-Whitney, Holm, per-build signs
``verdict``       :func:`decide_kind`, :class:`Verdict`, :func:`verdict`
``planning``      few builds (t interval, guard), interim half-width,
                  pairs per build, MDE grid
``synthetic``     :func:`simulate_pairs`
``validation``    the shared argument checks and constants
================  ==========================================================

Pure functions over pandas/NumPy data. No engine calls, and no I/O except
:func:`verdict_from_store` given an SQL condition (it then reads the store).
The method is docs/methodology.md §6-7; the planning helpers
(:func:`optimal_pairs`, :func:`mde_grid`) are §8.

Data model
----------
Measurements repeat at three levels: layout **build** ⊃ **process** ⊃ sample
(batch). One A process and one B process of the same build form a **pair**;
pairs run in randomized ABBA order, so drift cancels within a pair.

Everything here except :func:`samples_frame` and :func:`process_values` takes
a tidy :class:`pandas.DataFrame` of *process-level* observations, one row per
process:

``build``
    Layout build id (any hashable). The build is a random effect.
``pair``
    Pair index within its build. ``(build, pair)`` identifies a pair.
``design``
    Design label. The ``a=`` / ``b=`` arguments name the two designs to compare
    (default ``"A"`` and ``"B"``); rows of other designs are ignored, so one
    frame may hold several designs.
``value``
    Median cycles per packet of that process (finite, > 0).

Each ``(build, pair)`` must have exactly one ``a`` row and one ``b`` row.
:func:`process_values` reduces per-sample rows (:func:`samples_frame` of runs
in memory, or the store's ``samples``) to this form.

Conventions
-----------
- Each pair gives a log ratio ``log(B/A)``. The **effect** is the geometric
  mean of the paired ratios B/A, pooled over all pairs (the same as the mean of
  build means when every build has the same number of pairs). A value below 1
  means B needs fewer cycles, so **B is faster**.
- Variance components and the MDE are on the log-ratio scale. The MDE is
  reported as a relative effect (``0.004`` is 0.4 %).
- Every random step takes a ``seed``, so results reproduce exactly.
- Bad input raises :class:`fraglib.exceptions.ParameterError`, which names the
  parameter.
"""


from __future__ import annotations

# the exceptions the functions raise, reachable as stats.ParameterError as before
from ..exceptions import ParameterError, UnknownNameError  # noqa: F401
from .bootstrap import (effect, hierarchical_bootstrap_ci, mde, paired_log_ratios,
                        variance_components, variance_components_of_ratios)
from .observations import (PROCESS_COLUMNS, SAMPLE_COLUMNS, comparison_verdict,
                           observations_from_grid, process_values, samples_frame,
                           verdict_from_store)
from .planning import (build_t_interval, guard_few_builds, interim_halfwidth,
                       interim_halfwidth_of_ratios, mde_grid, optimal_pairs,
                       t_interval_of_ratios)
from .process import OUTLIER_SPREADS, process_value, quantize_tsc
from .significance import build_signs, holm, layout_sensitive, mannwhitney_u, wilcoxon_pairs
from .synthetic import simulate_pairs
from .validation import (KINDS, MIN_RESAMPLES, _check_confidence,  # noqa: F401
                         _check_resamples)
from .verdict import Verdict, decide_kind, verdict, verdict_table

__all__ = [
    "KINDS",
    "MIN_RESAMPLES",
    "Verdict",
    "SAMPLE_COLUMNS",
    "PROCESS_COLUMNS",
    "samples_frame",
    "process_values",
    "observations_from_grid",
    "process_value",
    "quantize_tsc",
    "OUTLIER_SPREADS",
    "paired_log_ratios",
    "effect",
    "hierarchical_bootstrap_ci",
    "variance_components",
    "variance_components_of_ratios",
    "mde",
    "wilcoxon_pairs",
    "mannwhitney_u",
    "holm",
    "build_signs",
    "layout_sensitive",
    "decide_kind",
    "verdict",
    "comparison_verdict",
    "verdict_from_store",
    "verdict_table",
    "build_t_interval",
    "t_interval_of_ratios",
    "guard_few_builds",
    "interim_halfwidth",
    "interim_halfwidth_of_ratios",
    "optimal_pairs",
    "mde_grid",
    "simulate_pairs",
]

