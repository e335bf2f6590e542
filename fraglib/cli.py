"""``fraglib`` command line: info, designs, workloads, run, compare, sweep, report,
store, worker (also ``python -m fraglib``).

The only module that turns exceptions into exit codes: 0 ok, 2 bad input
(the message names the parameter, the value and what is allowed), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap

from .exceptions import FraglibError, ParameterError

__all__ = ["main"]

#: a float Python reads that YAML 1.1 leaves a string (``1e3``, ``.5e-2``)
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _kv(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as YAML: ``sizes=[256,1500]`` is a list,
    ``packets=1000`` an int, ``remote=[false,true]`` booleans, ``dist=imix``
    a string; ``1e3`` (which YAML leaves a string) is a float as in Python."""
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"'{text}' is not key=value")
    k, v = text.split("=", 1)
    if not k.isidentifier():
        raise argparse.ArgumentTypeError(f"'{k}' in '{text}' is not a parameter name")
    try:
        value = yaml.safe_load(v)
    except yaml.YAMLError as e:
        where = f" ({e.problem})" if getattr(e, "problem", None) else ""
        raise argparse.ArgumentTypeError(f"the value of {k} in '{text}' is not YAML{where}: "
                                         "quote a string, write a list as [a,b]") from None
    if isinstance(value, (int, float)) and ":" in v:
        return k, v                # YAML 1.1 reads 1:30 as 90 (base 60): keep the text
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        return k, float(value)
    if not isinstance(value, (str, int, float, list, dict, type(None))):
        return k, v                # a YAML date or timestamp: keep the text
    return k, value


def _resume_env(on: bool, scope: str) -> None:
    from .resume import RESUME_VAR, SCOPE_VAR

    os.environ[RESUME_VAR] = "1" if on else "0"
    os.environ[SCOPE_VAR] = scope


def cmd_info(args) -> int:
    from . import collectors, counters, metadata
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
    for name, c in collectors.COLLECTORS.items():
        ok, why = c.available()
        print(f"  {name:28} {'available' if ok else 'unavailable'}: {why}")
    hints = collectors.how_to_enable()
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


def cmd_workloads(args) -> int:
    from .workloads import COMMON_PARAMS, workload_table

    rows = workload_table(args.names or None)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    for i, row in enumerate(rows):
        print(("\n" if i else "") + f"{row['name']} ({row['threads']} thread"
              f"{'s' if row['threads'] > 1 else ''}, cpus: {row['cpus']})")
        print(wrap.fill(row["help"]))
        if row["adapts"]:
            print(wrap.fill("on other designs: " + row["adapts"]))
        print("  parameters (key=default: help, from the engine's table):")
        width = max(len(f"{k}={p['default']}") for k, p in row["params"].items())
        for key, p in row["params"].items():
            kv = f"{key}={p['default']}"
            print(f"    {kv:{width}}  {p['help']}")
    print("\nevery workload also takes " + ", ".join(sorted(COMMON_PARAMS))
          + " (see `fraglib run --help`); `fraglib workloads --json` lists bounds and "
          "metrics")
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
    if args.cluster is not None or args.machines is not None:
        return cmd_compare_fleet(args, params)
    v = _compare.compare(args.a, args.b, workload=args.workload, builds=args.builds,
                         processes=args.processes, aa=args.aa, budget=args.budget,
                         slowdown=args.slowdown, seed=args.seed, store=not args.no_store,
                         interleave=False if args.no_interleave else None,
                         handoff_samples=args.handoff_samples, **params)
    print(v.text)
    return 0


def cmd_worker(args) -> int:
    from .fleet.worker import serve

    if not args.reconnect >= 0:
        raise ParameterError("--reconnect", args.reconnect, "seconds >= 0")
    return serve(args.scheduler, announce=not args.quiet, reconnect=args.reconnect)


def _add_cluster_options(s, each: str = "each gets its own verdict") -> None:
    """``--cluster``/``--machines`` of a command that can run on a fleet."""
    s.add_argument("--cluster", default=None, metavar="ADDR",
                   help="Dask scheduler address (tcp://host:8786): run on the machines "
                        f"whose `fraglib worker` joined it; {each}")
    s.add_argument("--machines", default=None, metavar="all|NAME,...",
                   help="with --cluster: which machines (default all); without it, "
                        "this machine through a local Dask cluster")


def cmd_compare_fleet(args, params: dict) -> int:
    """``fraglib compare --cluster``: one verdict per machine, side by side."""
    from . import compare as _compare

    fc = _compare.compare(args.a, args.b, workload=args.workload, builds=args.builds,
                          processes=args.processes, aa=args.aa, budget=args.budget,
                          slowdown=args.slowdown, seed=args.seed, store=not args.no_store,
                          interleave=False if args.no_interleave else None,
                          handoff_samples=args.handoff_samples, cluster=args.cluster,
                          machines=args.machines or "all", **params)
    print(fc.text)
    return 1 if fc.lost else 0


def cmd_sweep(args) -> int:
    from .nbparams import strings_as_declared, validate_notebook_params
    from .notebooks import notebook_paths, sweep

    paths = notebook_paths(args.notebooks or None)
    params = strings_as_declared(paths, dict(args.param or []))   # modes=[2048] is text
    if args.cluster is not None or args.machines is not None:
        return cmd_sweep_fleet(args, params)
    per_nb = validate_notebook_params(paths, params)   # every notebook, before any runs
    failed = []
    for i, nb in enumerate(paths, 1):
        # one scope per notebook: --resume maps its n-th run to its n-th stored run
        _resume_env(args.resume, nb.stem)
        print(f"[{i}/{len(paths)}] {nb.stem}", file=sys.stderr, flush=True)
        try:
            # only the keys it declares: -p budget_s=... is 0.0-summary's alone
            for p in sweep([nb.stem], parameters=per_nb[nb], progress=False):
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


def cmd_sweep_fleet(args, params: dict) -> int:
    """``fraglib sweep --cluster``: every notebook on each machine, one store."""
    from .fleet.sweep import sweep

    fs = sweep(args.notebooks or None, cluster=args.cluster,
               machines=args.machines or "all", parameters=params, resume=args.resume)
    for p in fs.executed:
        print(p)
    print(fs.text, file=sys.stderr)
    if not fs.ok:
        print("fraglib: rerun with --resume to skip every stored run", file=sys.stderr)
    return 0 if fs.ok else 1


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


def _version() -> str:
    from . import __version__
    return __version__


def cmd_kernel(args) -> int:
    from . import kernel

    if args.action == "add":
        rec = kernel.add(args.name, args.tree, args.rev, args.patch or (),
                         source=args.source)
        print(f"registered {rec['design']}: {rec['source_file']} at {rec['rev']} "
              f"({rec['commit'][:12]}), generation {rec['generation']}, "
              f"{len(rec['patches'])} patch(es), {len(rec['functions'])} functions")
    elif args.action == "list":
        for name, rec in sorted(kernel.entries().items()):
            print(f"{kernel.PREFIX}{name:<20} {rec['generation']:<8} {rec['rev']} "
                  f"+{len(rec['patches'])} patch(es)  {rec['tree']}")
    elif args.action == "show":
        print(json.dumps(kernel.entry(args.name), indent=2))
    else:
        rec = kernel.remove(args.name)
        print(f"removed {rec['design']}")
    return 0


def _add_kernel_parser(sub) -> None:
    """``fraglib kernel add|list|show|rm``: the kernel's own page_frag code."""
    from .kernel.sourcesets import SOURCE_SETS as kernel_sources
    s = sub.add_parser("kernel", help="register a tree's page_frag code (a revision, "
                                      "plus patches) as design kernel:NAME")
    ks = s.add_subparsers(dest="action", required=True)
    a = ks.add_parser("add", help="extract, compile against the shim and register")
    a.add_argument("name", help="the design becomes kernel:NAME")
    a.add_argument("--tree", required=True, help="a git clone of Linux")
    a.add_argument("--rev", required=True, help="revision: tag, branch or commit")
    a.add_argument("--patch", action="append", metavar="FILE",
                   help="patch applied on top of REV, in order (mbox: git am; diff: "
                        "git apply); repeat for a series")
    a.add_argument("--source", default="page_frag", choices=sorted(kernel_sources),
                   help="the allocator to read: page_frag (mm/, default) or sock "
                        "(net/core/sock.c skb_page_frag_refill, the Tx side)")
    ks.add_parser("list", help="registered kernel designs")
    for verb, what in (("show", "provenance of one kernel design (JSON)"),
                       ("rm", "unregister a kernel design")):
        v = ks.add_parser(verb, help=what)
        v.add_argument("name", help="NAME or kernel:NAME")
    s.set_defaults(func=cmd_kernel)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraglib", description=(
        "Measure Linux page-fragment allocator designs per packet "
        "(top-down vs bottom-up page_frag and the rest of the 2024 netdev debate)."))
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="machine, TSC rate, which counters work and why not")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("designs", help="list the designs and what each mirrors")
    s.add_argument("--details", action="store_true",
                   help="struct size, capabilities and code size of each design")
    s.set_defaults(func=cmd_designs)

    s = sub.add_parser("workloads", help="list the workloads with their parameters, "
                                         "defaults and the engine's help for each")
    s.add_argument("names", nargs="*", help="workload names (default: all)")
    s.add_argument("--json", action="store_true",
                   help="print them as JSON, with each parameter's type and bounds")
    s.set_defaults(func=cmd_workloads)

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
                   help="workload parameter, VALUE read as YAML (dist=imix, queue_depth=256, "
                        "cpu2=0, ...)")
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
                   help="budget mode: stop once the CI's relative half-width on B/A "
                        "is below this (default 0.0025, i.e. ±0.25 %%)")
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
                   help="run parameter, VALUE read as YAML (packets=..., size=..., dist=...)")
    _add_cluster_options(s)
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("worker", help="join a Dask fleet as this machine's worker")
    s.add_argument("--scheduler", required=True, metavar="ADDR",
                   help="the Dask scheduler's address (tcp://host:8786)")
    s.add_argument("--quiet", action="store_true",
                   help="announce only the machine name and source hash (no TSC "
                        "calibration or counter probe)")
    s.add_argument("--reconnect", type=float, default=300, metavar="SECONDS",
                   help="when the scheduler goes away (restarted), keep trying to "
                        "register again for this long, then exit (default 300)")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("sweep", help="execute the notebooks with papermill")
    s.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    s.add_argument("-p", "--param", type=_kv, action="append", metavar="KEY=VALUE",
                   help="notebook parameter passed to every notebook that declares it, "
                        "VALUE read as YAML (packets=1000 an int, sizes=[256,1500] a "
                        "list, remote=[false] booleans); a key no selected notebook "
                        "declares, or a value unlike its default, is refused before "
                        "any notebook runs; a failed notebook is kept, with its "
                        "error, under reports/failed/")
    s.add_argument("--resume", action="store_true",
                   help="skip the runs a killed sweep already stored (same notebooks, "
                        "same parameters)")
    _add_cluster_options(s, "each runs every notebook; its runs land under "
                            "data/runs/<machine>/ and its pages as <notebook>@<machine>")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("store", help="compact the results store or check it")
    s.add_argument("action", choices=("compact", "check"),
                   help="compact: merge one-run files into partitioned parts (also "
                        "automatic past FRAGLIB_COMPACT_THRESHOLD files); check: count runs "
                        "and list quarantined files (exit 1 if any)")
    s.set_defaults(func=cmd_store)

    s = sub.add_parser("report", help="render executed notebooks to reports/*.html")
    s.set_defaults(func=cmd_report)
    _add_kernel_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from .notebooks import skip_iri_format_checker

    skip_iri_format_checker()
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
