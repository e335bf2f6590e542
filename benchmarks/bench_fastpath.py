"""Benchmark (not a test): fastpath cycles per packet for every design.

Designs run as interleaved engine processes (a fresh random order every
round), so drift on a noisy machine hits all of them alike; the figure per
design is the median over rounds of each process's median cycles per
packet, and the ratio is to `topdown` measured in the same rounds. The
`null` design (a fixed buffer, no allocator) is the harness floor.

    .venv/bin/python benchmarks/bench_fastpath.py [--rounds 7] [--size 256]
"""

import argparse
import statistics

import fraglib
from fraglib.experiments.schedule import schedule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--packets", type=int, default=262144)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--align", type=int, default=1)
    ap.add_argument("--designs", nargs="*", default=None)
    args = ap.parse_args()
    names = args.designs or list(fraglib.design_names())
    if "topdown" not in names:
        names.insert(0, "topdown")
    per: dict[str, list[float]] = {d: [] for d in names}
    for job in schedule([names], args.rounds, seed=1):
        r = fraglib.run(job.item, "fastpath", packets=args.packets, size=args.size,
                        align=args.align, store=False)
        per[job.item].append(r.median_cycles_per_packet)
    base = statistics.median(per["topdown"])
    floor = statistics.median(per["null"]) if "null" in per else None
    print(f"fastpath size={args.size} align={args.align} packets={args.packets} "
          f"rounds={args.rounds} (TSC cycles per packet, alloc+free)")
    print(f"{'design':10} {'cyc/pkt':>9} {'ratio':>7} {'minus null':>11}")
    for d in names:
        m = statistics.median(per[d])
        net = f"{m - floor:11.2f}" if floor is not None else f"{'':>11}"
        print(f"{d:10} {m:9.2f} {m / base:7.3f} {net}")
    if floor is not None:
        print(f"harness floor (null design): {floor:.2f} cycles per packet")


if __name__ == "__main__":
    main()
