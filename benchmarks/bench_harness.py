"""Benchmark (not a test): what the engine's harness costs, and how much
one process differs from the next.

Builds ``benchmarks/harness_ref.c`` with the engines' compiler and flags
against the ``null`` design: the fastpath loop's two direct calls per packet
and one rdtscp pair per timed block, nothing else. Then runs, interleaved
in a fresh random order every round, ``--processes`` fresh processes each
of the null engine, the reference and the topdown engine, and reduces every
process with the same statistic (:func:`fraglib.stats.process_value`).

Prints (ratios, not asserts):

* null / reference: the harness's cost beyond the two calls (goal <= 1.3);
* the per-process coefficient of variation of null and of topdown (goal
  <= 3 %), and of the reference, which has no harness: what the machine
  alone contributes.

    .venv/bin/python benchmarks/bench_harness.py [--processes 16]
        [--packets 262144] [--sample-batches 64] [--rerandomize 1] [--layouts 4]

Process ``i`` of every side uses layout build ``i mod --layouts`` (the
reference gets the same link-order/alignment/padding treatment as the
engines), so the ratio compares the harnesses, not one placement of the
design's two tiny functions (the alignment of null_alloc within its
64-byte line alone moved an alloc-only loop by about 25 % on the EPYC VM).

``--sample-batches 1 --rerandomize 0`` gives the engine's former timing
(one rdtscp pair per 64-packet batch, placement fixed per process) for a
before/after in the same conditions.
"""

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import fraglib
from fraglib.api import default_cpu
from fraglib import _build, stats
from fraglib.engine import ENV_PAD_VAR

REF_SOURCE = Path(__file__).resolve().parent / "harness_ref.c"


def build_reference(design: str = "null", layout_seed: int | None = None) -> Path:
    """Compile the reference loop against ``design`` (cached by content).

    ``layout_seed`` applies the engines' layout variation
    (:func:`fraglib._build._layout`: link order, function alignment, a
    padding function), so the reference's code lands at as many places as
    the engine's does over the same seeds.
    """
    cc, version = _build.compiler()
    flags = (*_build.BASE_FLAGS, f"-DFRAG_DESIGN={design}")
    key = hashlib.sha256(repr((_build.source_hash(), version, flags, layout_seed,
                               REF_SOURCE.read_bytes())).encode()).hexdigest()[:16]
    out = _build.build_root() / f"harness-ref-{key}" / f"harness-ref-{design}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            srcs = [REF_SOURCE, _build.design_sources()[design]]
            lflags: tuple[str, ...] = ()
            if layout_seed is not None:
                order, align, pad_bytes = _build._layout(layout_seed, srcs)
                pad = Path(tmp) / "layout_pad.c"
                pad.write_text("__attribute__((used, noinline)) void frag_layout_pad(void)\n"
                               f"{{ __asm__ __volatile__(\".skip {pad_bytes}, 0x90\"); }}\n")
                srcs, lflags = [pad if p is None else p for p in order], (align,)
            exe = Path(tmp) / out.name
            cmd = [cc, *flags, *lflags, f"-I{_build.csrc_dir() / 'include'}",
                   *map(str, srcs), "-o", str(exe)]
            subprocess.run(cmd, check=True)
            os.replace(exe, out)
    return out


def run_reference(path: Path, cpu: int, packets: int, batch: int, per: int,
                  warmup: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One reference process, pinned and env-padded as an engine is."""
    env = dict(os.environ, **{ENV_PAD_VAR: "x" * random.randrange(4096)})
    proc = subprocess.run([str(path), str(packets), str(batch), str(per), str(warmup),
                           str(size)], capture_output=True, text=True, check=True,
                          env=env, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    rows = np.array([line.split() for line in proc.stdout.split("\n") if line],
                    dtype=float)
    return rows[warmup:, 0], rows[warmup:, 1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def summary(values: list[float]) -> str:
    v = np.asarray(values, float)
    cv = 100 * v.std(ddof=1) / v.mean() if len(v) > 1 else float("nan")
    return (f"median {np.median(v):7.3f}  min {v.min():7.3f}  max {v.max():7.3f}  "
            f"CV {cv:5.2f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=16, help="per side (default 16)")
    ap.add_argument("--packets", type=int, default=262144)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=16)
    ap.add_argument("--sample-batches", type=int, default=64)
    ap.add_argument("--rerandomize", type=int, default=1, choices=(0, 1))
    ap.add_argument("--layouts", type=int, default=4,
                    help="layout builds, each side visits them round robin (default 4; "
                    "0 = the canonical builds only)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    cpu = default_cpu()
    seeds = [None] if args.layouts < 1 else [args.seed * 1000 + i
                                              for i in range(args.layouts)]
    refs = {s: build_reference("null", s) for s in seeds}
    common = dict(workload="fastpath", packets=args.packets, size=args.size,
                  batch=args.batch, warmup=args.warmup, counters=False, store=False,
                  metadata=False, sample_batches=args.sample_batches,
                  rerandomize=args.rerandomize, cpu=cpu)
    per = args.batch * args.sample_batches
    vals: dict[str, list[float]] = {"null": [], "reference": [], "topdown": []}
    meds: dict[str, list[float]] = {k: [] for k in vals}
    cut: dict[str, list[float]] = {k: [] for k in vals}
    steps: list[float] = []
    load0, t0 = os.getloadavg()[0], time.monotonic()
    for i in range(args.processes):
        lseed = seeds[i % len(seeds)]
        for side in random.sample(list(vals), len(vals)):
            if side == "reference":
                c, p = run_reference(refs[lseed], cpu, args.packets, args.batch, per,
                                     args.warmup, args.size)
                step = statistics.median(steps) if steps else 1.0
            else:
                r = fraglib.run(side, layout_seed=lseed, **common)
                c, p = r.cycles[r.measured], r.packets[r.measured]
                step = r.tsc_step or 1.0
                steps.append(step)
            s = stats.process_value(c, p, tsc_step=step)
            vals[side].append(s["value"])
            meds[side].append(s["median"])
            cut[side].append(s["cut"] / max(1, s["n"]))
    wall = time.monotonic() - t0
    print(f"bench_harness: fastpath size={args.size} batch={args.batch} packets="
          f"{args.packets}, {per} packets per timed sample, rerandomize="
          f"{args.rerandomize}, {args.processes} fresh processes per side, interleaved, "
          f"over {len(seeds) if seeds != [None] else 'the canonical'} layout build(s)")
    print(f"  CPU {cpu_model()!r}, pinned to CPU {cpu}; TSC step "
          f"{statistics.median(steps):.2f} cycles; load average {load0:.2f} -> "
          f"{os.getloadavg()[0]:.2f}; {wall:.0f} s")
    print("  per-process value (TSC cycles/packet, stats.process_value):")
    for side in vals:
        print(f"    {side:10} {summary(vals[side])}  (samples cut "
              f"{100 * np.mean(cut[side]):.1f} %)")
    print("  per-process median of samples, for comparison:")
    for side in vals:
        print(f"    {side:10} {summary(meds[side])}")
    ratio = np.median(vals["null"]) / np.median(vals["reference"])
    paired = np.exp(np.mean(np.log(np.array(vals["null"]) / np.array(vals["reference"]))))
    print(f"  null / reference:  {ratio:.3f} (medians), {paired:.3f} (geometric mean "
          f"of per-round ratios); goal <= 1.3")
    for side in ("null", "topdown", "reference"):
        v = np.asarray(vals[side])
        print(f"  per-process CV {side:10} {100 * v.std(ddof=1) / v.mean():5.2f} %"
              f"{'   goal <= 3 %' if side != 'reference' else '   (no harness: the machine)'}")


if __name__ == "__main__":
    main()
