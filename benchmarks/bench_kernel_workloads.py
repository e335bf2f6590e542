"""Benchmark (not a test): issue 10's before/after figures, interleaved.

Builds the engines of this tree and, with ``--before REV``, of the C sources
at git revision REV (``git archive``, same compiler flags), then prints:

* rx (imix, freed here): cycles per frame and pages per 1000 frames for
  topdown and bottomup, before (every head to the design) and after with each
  ``small_heads`` routing, and the paired bottomup/topdown ratio;
* tx (64 KiB messages, mss 1448, gso 65536): allocator calls per message and
  per wire segment, page references per wire segment;
* ring (the cover letters' v13-v23 presets, 12-byte fragments, two CPUs):
  ns per object and the paired design/topdown ratio, before (yielding, each
  slot cleared as popped) and after (busy-wait, ptr_ring batches of 16),
  beside the published after/before ratios.

Timings on a shared VM move by tens of percent between runs: read them as
this run on this machine. Counts (pages, calls) are exact.

    .venv/bin/python benchmarks/bench_kernel_workloads.py [--before 4dc83e5] [--rounds 8]
"""

import argparse
import json
import os
import statistics as st
import subprocess
import tempfile
from pathlib import Path

from fraglib._build import BASE_FLAGS, REPO_ROOT, build_engine, compiler
from fraglib.experiments.schedule import schedule

DESIGNS = ("topdown", "bottomup", "encoded", "sockfrag")
#: (before_s, after_s) of the published page_frag_test rows (kernel-pagefrag.md §5)
PUBLISHED = {"v13-nonaligned": ((4.603531, 4.240274), (6.382, 5.625)),
             "v13-aligned": ((3.438041, 0.935251), (5.329, 2.574))}


def build_before(rev: str, out: Path) -> dict[str, str]:
    src = out / "src"
    src.mkdir(parents=True)
    arch = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", rev, "fraglib/csrc"],
                          capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=arch, check=True)
    csrc = src / "fraglib" / "csrc"
    common = [str(p) for p in sorted(csrc.glob("*.c"))
              if p.name not in ("api.c", "registry.c") and not p.name.startswith("design_")]
    exes = {}
    for d in DESIGNS:
        exe = out / f"engine-{d}"
        subprocess.run([compiler()[0], *BASE_FLAGS, f"-DFRAG_DESIGN={d}",
                        f"-I{csrc / 'include'}", *common, str(csrc / f"design_{d}.c"),
                        "-o", str(exe)], check=True)
        exes[d] = str(exe)
    return exes


def run(exe: str, **p) -> tuple[float, dict]:
    args = [exe, "counters=0", *(f"{k}={v}" for k, v in p.items())]
    d = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    w = d["warmup_samples"]
    cpp = st.median(c / n for c, n in zip(d["cycles"][w:], d["packets"][w:]) if n)
    return cpp, d["metrics"]


def grid(cells: dict, rounds: int) -> dict:
    res = {k: [] for k in cells}
    for job in schedule([list(cells)], rounds, seed=0):
        exe, p = cells[job.item]
        res[job.item].append(run(exe, **p))
    return res


def paired(a: list, b: list) -> str:
    r = [y / x for x, y in zip(a, b)]
    return f"{st.median(r):.3f} (min {min(r):.3f}, max {max(r):.3f}, n={len(r)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="git revision of the 'before' C sources")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--ring-scale", type=float, default=0.002,
                    help="fraction of the presets' nr_test (51,200,000)")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    cpu, cpu2 = cpus[0], (cpus[1] if len(cpus) > 1 else cpus[0])
    after = {d: str(build_engine(d).path) for d in DESIGNS}
    with tempfile.TemporaryDirectory() as tmp:
        before = build_before(args.before, Path(tmp)) if args.before else {}
        versions = [("before", before)] if before else []
        versions.append(("after", after))

        print("== rx: imix, freed on this CPU, cycles per frame")
        base = dict(workload="rx", dist="imix", packets=65536, cpu=cpu)
        cells = {}
        for d in ("topdown", "bottomup"):
            if before:
                cells[(d, "before (every head to the design)")] = (before[d], base)
            for sh in ("slicer1k", "kmalloc", "design"):
                cells[(d, f"after small_heads={sh}")] = (after[d], {**base, "small_heads": sh})
        res = grid(cells, args.rounds)
        for (d, lab), rs in res.items():
            m = rs[0][1]
            print(f"{d:9} {lab:36} {st.median(r[0] for r in rs):7.1f} cyc/frame "
                  f"{m['pages_per_1k_packets']:6.1f} pages/1k frames, "
                  f"{m['frags_allocated'] / m['packets']:.3f} of heads from the design")
        for lab in dict.fromkeys(lab for _, lab in res):
            print(f"bottomup/topdown {lab:36} "
                  + paired([r[0] for r in res[("topdown", lab)]],
                           [r[0] for r in res[("bottomup", lab)]]))

        print("== tx: fixed:65536, mss 1448, gso_size 65536")
        for d in ("sockfrag", "bottomup", "topdown"):
            for name, exes in versions:
                cpp, m = run(exes[d], workload="tx", dist="fixed:65536", packets=512,
                             batch=16, mss=1448, gso_size=65536, cpu=cpu)
                print(f"{d:9} {name:6} {m['chunks'] / m['messages']:6.2f} allocator calls "
                      f"per message, {m['chunks'] / m['packets']:.4f} per wire segment, "
                      f"{m['frags_allocated'] / m['packets']:.4f} page refs per wire "
                      f"segment, {cpp:.1f} cyc/segment")

        print(f"== ring: cpu {cpu} -> cpu2 {cpu2}, nr_test x {args.ring_scale}")
        cells = {}
        for name, size, align in (("v13-nonaligned", 12, 1), ("v13-aligned", 12, 64)):
            p = dict(workload="ring", size=size, align=align, cpu=cpu, cpu2=cpu2,
                     packets=max(1, round(51_200_000 * args.ring_scale)))
            for d in ("topdown", "bottomup", "encoded"):
                if before:
                    cells[(name, d, "before")] = (before[d], {**p, "busy_poll": 0})
                cells[(name, d, "after")] = (after[d], {**p, "busy_poll": 1})
        res = grid(cells, args.rounds)
        for name, ((b0, a0), (b1, a1)) in PUBLISHED.items():
            print(f"{name}: published after/before {a0 / b0:.3f} (v13-v23 letters), "
                  f"{a1 / b1:.3f} (re-measured 2024-10-29)")
            for lab in [n for n, _ in versions]:
                t = [r[1]["ns_per_object"] for r in res[(name, "topdown", lab)]]
                for d in ("bottomup", "encoded"):
                    x = [r[1]["ns_per_object"] for r in res[(name, d, lab)]]
                    print(f"  {lab:6} topdown {st.median(t):7.1f} ns/obj, {d} "
                          f"{st.median(x):7.1f} ns/obj, ratio {paired(t, x)}")


if __name__ == "__main__":
    main()
