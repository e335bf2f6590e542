"""Benchmark (not a test): what the local default cluster costs over the direct path.

Runs the same comparison (``--b`` vs ``--a``, same seed, builds, pairs and
packets) ``--repeats`` times each way, alternating, into a private store:
directly (:func:`fraglib.compare.compare`, no Dask) and through the local
default cluster (``machines="all"``: a :class:`fraglib.fleet.Fleet` with one
in-process worker, started and closed inside the timed call, as ``fraglib
compare --machines all`` does). Prints the median wall time of each, their
ratio (goal <= 1.05) and whether the verdicts' kinds agree. Engines are
built once before timing, so both paths time the same cached builds.

Each machine's next pair is queued on its worker while the current one
runs (:func:`fraglib.fleet.compare_plan`'s look-ahead), so no task round
trip separates two pairs; ``--no-lookahead`` times one task at a time, as
before. With ``--processes-cluster`` the local cluster uses one worker
process instead (``processes=True``), to measure which costs less. The load
average is printed before and after: on a shared machine the ratio is only
as good as the load was steady.

    .venv/bin/python benchmarks/bench_fleet.py [--pairs 6] [--builds 4]
        [--packets 262144] [--repeats 3] [--no-lookahead]
"""

import argparse
import os
import statistics
import tempfile
import time

from fraglib.compare import compare, plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="topdown")
    ap.add_argument("--b", default="bottomup")
    ap.add_argument("--builds", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--packets", type=int, default=262144)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--processes-cluster", action="store_true",
                    help="a LocalCluster with one worker process, not in-process")
    ap.add_argument("--no-lookahead", action="store_true",
                    help="one task at a time per machine (the next pair is submitted "
                         "when the last one's result is back)")
    args = ap.parse_args()
    load0 = os.getloadavg()
    kw = dict(builds=args.builds, processes=args.pairs, packets=args.packets, seed=0,
              metadata=True, progress=False)
    import distributed  # noqa: F401  (imported once, ~2.6 s here: a CLI process pays it)

    with tempfile.TemporaryDirectory() as tmp:
        compare(args.a, args.b, root=tmp, **kw)          # builds the engines once
        cluster = None
        if args.processes_cluster:
            from distributed import Client, LocalCluster

            from fraglib.fleet.identity import machine_name, worker_resources
            lc = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                              resources=worker_resources(machine_name()),
                              dashboard_address=None)
            cluster = Client(lc)
        walls = {"direct": [], "cluster": []}
        kinds = {"direct": [], "cluster": []}
        for i in range(args.repeats):
            for way in (("direct", "cluster") if i % 2 == 0 else ("cluster", "direct")):
                t = time.monotonic()
                if way == "direct":
                    c = compare(args.a, args.b, root=tmp, **kw)
                else:
                    from fraglib.fleet import compare_plan

                    p = plan(args.a, args.b, builds=args.builds, processes=args.pairs,
                             packets=args.packets, seed=0, metadata=True)
                    fc = compare_plan(p, cluster=cluster, machines="all", root=tmp,
                                      progress=False, lookahead=not args.no_lookahead)
                    (c,) = fc.values()
                walls[way].append(time.monotonic() - t)
                kinds[way].append(f"{c.verdict.kind} {c.verdict.effect:.4f}")
        d, k = statistics.median(walls["direct"]), statistics.median(walls["cluster"])
        load1 = os.getloadavg()
        print(f"{args.b} vs {args.a}: {args.builds} builds x {args.pairs} pairs, "
              f"{args.packets} packets, {args.repeats} repeats each way; look-ahead "
              f"{'off' if args.no_lookahead else 'on'}")
        print(f"load average (1, 5, 15 min) before: {load0[0]:.2f} {load0[1]:.2f} "
              f"{load0[2]:.2f}; after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
              f"({os.cpu_count()} CPUs)")
        print(f"direct   wall s: {', '.join(f'{w:.2f}' for w in walls['direct'])}  "
              f"median {d:.2f}")
        print(f"cluster  wall s: {', '.join(f'{w:.2f}' for w in walls['cluster'])}  "
              f"median {k:.2f}  ({'process' if args.processes_cluster else 'in-process'} "
              "worker)")
        print(f"ratio cluster/direct: {k / d:.3f} (goal <= 1.05)")
        print(f"verdicts direct:  {kinds['direct']}")
        print(f"verdicts cluster: {kinds['cluster']}")
        kinds_of = {w: sorted(k.rsplit(" ", 1)[0] for k in kinds[w]) for w in kinds}
        effect = {w: statistics.median(float(k.rsplit(" ", 1)[1]) for k in kinds[w])
                  for w in kinds}
        print(f"same verdict kinds both ways: {kinds_of['direct'] == kinds_of['cluster']} "
              f"(median effect B/A direct {effect['direct']:.4f}, cluster "
              f"{effect['cluster']:.4f})")
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
