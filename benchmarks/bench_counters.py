"""Benchmark (not a test): the cost of the counter instrumentation itself.

Runs the `null` design (a fixed buffer, no allocator: the harness floor) on
the fastpath workload with and without perf counters (``counters=True`` /
``counters=False``), in interleaved rounds (a fresh random order of the two
every round, each a fresh pinned engine process), and prints the median over
rounds of each process's median TSC cycles per packet both ways and their
ratio. Counters are opened around the measured region only, so a ratio near
1 means the per-batch figures are not distorted by the instrumentation; the
per-round ratios show how much of any difference is noise.

    .venv/bin/python benchmarks/bench_counters.py [--rounds 15] [--packets 262144]
"""

import argparse
import statistics

import fraglib
from fraglib import collectors, counters
from fraglib.experiments.schedule import schedule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--packets", type=int, default=262144)
    ap.add_argument("--design", default="null")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    per: dict[bool, list[float]] = {True: [], False: []}
    got: dict[int, dict[bool, float]] = {}
    for job in schedule([[True, False]], args.rounds, seed=args.seed):
        r = fraglib.run(args.design, "fastpath", packets=args.packets,
                        counters=job.item, store=False)
        got.setdefault(job.round, {})[job.item] = r.median_cycles_per_packet
        per[job.item].append(r.median_cycles_per_packet)
    ratios = [g[True] / g[False] for g in got.values()]
    on, off = statistics.median(per[True]), statistics.median(per[False])
    ok, why = collectors.COLLECTORS["counters"].available()
    print(f"{args.design}/fastpath packets={args.packets} rounds={args.rounds} "
          "(TSC cycles per packet, median over rounds of per-process medians)")
    print(f"counters available: {ok} ({why})")
    print(f"{'counters':10} {'cyc/pkt':>9} {'min':>8} {'max':>8}")
    for label, vals in (("on", per[True]), ("off", per[False])):
        print(f"{label:10} {statistics.median(vals):9.3f} {min(vals):8.3f} {max(vals):8.3f}")
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"ratio on/off: {on / off:.4f} (per-round ratios: median "
          f"{statistics.median(ratios):.4f}, quartiles {q[0]:.4f}-{q[2]:.4f}, "
          f"range {min(ratios):.4f}-{max(ratios):.4f})")


if __name__ == "__main__":
    main()
