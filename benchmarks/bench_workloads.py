"""Benchmark (not a test): rx (imix), tx and ring cycles per packet, every design.

Each round runs every (workload, design) pair once as its own engine process,
in a fresh random order, so drift on a noisy machine hits every design alike.
The figure per cell is the median over rounds of each process's median cycles
per packet. The ratio is to `topdown` measured in the same rounds. A design
that a workload refuses (e.g. slicer1k, which serves at most 1 KiB) prints
the reason instead of a number.

Units: rx, one frame; tx, one wire segment (ceil(len/mss) per message, which
is the same for every design); ring, one successful push as the push thread
sees it. ring runs page_frag_test-style on two CPUs (the highest two this
process may use) with busy polling.

    .venv/bin/python benchmarks/bench_workloads.py [--rounds 5] [--designs ...]
"""

import argparse
import os
import statistics

import fraglib
from fraglib.experiments.schedule import run_rounds, schedule
from fraglib.workloads import get_workload


def cases(args) -> dict[str, tuple[str, dict]]:
    cpus = sorted(os.sched_getaffinity(0))
    cpu, cpu2 = cpus[-1], (cpus[-2] if len(cpus) > 1 else cpus[-1])
    return {
        "rx/imix": ("rx", dict(packets=args.packets, dist="imix", cpu=cpu)),
        "tx/64K": ("tx", dict(packets=args.messages, batch=16, dist="fixed:65536", cpu=cpu)),
        "ring": ("ring", dict(packets=args.packets, size=2048, cpu=cpu, cpu2=cpu2,
                              busy_poll=1)),
    }


EXTRA = {"rx": "pages_per_1k_packets", "tx": "coalesce_rate", "ring": "ns_per_object"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--packets", type=int, default=131072, help="rx frames / ring objects")
    ap.add_argument("--messages", type=int, default=1024, help="tx messages of 64 KiB")
    ap.add_argument("--designs", nargs="*", default=None)
    args = ap.parse_args()
    names = args.designs or list(fraglib.design_names())
    if "topdown" not in names:
        names.insert(0, "topdown")
    todo = cases(args)
    refused: dict[tuple[str, str], str] = {}
    cells = []
    for label, (wl, params) in todo.items():
        w = get_workload(wl)
        for d in names:
            why = w.refusal(d, {k: v for k, v in params.items() if k != "cpu"})
            if why:
                refused[label, d] = why
            else:
                cells.append((label, d))
    cyc: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    extra: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    faulted: set[tuple[str, str]] = set()
    def one(job):
        label, d = job.item
        wl, params = todo[label]
        return fraglib.run(d, wl, store=False, metadata=False, **params)

    for job, r, flag, _ in run_rounds(schedule([cells], args.rounds, seed=1), one,
                                      progress=False):
        label, d = job.item
        if "page faults" in flag:
            faulted.add((label, d))
        cyc[label, d].append(r.median_cycles_per_packet)
        extra[label, d].append(r.metrics.get(EXTRA[todo[label][0]], float("nan")))

    print(f"rounds={args.rounds}; TSC cycles per packet (median of per-process medians); "
          "ratio = design / topdown")
    for label, (wl, params) in todo.items():
        shown = {k: v for k, v in params.items() if k not in ("cpu",)}
        print(f"\n{label}  {' '.join(f'{k}={v}' for k, v in shown.items())}")
        print(f"  {'design':10} {'cyc/pkt':>9} {'ratio':>7} {EXTRA[wl]:>21}")
        base = statistics.median(cyc[label, "topdown"])
        for d in names:
            if (label, d) in refused:
                print(f"  {d:10} {'refused':>9}  {refused[label, d][:70]}")
                continue
            m = statistics.median(cyc[label, d])
            e = statistics.median(extra[label, d])
            flag = "  *" if (label, d) in faulted else ""
            print(f"  {d:10} {m:9.1f} {m / base:7.3f} {e:21.3f}{flag}")
    if faulted:
        print("\n* page faults inside the timed region in some round (malloc grows "
              "its heap; the page designs prefault their arena)")


if __name__ == "__main__":
    main()
