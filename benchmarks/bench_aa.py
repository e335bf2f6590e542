"""Benchmark (not a test): A/A calibration of fraglib.compare at the current
settings.

Runs ``--comparisons`` independent A/A comparisons of one design against
itself (:func:`fraglib.compare.compare` with ``aa=True``: the two sides run
on different layout builds, each comparison with its own seed, so fresh
builds and fresh environment pads), and prints how many report a
difference ("faster" or "slower"). With a 95 % interval about 1 in 20 may;
goal: at most 2 of 20. Also prints the layout-sensitive ones, the effects,
the half-widths and the variance components, so a miscalibration can be
traced to a level.

    .venv/bin/python benchmarks/bench_aa.py [--comparisons 20] [--builds 2]
        [--processes 4] [--packets 131072] [--design topdown] [--quick]

``--quick``: 6 comparisons of 2 builds x 3 pairs at 65536 packets (about a
minute once built). The default aims at 10 minutes or less on a 2-core VM;
compiling the layout builds is most of it the first time (4 engines per
comparison), and cached afterwards for the same ``--seed``.
"""

import argparse
import os
import time

import numpy as np

from fraglib import compare as cmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="topdown")
    ap.add_argument("--workload", default="fastpath")
    ap.add_argument("--comparisons", type=int, default=None, help="default 20 (6 quick)")
    ap.add_argument("--builds", type=int, default=None,
                    help="layout builds per side (default 2)")
    ap.add_argument("--processes", type=int, default=None,
                    help="ABBA pairs per build (default 4, 3 quick)")
    ap.add_argument("--packets", type=int, default=None, help="default 131072 (65536 quick)")
    ap.add_argument("--seed", type=int, default=1000, help="first comparison's seed")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--no-interleave", action="store_true",
                    help="run each pair's processes one after the other")
    ap.add_argument("--handoff-samples", type=int, default=None,
                    help="samples per interleaved round (default fraglib.api.HANDOFF_SAMPLES)")
    ap.add_argument("--quick", action="store_true",
                    help="6 comparisons, 2 builds x 3 pairs, 65536 packets")
    args = ap.parse_args()
    defaults = (6, 2, 3, 65536) if args.quick else (20, 2, 4, 131072)
    for name, value in zip(("comparisons", "builds", "processes", "packets"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)

    t0 = time.monotonic()
    rows = []
    for i in range(args.comparisons):
        c = cmp.compare(args.design, args.design, workload=args.workload, aa=True,
                        builds=args.builds, processes=args.processes,
                        packets=args.packets, seed=args.seed + i, store=False,
                        progress=False, resamples=args.resamples, metadata=False,
                        interleave=False if args.no_interleave else None,
                        handoff_samples=args.handoff_samples)
        v = c.verdict
        rows.append(v)
        print(f"  A/A {i + 1:2d}: {v.kind:16s} effect {100 * (v.effect - 1):+6.2f} %  "
              f"CI [{100 * (v.ci_lo - 1):+6.2f}, {100 * (v.ci_hi - 1):+6.2f}] %  "
              f"sigma_build {100 * v.sigma_build:5.2f} %  sigma_pair "
              f"{100 * v.sigma_pair:5.2f} %  ({c.wall_s:.0f} s)", flush=True)
    wall = time.monotonic() - t0
    kinds = [v.kind for v in rows]
    diff = sum(k in ("faster", "slower") for k in kinds)
    sens = kinds.count("layout-sensitive")
    n = len(rows)
    print(f"bench_aa: {args.design}/{args.workload} against itself, {n} independent A/A "
          f"comparisons of {args.builds} layout builds x {args.processes} ABBA pairs, "
          f"packets={args.packets}, "
          f"{'sequential' if args.no_interleave else 'interleaved'} pairs; load average {os.getloadavg()[0]:.2f}; {wall:.0f} s")
    print(f"  report a difference:  {diff} of {n} (goal <= {max(1, round(n / 10))}; "
          f"about {0.05 * n:.1f} expected at 95 %)")
    print(f"  layout-sensitive:     {sens} of {n}")
    eff = np.array([v.effect for v in rows])
    half = np.array([(v.ci_hi - v.ci_lo) / 2 for v in rows])
    sb = np.array([v.sigma_build for v in rows], float)
    sp = np.array([v.sigma_pair for v in rows], float)
    print(f"  effect:               median {100 * (np.median(eff) - 1):+.2f} %, SD "
          f"{100 * eff.std(ddof=1) if n > 1 else float('nan'):.2f} %")
    print(f"  CI half-width:        median {100 * np.median(half):.2f} %")
    print(f"  sigma_build, pair:    median {100 * np.nanmedian(sb):.2f} %, "
          f"{100 * np.nanmedian(sp):.2f} %")


if __name__ == "__main__":
    main()
