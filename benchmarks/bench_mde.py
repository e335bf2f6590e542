"""Benchmark (not a test): the MDE this machine reaches, and how fast.

topdown vs bottomup on fastpath with :func:`fraglib.compare.compare` in
budget mode: waves of layout builds, randomized ABBA pairs of fresh engine
processes, until the CI half-width on B/A is below the target or the budget
is spent. Prints the achieved minimum detectable effect (alpha 0.05, power
0.8), the CI half-width, the wall time to reach them and the verdict. Goal:
MDE <= 0.5 % within 5 minutes on a 2-core VM.

    .venv/bin/python benchmarks/bench_mde.py [--budget 300] [--builds 8]
        [--processes 2] [--packets 262144] [--target 0.0025]
        [--no-interleave] [--handoff-samples N]

By default each pair's two processes run interleaved in lockstep on one CPU
(:func:`fraglib.api.run_pair`); ``--no-interleave`` runs them one after the
other, as before issue 9's interleaving.

Measured on the 2-core "AMD EPYC" KVM guest (kernel 6.18, 2026-11-30, shared
with other jobs, load average ~2: noisy), ``--budget 120``:

    sequential   262144 pkts:  sigma_pair 12.8 %, sigma_build 0.0 %, MDE 3.59 %
    sequential  1048576 pkts:  sigma_pair 15.3 %, sigma_build 0.0 %, MDE 2.19 %
    interleaved  262144 pkts:  sigma_pair  2.5 %, sigma_build 1.6 %, MDE 1.09 %
    interleaved 1048576 pkts:  sigma_pair  2.7 %, sigma_build 1.3 %, MDE 1.06 %
    rx, --budget 90, 262144 packets:
    sequential:                sigma_pair 18.0 %, sigma_build 0.0 %, MDE 2.94 %
    interleaved:               sigma_pair  2.0 %, sigma_build 0.9 %, MDE 0.64 %

Interleaving removes the machine's speed modes from the pairs; what is left
is mostly the layout builds (sigma_build), which only more builds reduce.
"""

import argparse
import math
import time

from fraglib import compare as cmp
from fraglib import stats
from fraglib.exceptions import ParameterError


def mde_over_time(c: cmp.Comparison, every: int = 20) -> list[tuple[float, int, float]]:
    """``(seconds, pairs, MDE)`` for growing prefixes of the run, by time."""
    obs = c.observations
    ends = obs.groupby(["build", "pair"])["t_start"].max().sort_values()
    out = []
    for n in range(every, len(ends) + every, every):
        n = min(n, len(ends))
        keep = ends.index[:n]
        sub = obs.set_index(["build", "pair"]).loc[keep].reset_index()
        try:
            vc = stats.variance_components(sub, c.label_a, c.label_b)
        except ParameterError:
            continue
        if not (math.isfinite(vc["sigma_build"]) and math.isfinite(vc["sigma_pair"])):
            continue
        m = stats.mde(vc["sigma_build"], vc["sigma_pair"], vc["n_builds"],
                      vc["n_pairs_per_build"])
        t_end = float(sub["t_start"].max() + sub["t_wall"].max())
        out.append((t_end, n, m))
        if n == len(ends):
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="topdown")
    ap.add_argument("--b", default="bottomup")
    ap.add_argument("--workload", default="fastpath")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds (default 300)")
    ap.add_argument("--builds", type=int, default=8, help="builds per wave (default 8)")
    ap.add_argument("--processes", type=int, default=2,
                    help="ABBA pairs per build in a wave, at least (default 2: layouts "
                         "are relinks, so builds are cheap and sigma_build dominates)")
    ap.add_argument("--packets", type=int, default=262144)
    ap.add_argument("--target", type=float, default=0.0025,
                    help="CI half-width to stop at (default 0.0025 = ±0.25 %%)")
    ap.add_argument("--goal", type=float, default=0.005,
                    help="MDE to report the time to (default 0.005 = 0.5 %%)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", action="store_true", help="keep the runs in the store")
    ap.add_argument("--no-interleave", action="store_true",
                    help="run each pair's processes one after the other")
    ap.add_argument("--handoff-samples", type=int, default=None,
                    help="samples per interleaved round (default fraglib.api.HANDOFF_SAMPLES)")
    args = ap.parse_args()

    t0 = time.monotonic()
    c = cmp.compare(args.a, args.b, workload=args.workload, builds=args.builds,
                    processes=args.processes, budget=args.budget,
                    target_halfwidth=args.target, packets=args.packets, seed=args.seed,
                    store=args.store, progress=False,
                    interleave=False if args.no_interleave else None,
                    handoff_samples=args.handoff_samples)
    wall = time.monotonic() - t0
    v = c.verdict
    mde = v.mde
    print(f"bench_mde: {args.b} vs {args.a} on {args.workload}, packets={args.packets}, "
          f"budget {args.budget:g} s, waves of {args.builds} builds x {args.processes} pairs")
    print("  pairs:            " + (f"interleaved in lockstep on one CPU, "
                                     f"{c.handoff_samples}-sample rounds"
                                     if c.interleave else "one process after the other"))
    print(f"  stopped:          {c.stop_reason} after {c.measured_s:.1f} s "
          f"(wall {wall:.1f} s with builds and bootstrap)")
    print(f"  repetitions:      {v.n_builds} layout builds, {v.n_pairs} ABBA pairs, "
          f"{c.n_processes} engine processes")
    print(f"  variance:         sigma_build {100 * v.sigma_build:.3f} %, "
          f"sigma_pair {100 * v.sigma_pair:.3f} % (SD of log B/A)")
    print(f"  CI half-width:    {100 * c.halfwidth:.3f} % (target {100 * args.target:.2f} %)")
    mde_txt = f"{100 * mde:.3f} %" if math.isfinite(mde) else "unknown"
    print(f"  achieved MDE:     {mde_txt} after {c.measured_s:.0f} s")
    path = mde_over_time(c)
    first = next(((t, n) for t, n, m in path if m <= args.goal), None)
    if first:
        print(f"  MDE <= {100 * args.goal:.2f} %:    first reached after {first[0]:.0f} s "
              f"({first[1]} pairs); goal (within 300 s): "
              f"{'met' if first[0] <= 300 else 'NOT met'}")
    else:
        print(f"  MDE <= {100 * args.goal:.2f} %:    not reached; goal NOT met")
    marks = [p for p in path if p[1] % 100 == 0]
    if path and (not marks or marks[-1] is not path[-1]):
        marks.append(path[-1])
    print("  MDE over time:    " + ", ".join(f"{t:.0f} s {100 * m:.2f} %" for t, _, m in marks))
    costs = c.costs()
    print(f"  cost:             {costs['seconds_per_pair']:.3f} s per pair, "
          f"{costs['seconds_per_build']:.2f} s per build")
    print(f"  verdict:          {v.text}")
    print(f"  interval:         {c.ci_method}")


if __name__ == "__main__":
    main()
