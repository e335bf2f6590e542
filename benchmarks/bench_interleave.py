"""Benchmark (not a test): tune the interleaved pair's round and length.

For each ``handoff_samples`` x ``packets`` setting, runs ``--pairs`` pairs of
``--b`` vs ``--a`` on one layout build, interleaved in lockstep on one CPU
(:func:`fraglib.api.run_pair`), plus the same number of sequential pairs
(:func:`fraglib.run`, A then B or B then A), and prints sigma_pair (the SD of
the paired log ratio, the within-build noise MDE scales with), the mean
cycles/packet of each side and the wall seconds per pair. Also the ratio of
the first sample of every round (cold after the peer ran) to the rest.

    .venv/bin/python benchmarks/bench_interleave.py [--pairs 12]
        [--rounds 1,4,16] [--packets 262144,1048576] [--sample-batches 64]
"""

import argparse
import time

import numpy as np

from fraglib import api


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="topdown")
    ap.add_argument("--b", default="bottomup")
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--rounds", default="1,4,16")
    ap.add_argument("--packets", default="262144,1048576")
    ap.add_argument("--sample-batches", type=int, default=None,
                    help="batches of 64 per timed sample (fastpath default 64)")
    ap.add_argument("--no-sequential", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    kw = dict(store=False, metadata=False, counters=False)
    if args.sample_batches:
        kw["sample_batches"] = args.sample_batches
    for packets in map(int, args.packets.split(",")):
        settings = [("seq", None)] if not args.no_sequential else []
        settings += [("inter", int(r)) for r in args.rounds.split(",")]
        for kind, rounds in settings:
            lr, walls, va, vb, cold = [], [], [], [], []
            for i in range(args.pairs):
                first = "AB"[i % 2]
                t = time.monotonic()
                if kind == "seq":
                    res = {}
                    for side in (first, "B" if first == "A" else "A"):
                        res[side] = api.run(args.a if side == "A" else args.b,
                                            packets=packets,
                                            env_pad=int(rng.integers(4096)), **kw)
                    ra, rb = res["A"], res["B"]
                else:
                    ra, rb = api.run_pair(args.a, args.b, packets=packets, first=first,
                                          handoff_samples=rounds, **kw)
                    for r in (ra, rb):
                        rd = r.rounds[r.measured]
                        cpp = r.cycles_per_packet
                        f = np.r_[True, rd[1:] != rd[:-1]]
                        if f.any() and (~f).any():
                            cold.append(np.mean(cpp[f]) / np.mean(cpp[~f]))
                walls.append(time.monotonic() - t)
                a, b = ra.value_cycles_per_packet, rb.value_cycles_per_packet
                va.append(a)
                vb.append(b)
                lr.append(np.log(b / a))
            lr = np.array(lr)
            extra = (f", first-of-round/rest {np.median(cold):.4f}" if cold else "")
            print(f"packets={packets:>8} {kind:5s} rounds={rounds!s:>4}: sigma_pair "
                  f"{100 * lr.std(ddof=1):6.2f} %  ratio {np.exp(lr.mean()):.4f}  "
                  f"A {np.mean(va):6.2f}  B {np.mean(vb):6.2f} c/p  "
                  f"{np.mean(walls):.3f} s/pair{extra}", flush=True)


if __name__ == "__main__":
    main()
