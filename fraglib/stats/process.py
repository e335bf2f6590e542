"""One process's value: robust median cycles per packet, and the TSC step.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import ParameterError


# ---- one process's value ----------------------------------------------------

#: A sample is "disturbed" (an interrupt, a preemption) when its cycles per
#: packet lie this many robust spreads above the process's median.
OUTLIER_SPREADS = 8.0


def process_value(cycles, packets, *, tsc_step: float = 1.0,
                  spreads: float = OUTLIER_SPREADS) -> dict:
    """One process's cycles per packet, from its measured samples.

    The value is the **packet-weighted mean** of the samples (total cycles
    over total packets) after dropping disturbed samples: those whose
    cycles per packet exceed ``median + spreads * max(1.4826 * MAD, step)``,
    where ``step`` is one TSC step per packet of a typical sample.

    Why the mean and not the median: a VM's TSC may advance in steps (about
    24.5 cycles on the EPYC VM, recorded as ``tsc_step``), so every sample is
    a multiple of the step, and a median of such samples stays on that grid
    (0.38 cycles per packet at 64 packets a sample, several percent of the
    cost being measured). The start of each sample falls at a random phase
    of the tick, so the rounding error of a sample averages to zero and the
    mean of many samples is unbiased to well below one step. A plain mean
    would take every interrupt with it, hence the one-sided cut, placed far
    enough above the bulk (at least ``spreads`` steps) that it never cuts
    into the rounding of undisturbed samples.
    ``tests/test_stats.py::test_process_value_is_not_quantized`` checks this
    on quantized synthetic data with a known answer.

    Parameters
    ----------
    cycles, packets : array-like
        Measured (non warm-up) samples: TSC cycles and packets of each.
    tsc_step : float, default 1.0
        TSC step in cycles (1 where the TSC counts every cycle).
    spreads : float, default :data:`OUTLIER_SPREADS`
        Where the cut lies, in robust spreads above the median.

    Returns
    -------
    dict
        ``value`` (cycles per packet; NaN without samples), ``median`` (the
        median of the samples' cycles per packet, for reference), ``cut``
        (samples dropped as disturbed), ``n`` (samples) and ``cut_at``.
    """
    c = np.asarray(cycles, dtype=float)
    p = np.asarray(packets, dtype=float)
    if c.shape != p.shape or c.ndim != 1:
        raise ParameterError("packets", p.shape, f"one count per sample ({c.shape})")
    if not (math.isfinite(tsc_step) and tsc_step > 0):
        raise ParameterError("tsc_step", tsc_step, "a finite number of cycles > 0")
    if not c.size:
        return {"value": math.nan, "median": math.nan, "cut": 0, "n": 0,
                "cut_at": math.nan}
    if (p <= 0).any():
        raise ParameterError("packets", float(p.min()), "> 0 in every sample")
    cpp = c / p
    med = float(np.median(cpp))
    mad = float(np.median(np.abs(cpp - med)))
    spread = max(1.4826 * mad, tsc_step / float(np.median(p)))
    cut_at = med + spreads * spread
    keep = cpp <= cut_at
    return {"value": float(c[keep].sum() / p[keep].sum()), "median": med,
            "cut": int((~keep).sum()), "n": int(c.size), "cut_at": cut_at}


def quantize_tsc(durations, step: float, seed=0) -> np.ndarray:
    """What a TSC that advances in steps of `step` cycles reads for `durations`.

    Each interval starts at a random phase of the tick (uniform), as a
    sample's first rdtscp does; the reading is the difference of the two
    floored counter values. Synthetic data for tests and benchmarks.
    """
    d = np.asarray(durations, dtype=float)
    start = np.random.default_rng(seed).uniform(0.0, step, d.shape)
    return (np.floor((start + d) / step) - np.floor(start / step)) * step


