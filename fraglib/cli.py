"""``fraglib`` command line: info, designs, run, compare, sweep, report, store.

The only module that turns exceptions into exit codes: 0 ok, 2 bad input
(the message names the parameter, the value and what is allowed), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

from .exceptions import FraglibError, ParameterError

__all__ = ["main"]


def _kv(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"'{text}' is not key=value")
    k, v = text.split("=", 1)
    if not k.isidentifier():
        raise argparse.ArgumentTypeError(f"'{k}' in '{text}' is not a parameter name")
    for conv in (int, float):
        try:
            return k, conv(v)
        except ValueError:
            pass
    if v[:1] in "[({" or v in ("True", "False", "None"):
        try:                       # -p sizes=[256,1024], -p remote=[False]
            return k, ast.literal_eval(v)
        except (ValueError, SyntaxError):
            pass
    return k, v


def _resume_env(on: bool, scope: str) -> None:
    from .resume import RESUME_VAR, SCOPE_VAR

    os.environ[RESUME_VAR] = "1" if on else "0"
    os.environ[SCOPE_VAR] = scope


def cmd_info(args) -> int:
    from . import counters, metadata
    from ._build import compiler
    from .api import run

    meta = metadata.machine_metadata()
    print("machine")
    for k, v in meta.items():
        print(f"  {k:28} {v}")
    try:
        r = run("topdown", packets=64, warmup=0, store=False, metadata=False)
        print(f"  {'tsc_hz (calibrated)':28} {r.tsc_hz:.0f}")
    except FraglibError as e:
        print(f"  {'tsc_hz':28} not measured: {e}")
    print(f"  {'compiler':28} {compiler()[1]}")
    print("\ncounters (perf_event_open, per measured thread)")
    for name, p in counters.probe().items():
        state = "supported" if p.supported else f"not measured: {p.reason}"
        print(f"  {name:28} {p.kind:9} {state}")
    print("\ncollectors")
    for name, c in counters.COLLECTORS.items():
        ok, why = c.available()
        print(f"  {name:28} {'available' if ok else 'unavailable'}: {why}")
    hints = counters.how_to_enable() if hasattr(counters, "how_to_enable") else []
    if hints:
        print("\nhow to enable what is missing")
        for h in hints:
            print(f"  - {h}")
    return 0


def cmd_designs(args) -> int:
    from .designs import designs, details

    if not args.details:
        for d in designs():
            print(f"{d.name:10} {d.mirrors}")
        return 0
    for row in details():
        print(f"{row['name']:10} {row['mirrors']}")
        for k, v in row.items():
            if k not in ("name", "mirrors"):
                print(f"{'':10} {k}: {v}")
    return 0


def cmd_run(args) -> int:
    from .api import run

    params = dict(args.param or [])
    r = run(args.design, args.workload, packets=args.packets, size=args.size,
            align=args.align, batch=args.batch, warmup=args.warmup, cpu=args.cpu,
            counters=not args.no_counters, stats=args.stats, store=not args.no_store,
            timeout=None if args.timeout == 0 else args.timeout, **params)
    if args.json:
        print(r.to_json())
        return 0
    print(f"{r.design}/{r.workload}: {r.total_packets} packets, "
          f"median {r.median_cycles_per_packet:.2f} TSC cycles/packet "
          f"({r.median_cycles_per_packet * 1e9 / r.tsc_hz:.2f} ns), "
          f"TSC {r.tsc_hz / 1e9:.3f} GHz")
    for k, v in r.metrics.items():
        print(f"  {k}: {int(v):,}" if float(v).is_integer() else f"  {k}: {v:.6g}")
    from .counters import parse_counters
    counted = parse_counters([dict(c) for c in r.counters], packets=r.total_packets)
    for name, v in counted.summary().items():
        print(f"  {name}: {v if isinstance(v, str) else f'{v:.4g} per packet'}")
    if not args.no_store:
        print(f"stored as run {r.run_id}")
    return 0


def cmd_compare(args) -> int:
    from . import compare as _compare

    params = dict(args.param or [])
    _resume_env(args.resume, f"compare:{args.a}:{args.b}:{args.workload}:{args.seed}")
    if args.target_halfwidth is not None:
        params["target_halfwidth"] = args.target_halfwidth
    v = _compare.compare(args.a, args.b, workload=args.workload, builds=args.builds,
                         processes=args.processes, aa=args.aa, budget=args.budget,
                         slowdown=args.slowdown, seed=args.seed, store=not args.no_store,
                         interleave=False if args.no_interleave else None,
                         handoff_samples=args.handoff_samples, **params)
    print(v.text)
    return 0


def cmd_sweep(args) -> int:
    from .nbparams import validate_notebook_params
    from .notebooks import notebook_paths, sweep

    params = dict(args.param or [])
    paths = notebook_paths(args.notebooks or None)
    validate_notebook_params(paths, params)         # every notebook, before any runs
    failed = []
    for i, nb in enumerate(paths, 1):
        # one scope per notebook: --resume maps its n-th run to its n-th stored run
        _resume_env(args.resume, nb.stem)
        print(f"[{i}/{len(paths)}] {nb.stem}", file=sys.stderr, flush=True)
        try:
            for p in sweep([nb.stem], parameters=params, progress=False):
                print(p)
        except ParameterError:
            raise
        except FraglibError as e:           # the next notebook still runs
            failed.append(nb.stem)
            print(f"fraglib: error: {e}", file=sys.stderr)
    if failed:
        print(f"fraglib: {len(failed)} of {len(paths)} notebooks failed: "
              + ", ".join(failed) + " (rerun with --resume to skip stored runs)",
              file=sys.stderr)
        return 1
    return 0


def cmd_store(args) -> int:
    from . import store

    if args.action == "compact":
        r = store.compact()
        print(f"compacted {r.runs_compacted} runs into {r.parts_written} parts, removed "
              f"{r.files_removed} one-run files ({', '.join(r.machines) or 'no machines'})")
        for m in r.skipped_locked:
            print(f"skipped {m}: another compaction holds its lock")
    rep = store.check()
    print(rep.text())
    return 0 if rep.ok else 1


def cmd_report(args) -> int:
    from .notebooks import report

    print(f"report: {report()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraglib", description=(
        "Measure Linux page-fragment allocator designs per packet "
        "(top-down vs bottom-up page_frag and the rest of the 2024 netdev debate)."))
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="machine, TSC rate, which counters work and why not")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("designs", help="list the designs and what each mirrors")
    s.add_argument("--details", action="store_true",
                   help="struct size, capabilities and code size of each design")
    s.set_defaults(func=cmd_designs)

    s = sub.add_parser("run", help="run one workload on one design in a fresh engine")
    s.add_argument("design", help="design name (see `fraglib designs`)")
    s.add_argument("-w", "--workload", default="fastpath", help="workload (default fastpath)")
    s.add_argument("-n", "--packets", type=int, default=None,
                   help="packets in the measured region (default: the workload's, "
                        "else 262144)")
    s.add_argument("-s", "--size", type=int, default=None,
                   help="fragment size in bytes, 1..4096 (default: the workload's, else 256)")
    s.add_argument("-a", "--align", type=int, default=None,
                   help="alignment, a power of two; 1 = page_frag_alloc (default 1)")
    s.add_argument("-b", "--batch", type=int, default=None,
                   help="packets per timed sample (default: the workload's, else 64, "
                        "the NAPI budget)")
    s.add_argument("--warmup", type=int, default=None, help="warm-up samples (default 16)")
    s.add_argument("--cpu", type=int, default=None,
                   help="CPU to pin to (default: the highest allowed CPU)")
    s.add_argument("--no-counters", action="store_true", help="do not open perf counters")
    s.add_argument("--stats", action="store_true",
                   help="engine with per-cache statistics (refills, reuses, bytes)")
    s.add_argument("--no-store", action="store_true", help="do not write a result file")
    s.add_argument("--timeout", type=float, default=600,
                   help="seconds before the engine is killed; a run expected to take "
                        "longer is refused before it starts (0: no limit; default 600)")
    s.add_argument("--json", action="store_true", help="print the whole result as JSON")
    s.add_argument("-p", "--param", type=_kv, action="append", metavar="KEY=VALUE",
                   help="workload parameter (dist=imix, queue_depth=256, cpu2=0, ...)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("compare", help="A/B verdict with a confidence interval")
    s.add_argument("a", help="baseline design (A)")
    s.add_argument("b", help="candidate design (B)")
    s.add_argument("-w", "--workload", default="fastpath")
    s.add_argument("--builds", type=int, default=4, help="layout builds (default 4)")
    s.add_argument("--processes", type=int, default=6,
                   help="engine processes per design per build (default 6)")
    s.add_argument("--aa", action="store_true", help="allow A == B (an A/A calibration run)")
    s.add_argument("--budget", type=float, default=None,
                   help="time budget in seconds: keep adding layout builds until the "
                        "CI half-width reaches --target-halfwidth or the time is spent")
    s.add_argument("--slowdown", type=int, default=0,
                   help="inject this many dependent instructions into B's alloc path")
    s.add_argument("--target-halfwidth", type=float, default=None,
                   help="budget mode: stop once the CI half-width on B/A is below "
                        "this (default 0.0025, i.e. ±0.25 %%)")
    s.add_argument("--seed", type=int, default=0,
                   help="seed of the layout builds, ABBA orders and env pads (default 0)")
    s.add_argument("--no-store", action="store_true", help="do not write result files")
    s.add_argument("--no-interleave", action="store_true",
                   help="run a pair's two processes one after the other (default for "
                        "fastpath, rx and tx: concurrently, in lockstep on one CPU)")
    s.add_argument("--handoff-samples", type=int, default=None,
                   help="samples per round of an interleaved pair (default 1)")
    s.add_argument("--resume", action="store_true",
                   help="reuse the runs a killed comparison with the same arguments "
                        "already stored; run only the rest")
    s.add_argument("-p", "--param", type=_kv, action="append", metavar="KEY=VALUE",
                   help="run parameter (packets=..., size=..., dist=...)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("sweep", help="execute the notebooks with papermill")
    s.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    s.add_argument("-p", "--param", type=_kv, action="append", metavar="KEY=VALUE",
                   help="notebook parameter passed to every notebook that declares it "
                        "(lists as sizes=[256,1024]); checked against every notebook's "
                        "parameters cell before any notebook runs")
    s.add_argument("--resume", action="store_true",
                   help="skip the runs a killed sweep already stored (same notebooks, "
                        "same parameters)")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("store", help="compact the results store or check it")
    s.add_argument("action", choices=("compact", "check"),
                   help="compact: merge one-run files into partitioned parts (also "
                        "automatic past FRAGLIB_COMPACT_THRESHOLD files); check: count runs "
                        "and list quarantined files (exit 1 if any)")
    s.set_defaults(func=cmd_store)

    s = sub.add_parser("report", help="render executed notebooks to reports/*.html")
    s.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as e:
        print(f"fraglib: error: {e}", file=sys.stderr)
        return 2
    except FraglibError as e:
        print(f"fraglib: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:        # `fraglib run ... | head`: not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
