"""The ring notebook: page_frag_test.ko in user space, and the kernel's own figures.

The push thread allocates, the pop thread frees, through a 512-slot ring, as
the selftest module does; :func:`ring_ratios` compares designs per mode and
CPU placement, :func:`ring_vs_kernel` puts those ratios beside the figures
posted on the list (:func:`fraglib.experiments.published.kernel_ratios`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..api import default_cpu
from ..workloads import RING_PRESETS, ring_preset
from .cells import cell_medians, cell_verdicts
from .schedule import cell_grid, check_designs, check_nonempty, check_positive, other_cpu

__all__ = ["RING_DESIGNS", "RING_MODES", "RING_CPUS", "ring_presets_table", "ring_grid",
           "ring_ratios", "ring_vs_kernel"]

#: page_frag_test: before (v6.9 top-down) and after (bottom-up, merged encoded)
RING_DESIGNS = ("topdown", "bottomup", "encoded")
#: the selftest's modes (test_page_frag.sh): smoke = default 2048 B, nonaligned
#: = test_alloc_len=75, aligned = the same with test_align=1 (SMP_CACHE_BYTES)
RING_MODES = {"2048": {"size": 2048, "align": 1},
              "75": {"size": 75, "align": 1},
              "75-aligned": {"size": 75, "align": 64}}
#: cross: push and pop threads on two CPUs; same: both on one CPU
RING_CPUS = ("cross", "same")


def ring_presets_table() -> pd.DataFrame:
    """:data:`fraglib.workloads.RING_PRESETS` as a table (one row per preset)."""
    return pd.DataFrame([{"preset": k, **{f: v[f] for f in ("nr_test", "size", "align",
                                                             "cpus", "source")}}
                         for k, v in RING_PRESETS.items()])


def _ring_mode(mode: str) -> dict:
    if mode in RING_MODES:
        return dict(RING_MODES[mode])
    pre = RING_PRESETS[mode]
    return {"size": pre["size"], "align": pre["align"]}


def ring_grid(designs: Sequence[str] = RING_DESIGNS,
              modes: Sequence[str] = tuple(RING_MODES), cpus: Sequence[str] = RING_CPUS, *,
              packets: int = 131072, repeats: int = 8, seed: int = 0,
              progress: bool = True, scale: float | None = None,
              **run_kwargs) -> pd.DataFrame:
    """page_frag_test.ko in user space: push thread allocates, pop thread frees.

    Parameters
    ----------
    designs : sequence of str
        Default :data:`RING_DESIGNS` (before: topdown; after: bottomup and
        the merged encoded design).
    modes : sequence of str
        Keys of :data:`RING_MODES`: ``"2048"`` (the smoke test's default
        length), ``"75"`` (nonaligned) and ``"75-aligned"`` (aligned to
        SMP_CACHE_BYTES = 64); or names of
        :data:`fraglib.workloads.RING_PRESETS` (the module's defaults, the
        script's modes, the cover letters' ``v13-nonaligned``/``v13-aligned``
        with 12-byte fragments, ``v23-same-cpu``), which fix size and align.
    cpus : sequence of str
        ``"cross"``: the pop thread on another CPU (``"skipped: ..."`` on a
        one-CPU machine); ``"same"``: both threads on one CPU.
    packets : int
        Objects pushed (``nr_test``).
    scale : float, optional
        For preset modes: push ``round(nr_test * scale)`` objects instead of
        ``packets`` (1.0 = exactly the published configuration).
    repeats, seed, progress, **run_kwargs
        As in :func:`fraglib.experiments.rx.rx_grid`.

    Returns
    -------
    pandas.DataFrame
        One row per run: design, mode, size, align, objects, busy_poll,
        cpus, ..., median_cpp
        (push-thread cycles per push), ``ns_per_object`` (the module's
        elapsed time per object, the one figure page_frag_test reports),
        ``elapsed_ns``, ``ring_full_frees``, ``objects``.
    """
    designs = check_designs(designs)
    modes = check_nonempty("modes", modes, {**RING_MODES, **RING_PRESETS})
    cpus = check_nonempty("cpus", cpus, RING_CPUS)
    cpu = run_kwargs.get("cpu")
    cpu = default_cpu() if cpu is None else cpu
    cpu2, why = other_cpu(cpu)
    packets = check_positive("packets", packets)
    cells = []
    for m in modes:
        mp = _ring_mode(m)
        n = (ring_preset(m, scale)["packets"] if scale is not None and m in RING_PRESETS
             else packets)
        for c in cpus:
            cross = c == "cross"
            cells.append({"labels": {"mode": m, **mp, "objects_pushed": n, "cpus": c},
                          "params": {**mp, "packets": n,
                                     "cpu2": (cpu2 if cpu2 is not None else -1) if cross
                                     else cpu},
                          "skip": why if cross and cpu2 is None else None})
    return cell_grid(designs, "ring", cells, repeats=check_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("ns_per_object", "elapsed_ns", "ring_full_frees", "objects"),
                        run_kwargs={"packets": packets, **run_kwargs},
                        param_columns=("busy_poll",))


def ring_ratios(df: pd.DataFrame, baseline: str = "topdown",
                designs: Sequence[str] | None = None, *, value: str = "ns_per_object",
                resamples: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Measured design/baseline ratio per ring mode and CPU placement.

    ``value`` defaults to the module's elapsed time per object (the one
    page_frag_test figure that means anything, kernel-pagefrag.md §5).
    Adds the median ring-full frees of both sides: a push thread that finds
    the ring full frees the object itself, so the ratio also measures how
    the two threads were scheduled.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`ring_grid` output.
    baseline : str
        The "before" design.
    designs : sequence of str, optional
        Designs to compare with it; default every other one.
    value : str
        ``"ns_per_object"`` (elapsed) or ``"median_cpp"`` (push thread).
    resamples, seed : int
        Bootstrap resamples and seed.

    Returns
    -------
    pandas.DataFrame
        :func:`fraglib.experiments.cells.cell_verdicts` columns (``effect`` is the ratio, ``ci_lo``/``ci_hi``
        its 95 % CI) plus ``full_frees_baseline`` and ``full_frees_design``.
    """
    t = cell_verdicts(df, baseline, designs, by=("mode", "cpus"), value=value,
                 resamples=resamples, seed=seed)
    if t.empty:
        return t.assign(full_frees_baseline=[], full_frees_design=[])
    ff = cell_medians(df, ["mode", "cpus"], "ring_full_frees")
    return t.assign(
        full_frees_baseline=[ff.loc[(r.mode, r.cpus), baseline] for r in t.itertuples()],
        full_frees_design=[ff.loc[(r.mode, r.cpus), r.design] for r in t.itertuples()])


_MODE_MATCH = {"non-aligned": "75", "aligned": "75-aligned", "unspecified": "2048"}


def _kernel_preset(kr) -> str | None:
    """The RING_PRESETS entry that is exactly a published row's configuration."""
    if kr["alloc_len"] == 12 and kr["nr_test"] == 51_200_000:
        return "v13-aligned" if kr["mode"] == "aligned" else "v13-nonaligned"
    if kr["cpus"] == "same" and kr["nr_test"] == 512_000:
        return "v23-same-cpu"
    return None


def ring_vs_kernel(measured: pd.DataFrame, kernel: pd.DataFrame) -> pd.DataFrame:
    """Measured design/topdown ratios beside the kernel's after/before ratios.

    Parameters
    ----------
    measured : pandas.DataFrame
        :func:`ring_ratios` output, or a :func:`ring_grid` frame (its
        ratios against topdown are computed).
    kernel : pandas.DataFrame
        :func:`fraglib.experiments.published.kernel_ratios` output; only page_frag_test rows comparing
        before and after the series are matched.

    Returns
    -------
    pandas.DataFrame
        One row per (kernel row, measured design): the kernel's version,
        mode, cpus, ratio and caveat; ``our_mode``/``our_cpus`` it was
        matched to and ``match`` (how close); ``design``, ``our_ratio``,
        ``our_ci_lo``, ``our_ci_hi``, ``our_kind``; ``consistent`` (the
        kernel ratio lies inside our CI) and ``label`` for plots. A kernel
        row whose mode/cpus we did not run has NaN ours and says so in
        ``match``.
    """
    if "effect" not in measured.columns:
        measured = ring_ratios(measured)
    k = kernel[(kernel["test"] == "page_frag_test") & (kernel["compares"] == "series")]
    designs = list(dict.fromkeys(measured["design"])) or [None]
    rows = []
    available = set(measured["mode"]) if "mode" in measured.columns else set()
    for i, kr in k.iterrows():
        preset = _kernel_preset(kr)
        notes = []
        if preset is not None and preset in available:
            mode = preset
            cpus = RING_PRESETS[preset]["cpus"]
            notes.append(f"same configuration: preset {preset}")
        else:
            mode = _MODE_MATCH[kr["mode"]]
            cpus = kr["cpus"] if kr["cpus"] in RING_CPUS else "cross"
            if kr["mode"] == "unspecified":
                notes.append("kernel length not stated: compared with the 2048 B default")
            elif not pd.isna(kr["alloc_len"]) and kr["alloc_len"] != _ring_mode(mode)["size"]:
                notes.append(f"kernel {int(kr['alloc_len'])} B vs our "
                             f"{_ring_mode(mode)['size']} B")
            if kr["cpus"] not in RING_CPUS:
                notes.append("kernel CPUs not stated: compared with cross")
        for d in designs:
            sel = measured[(measured["design"] == d) & (measured["mode"] == mode)
                           & (measured["cpus"] == cpus)] if d else measured.iloc[:0]
            base = {"kernel_row": i, "version": kr["version"], "kernel_mode": kr["mode"],
                    "kernel_cpus": kr["cpus"], "kernel_ratio": kr["ratio"],
                    "claimed": kr["claimed"], "caveat": kr["caveat"],
                    "our_mode": mode, "our_cpus": cpus, "design": d}
            if sel.empty:
                rows.append({**base, "match": "; ".join(notes + ["not run here"]),
                             "our_ratio": np.nan, "our_ci_lo": np.nan, "our_ci_hi": np.nan,
                             "our_kind": "not measured", "consistent": pd.NA})
                continue
            s = sel.iloc[0]
            rows.append({**base, "match": "; ".join(notes) or "same mode and CPUs",
                         "our_ratio": s["effect"], "our_ci_lo": s["ci_lo"],
                         "our_ci_hi": s["ci_hi"], "our_kind": s["kind"],
                         "consistent": bool(s["ci_lo"] <= kr["ratio"] <= s["ci_hi"])})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["label"] = [f"{r.version} · {r.kernel_mode} · {r.kernel_cpus}"
                        for r in out.itertuples()]
    return out
