"""Benchmark (not a test): opening the results store before and after compaction.

Writes N synthetic runs (one file each, as a sweep does; 64 samples per
run, a realistic provenance) to a temporary store, then times
``fraglib.store.runs()`` -- list, check every footer, open every file,
aggregate -- on the one-file-per-run store, compacts it
(``fraglib.store.compact``) and times the same call again. Prints both
times (median of ``--repeat`` opens) and their ratio; checks that the two
answers are identical. Automatic compaction is switched off while writing.

    .venv/bin/python benchmarks/bench_store.py [--runs 2000] [--samples 64]
        [--repeat 3]
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ["FRAGLIB_COMPACT_THRESHOLD"] = "0"

    from fraglib import store
    from fraglib.results import RunResult

    rng = np.random.default_rng(0)
    designs = ("topdown", "bottomup", "encoded", "sockfrag")
    workloads = ("fastpath", "rx", "tx", "ring")
    with tempfile.TemporaryDirectory(prefix="fraglib-bench-store-") as tmp:
        t0 = time.perf_counter()
        for i in range(args.runs):
            n = args.samples
            r = RunResult(design=designs[i % 4], workload=workloads[(i // 4) % 4],
                          params={"size": 256, "align": 1, "batch": 64, "seed": i},
                          tsc_hz=2.6e9, cycles=rng.integers(1500, 1800, n).tolist(),
                          packets=[64] * n, warmup_samples=4,
                          metrics={"refills": float(i)},
                          provenance={"machine": "bench", "git_sha": "0" * 40,
                                      "build_key": f"{i % 8:016x}", "layout_seed": i % 8,
                                      "time": "2026-11-30T00:00:00+00:00"})
            store.write_run(r, tmp)
        write_s = time.perf_counter() - t0

        def open_time() -> tuple[float, object]:
            times, df = [], None
            for _ in range(args.repeat):
                t = time.perf_counter()
                df = store.runs(tmp)
                times.append(time.perf_counter() - t)
            return statistics.median(times), df

        before_s, before = open_time()
        t = time.perf_counter()
        res = store.compact(tmp)
        compact_s = time.perf_counter() - t
        after_s, after = open_time()
        assert before.equals(after), "compaction changed the answer"
        assert len(after) == args.runs

    print(f"store of {args.runs} runs x {args.samples} samples "
          f"(written in {write_s:.1f} s, {args.runs / write_s:.0f} runs/s)")
    print(f"  open + runs() before compaction: {before_s * 1e3:8.1f} ms "
          f"({args.runs} files)")
    print(f"  compaction:                      {compact_s * 1e3:8.1f} ms "
          f"-> {res.parts_written} parts")
    print(f"  open + runs() after compaction:  {after_s * 1e3:8.1f} ms "
          f"({res.parts_written} files)")
    print(f"  ratio before/after: {before_s / after_s:.1f}x")


if __name__ == "__main__":
    main()
