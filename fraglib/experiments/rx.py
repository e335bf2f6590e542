"""The rx notebook's grid: netdev_alloc_skb-style frame heads over size distributions.

A (design, cell) the workload refuses (slicer1k cannot serve a 1500 B frame
head) or that this machine cannot run (a free on another CPU with one CPU)
is a row with ``status`` ``"refused: ..."``/``"skipped: ..."`` and NaN
measurements (:func:`fraglib.experiments.schedule.cell_grid`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .schedule import (MEASURED, cell_grid, check_designs, check_nonempty, check_positive,
                       remote_cells)

__all__ = ["RX_DESIGNS", "rx_grid", "rx_routing"]

#: rx notebook defaults: the v6.9 and merged designs, sock.c's and a baseline
RX_DESIGNS = ("topdown", "bottomup", "encoded", "sockfrag", "order0")


def rx_grid(designs: Sequence[str] = RX_DESIGNS, dists: Sequence[str] = ("imix",),
            remote: Sequence[bool] = (False, True), *, packets: int = 16384,
            repeats: int = 8, seed: int = 0, progress: bool = True,
            small_heads: str | None = None, remote_free: str = "direct",
            **run_kwargs) -> pd.DataFrame:
    """The rx workload over packet-size distributions, freed here or remotely.

    Parameters
    ----------
    designs : sequence of str
        Designs to run (default :data:`RX_DESIGNS`).
    dists : sequence of str
        Frame-length distributions (``imix``, ``csv:NAME`` for
        ``data/sizes/NAME.csv``, ``fixed:N``, ``uniform:A-B``).
    remote : sequence of bool
        False: the packet is freed on the allocating CPU; True: by a thread
        on another allowed CPU (``cpu2``). On a one-CPU machine the True
        cells are ``"skipped: ..."`` rows.
    packets : int
        Frames per run (after warm-up).
    repeats : int
        Interleaved rounds.
    seed : int
        Seed of the run order.
    progress : bool
        Show a progress bar.
    small_heads : str, optional
        Where heads with ``len + NET_SKB_PAD <= SKB_WITH_OVERHEAD(1024)`` go:
        ``"slicer1k"``, ``"kmalloc"`` or ``"design"`` (a what-if no kernel
        takes). None: each design's own kernel's choice (see
        :func:`fraglib.workloads.design_small_heads`); the run records it.
    remote_free : str
        ``"direct"`` (cpu2 frees) or ``"defer"`` (skb_attempt_defer_free()).
    **run_kwargs
        Passed to :func:`fraglib.run` (``queue_depth``, ``store``, ``cpu``...).

    Returns
    -------
    pandas.DataFrame
        One row per run: design, dist, remote, free_on, cell, repeat,
        small_heads and remote_free (as the run recorded them), status, note,
        flag (warnings the run raised, e.g. page faults in the timed region),
        median_cpp, min_cpp, ns_per_packet, head_bytes_mean, kmalloc_heads,
        pages_per_1k_packets, frags_allocated, small_heads_slicer1k,
        small_heads_kmalloc, small_heads_design, small_heads_pages,
        heads_deferred, run_id; plus one row per refused or skipped
        (design, cell) with NaN measurements.
    """
    designs = check_designs(designs)
    dists = check_nonempty("dists", dists)
    remote = check_nonempty("remote", [bool(r) for r in remote])
    extra = {"remote_free": remote_free}
    if small_heads is not None:
        extra["small_heads"] = small_heads
    cells = remote_cells([({"dist": d}, {"dist": d, **extra}) for d in dists], remote,
                          run_kwargs.get("cpu"))
    return cell_grid(designs, "rx", cells, repeats=check_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("head_bytes_mean", "kmalloc_heads", "pages_per_1k_packets",
                                 "frags_allocated", "small_heads_slicer1k",
                                 "small_heads_kmalloc", "small_heads_design",
                                 "small_heads_pages", "heads_deferred"),
                        run_kwargs={"packets": check_positive("packets", packets), **run_kwargs},
                        param_columns=("small_heads", "remote_free"))


def rx_routing(df: pd.DataFrame) -> pd.DataFrame:
    """Which small-head routing each design's runs used, and what it took.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`rx_grid` output.

    Returns
    -------
    pandas.DataFrame
        One row per (design, small_heads, remote_free) of the measured
        runs: runs, median share of frames whose head went to the design
        (``design_share``), to the slicer and to kmalloc, and median
        ``pages_per_1k_packets`` (side allocators' pages included).
    """
    m = df[df["status"] == MEASURED]
    if m.empty:
        return pd.DataFrame(columns=["design", "small_heads", "remote_free", "runs"])
    heads = (m["frags_allocated"] + m["small_heads_slicer1k"] + m["small_heads_kmalloc"])
    m = m.assign(design_share=m["frags_allocated"] / heads,
                 slicer1k_share=m["small_heads_slicer1k"] / heads,
                 kmalloc_share=m["small_heads_kmalloc"] / heads)
    return (m.groupby(["design", "small_heads", "remote_free"], sort=False)
             .agg(runs=("run_id", "count"), design_share=("design_share", "median"),
                  slicer1k_share=("slicer1k_share", "median"),
                  kmalloc_share=("kmalloc_share", "median"),
                  pages_per_1k_packets=("pages_per_1k_packets", "median"))
             .reset_index())
