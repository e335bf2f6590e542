"""The tx notebook's grid: the tcp_sendmsg copy path over message sizes.

Cycles are per wire segment; designs without prepare/commit allocate every
chunk and never coalesce (their ``note`` says so).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .schedule import (MEASURED, cell_grid, check_designs, check_nonempty, check_positive,
                       remote_cells)

__all__ = ["TX_DESIGNS", "tx_grid", "tx_summary"]

#: tx notebook defaults: sock.c's page_frag first (what tcp_sendmsg used in v6.9)
TX_DESIGNS = ("sockfrag", "bottomup", "encoded", "topdown", "order0")


def tx_grid(designs: Sequence[str] = TX_DESIGNS,
            dists: Sequence[str] = ("fixed:65536", "imix"),
            remote: Sequence[bool] = (False,), *, mss: int = 1448, packets: int = 2048,
            repeats: int = 8, seed: int = 0, progress: bool = True,
            **run_kwargs) -> pd.DataFrame:
    """The tx copy path (tcp_sendmsg) over message sizes.

    Parameters
    ----------
    designs : sequence of str
        Designs (default :data:`TX_DESIGNS`); those without prepare/commit
        allocate every chunk and never coalesce (see ``note``).
    dists : sequence of str
        Message-size distributions.
    remote : sequence of bool
        Whether skbs are completed (freed) on another CPU.
    mss : int
        Segment size: counts wire segments; it does not cap a copy (each
        copy is min(size_goal - skb len, bytes left, page room), as
        tcp_sendmsg_locked() makes it).
    packets : int
        Messages per run. The cycles are per wire *segment*
        (``median_cpp`` is cycles per segment).
    repeats, seed, progress, **run_kwargs
        As in :func:`fraglib.experiments.rx.rx_grid`.

    Returns
    -------
    pandas.DataFrame
        As :func:`fraglib.experiments.rx.rx_grid`, with ``coalesce_rate`` (merged chunks / chunks),
        ``frags_per_segment``, ``segments``, ``messages``, ``chunks``,
        ``merged_chunks``, ``pages_per_1k_packets``, ``peak_pages_held``.
    """
    designs = check_designs(designs)
    dists = check_nonempty("dists", dists)
    remote = check_nonempty("remote", [bool(r) for r in remote])
    cells = remote_cells([({"dist": d}, {"dist": d, "mss": mss}) for d in dists], remote,
                          run_kwargs.get("cpu"))
    return cell_grid(designs, "tx", cells, repeats=check_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("coalesce_rate", "frags_per_segment", "segments",
                                 "messages", "chunks", "merged_chunks",
                                 "pages_per_1k_packets", "peak_pages_held",
                                 "alloc_calls_per_message", "alloc_calls_per_wire_segment",
                                 "copy_bytes_mean"),
                        run_kwargs={"packets": check_positive("packets", packets), **run_kwargs})


def tx_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per design and cell: median cycles per segment, coalesce rate, fragments per segment.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`tx_grid` output.

    Returns
    -------
    pandas.DataFrame
        design, dist, free_on, cycles_per_segment, coalesce_rate,
        frags_per_segment, pages_per_1k_packets, peak_pages_held, runs,
        status, note (medians over runs). Refused and skipped (design,
        cell) pairs stay as rows with their status.
    """
    keys = ["design", "dist", "free_on"]
    m = df[df["status"] == MEASURED]
    t = (m.groupby(keys, sort=False)
          .agg(cycles_per_segment=("median_cpp", "median"),
               coalesce_rate=("coalesce_rate", "median"),
               frags_per_segment=("frags_per_segment", "median"),
               pages_per_1k_packets=("pages_per_1k_packets", "median"),
               peak_pages_held=("peak_pages_held", "median"),
               runs=("median_cpp", "size"))
          .reset_index().assign(status=MEASURED))
    bad = df.loc[df["status"] != MEASURED, keys + ["status"]].drop_duplicates()
    notes = df.drop_duplicates("design").set_index("design")["note"]
    out = pd.concat([t, bad], ignore_index=True)
    return out.assign(note=out["design"].map(notes)).reset_index(drop=True)
