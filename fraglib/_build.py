"""Build the native core: one engine per design, and the shared library.

Builds are content-addressed: the key hashes every C source and header, the
compiler's identity, the flags and the layout seed. A build is made once,
in a temporary name, and renamed into place, so concurrent processes (a
papermill sweep, pytest-xdist) never see half a binary.

Layout variants (``layout_seed``) are distinct engines from the same
sources: the seed shuffles the object link order, picks the function
alignment and inserts a padding function of random size in front of the
design, which moves the hot code to another place in the text segment
(Mytkowicz et al., ASPLOS'09; STABILIZER emulated by rebuilding). Objects
are compiled once per design, flags and alignment and cached; a layout is a
relink of them in its order with its padding object, so one costs a link,
not a compile.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .exceptions import BuildError, UnknownNameError

__all__ = ["BuildInfo", "build_engine", "build_library", "build_root", "csrc_dir",
           "compiler", "design_sources", "REPO_ROOT"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
CSRC = PACKAGE_DIR / "csrc"

BASE_FLAGS = ("-std=gnu11", "-O2", "-g", "-fno-omit-frame-pointer", "-Wall",
              "-Wextra", "-Werror", "-pthread")
#: flags of the in-process library: statistics and debug checks on.
LIBRARY_FLAGS = ("-fPIC", "-shared", "-DFRAG_STATS", "-DFRAG_DEBUG=1")
#: sources only the engine links (they need -DFRAG_DESIGN or define main).
ENGINE_ONLY = ("engine.c", "workloads.c")
#: sources only the shared library links.
LIBRARY_ONLY = ("api.c", "registry.c")
#: function alignments a layout variant picks from.
LAYOUT_ALIGNS = (16, 32, 64)


def csrc_dir() -> Path:
    """Directory of the C sources."""
    return CSRC


def build_root() -> Path:
    """Where builds are cached: ``$FRAGLIB_BUILD_DIR`` or ``<repo>/build``."""
    env = os.environ.get("FRAGLIB_BUILD_DIR")
    return Path(env) if env else REPO_ROOT / "build"


@lru_cache(maxsize=None)
def compiler() -> tuple[str, str]:
    """Return ``(path, version line)`` of the C compiler, or raise BuildError."""
    name = os.environ.get("CC", "cc")
    path = shutil.which(name) or shutil.which("gcc")
    if not path:
        raise BuildError(
            f"no C compiler found (looked for {name!r} and 'gcc'): install one, "
            "e.g. 'apt-get install gcc' on Debian/Ubuntu or "
            "'conda install -c conda-forge c-compiler', or set CC")
    out = subprocess.run([path, "--version"], capture_output=True, text=True)
    return path, (out.stdout.splitlines() or ["unknown"])[0]


def design_sources() -> dict[str, Path]:
    """Map design name -> its C file (``design_<name>.c``)."""
    return {p.stem[len("design_"):]: p for p in sorted(CSRC.glob("design_*.c"))}


def _common_sources() -> list[Path]:
    skip = set(ENGINE_ONLY) | set(LIBRARY_ONLY)
    return [p for p in sorted(CSRC.glob("*.c"))
            if p.name not in skip and not p.name.startswith(("design_", "wl_"))]


def _design_source(design: str) -> tuple[str, Path]:
    """``(C identifier, source)`` of a design; ``kernel:`` names come from
    fraglib.kernel's registry (generated sources, content-addressed)."""
    if isinstance(design, str) and design.startswith("kernel:"):
        from .kernel.registry import engine_source
        return engine_source(design)
    sources = design_sources()
    if design not in sources:
        raise UnknownNameError("design", design, sources)
    return design, sources[design]


def _engine_sources(design: str) -> list[Path]:
    return (_common_sources() + [CSRC / n for n in ENGINE_ONLY]
            + sorted(CSRC.glob("wl_*.c")) + [_design_source(design)[1]])


def _library_sources() -> list[Path]:
    return (_common_sources() + [CSRC / n for n in LIBRARY_ONLY]
            + list(design_sources().values()))


@lru_cache(maxsize=None)
def _tree_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(CSRC.rglob("*")):
        if p.is_file() and p.suffix in (".c", ".h") and "tests" not in p.parts:
            h.update(p.relative_to(CSRC).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def source_hash() -> str:
    """Hash of the C sources (headers included), for provenance."""
    return _tree_digest()[:16]


@dataclass(frozen=True)
class BuildInfo:
    """What was built and how: recorded with every run.

    Attributes
    ----------
    path : Path
        The executable or library.
    key : str
        Content hash of sources, compiler, flags and layout seed.
    source_hash : str
        Hash of the C sources alone.
    compiler : str
        Compiler version line.
    flags : tuple of str
        Every flag passed.
    layout_seed : int or None
        Layout variant, None for the canonical build.
    """

    path: Path
    key: str
    source_hash: str
    compiler: str
    flags: tuple[str, ...]
    layout_seed: int | None

    def as_dict(self) -> dict:
        return {"build_key": self.key, "source_hash": self.source_hash,
                "compiler": self.compiler, "cflags": " ".join(self.flags),
                "layout_seed": -1 if self.layout_seed is None else self.layout_seed}


def _key(*parts: object) -> str:
    h = hashlib.sha256()
    for part in (_tree_digest(), compiler()[1], *parts):
        h.update(repr(part).encode())
    return h.hexdigest()[:16]


def _layout(seed: int, sources: list[Path]) -> tuple[list[Path | None], str, int]:
    """A layout variant: link order (None marks the padding object), the
    function alignment and the padding's size, all drawn from `seed`."""
    rng = random.Random(seed)
    pad_bytes = rng.randrange(0, 4096)
    order: list[Path | None] = list(sources)
    rng.shuffle(order)
    order.insert(rng.randrange(len(order) + 1), None)
    return order, f"-falign-functions={rng.choice(LAYOUT_ALIGNS)}", pad_bytes


@contextmanager
def _locked(out: Path):
    """Hold ``out``'s build lock; yields True when it still has to be made.

    A file already there is complete (every build is renamed into place
    whole), so that case yields False without taking the lock.
    """
    if out.exists():
        yield False
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / (out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield not out.exists()


def _run_cc(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise BuildError(f"building {what} failed", " ".join(cmd), proc.stderr)


#: what makes a source depend on the design an engine is built for.
_DESIGN_MARKERS = ("FRAG_DESIGN", "FRAG_OPS", "design_direct.h", "wl_common.h")
#: what makes a source call the design directly (csrc/include/design_direct.h)
#: without containing design code: compiled once, renamed per design.
_DIRECT_MARKERS = ("design_direct.h", "wl_common.h")
#: the design symbols design_direct.h refers to without -DFRAG_DESIGN, and
#: what they become for design ``d``.
_GENERIC = "frag_design"
_ENTRY_POINTS = ("init", "alloc", "free", "drain", "prepare", "commit")


def _renames(cid: str) -> list[str]:
    """``objcopy --redefine-sym`` arguments: generic names -> design ``cid``'s."""
    pairs = [(f"{_GENERIC}_{e}", f"{cid}_{e}") for e in _ENTRY_POINTS]
    pairs.append((f"frag_ops_{_GENERIC}", f"frag_ops_{cid}"))
    return [f"--redefine-sym={a}={b}" for a, b in pairs]


@lru_cache(maxsize=None)
def _objcopy() -> str | None:
    return shutil.which("objcopy")


@lru_cache(maxsize=None)
def _unit_text(src: Path) -> str:
    """`src` and every project header it includes, directly or not."""
    seen, todo, text = set(), [src], []
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        body = path.read_text()
        text.append(body)
        for inc in re.findall(r'#include "([^"]+)"', body):
            todo += [CSRC / "include" / inc, path.parent / inc]
    return "\n".join(text)


@lru_cache(maxsize=None)
def _design_agnostic(src: Path) -> bool:
    """True when neither `src` nor a header it includes names the design:
    its object is then the same for every design and is shared."""
    text = _unit_text(src)
    return not any(m in text for m in _DESIGN_MARKERS)


@lru_cache(maxsize=None)
def _calls_design(src: Path) -> bool:
    """True when `src` reaches the design only through design_direct.h (a
    workload or the engine's main), not a design's own code."""
    if src.name.startswith("design_"):
        return False
    text = src.read_text()
    return any(f'#include "{m}"' in text for m in _DIRECT_MARKERS)


@lru_cache(maxsize=None)
def _named_macros(src: Path, flags: tuple[str, ...]) -> tuple[str, ...]:
    """`flags` less each ``-DFRAG_NAME[=v]`` that no file of `src`'s unit
    mentions: it cannot change the object, so objects with and without it
    are one (a slowdown build then recompiles only what calls the design).
    Only the project's own ``FRAG_`` macros: a system header may read any
    other (``NDEBUG``, ``_GNU_SOURCE``)."""
    text = _unit_text(src)
    return tuple(f for f in flags if not f.startswith("-DFRAG_")
                 or re.search(rf"\b{re.escape(f[2:].split('=', 1)[0])}\b", text))


def _object(src: Path, flags: tuple[str, ...]) -> Path:
    """Compile one source to an object, cached by tree, compiler and flags.

    Every engine is a link of these: a layout is a relink in another order
    with its padding object, so a comparison can afford many layouts (the
    between-build variance is what limits it), and a source that does not
    depend on the design is compiled once for all designs.
    """
    flags = _named_macros(src, flags)
    design = [f for f in flags if f.startswith("-DFRAG_DESIGN=")]
    if _design_agnostic(src):
        flags = tuple(f for f in flags if f not in design)
    elif design and _calls_design(src) and _objcopy():
        # The workloads are most of the compile time and the same code for
        # every design: compile once without the design, rename per design.
        generic = _object(src, tuple(f for f in flags if f not in design))
        out = build_root() / "obj" / _key("object", src.name, flags) / (src.stem + ".o")
        with _locked(out) as todo:
            if todo:
                cid = design[0][len("-DFRAG_DESIGN="):]
                with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
                    tmp_out = Path(tmp) / out.name
                    _run_cc([_objcopy(), *_renames(cid), str(generic), str(tmp_out)],
                            out.name)
                    os.replace(tmp_out, out)
        return out
    out = build_root() / "obj" / _key("object", src.name, flags) / (src.stem + ".o")
    with _locked(out) as todo:
        if todo:
            with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
                tmp_out = Path(tmp) / out.name
                _run_cc([compiler()[0], *flags, f"-I{CSRC / 'include'}", "-c",
                         str(src), "-o", str(tmp_out)], out.name)
                os.replace(tmp_out, out)
    return out


#: how a layout's padding is made; part of a layout build's key, so a change
#: of it never reuses engines padded the old way.
_PAD_METHOD = "asm-skip-1"


def _pad_asm(seed: int, pad_bytes: int, align: str) -> str:
    """Assembly of a layout's padding object: `pad_bytes` of nops in a function
    aligned as the layout's other functions (``-falign-functions=N``), placed
    in the link order like any object, so the code after it moves; and the
    seed, which the engine prints."""
    n = int(align.rsplit("=", 1)[1])
    return ("# generated: moves the code after it by a random amount\n"
            "\t.section .rodata\n\t.p2align 2\n"
            "\t.globl frag_layout_seed\n\t.type frag_layout_seed, @object\n"
            "\t.size frag_layout_seed, 4\n"
            f"frag_layout_seed:\n\t.long {int(seed)}\n"
            f"\t.text\n\t.p2align {n.bit_length() - 1}\n"
            "\t.globl frag_layout_pad\n\t.type frag_layout_pad, @function\n"
            f"frag_layout_pad:\n\t.skip {int(pad_bytes)}, 0x90\n\tret\n"
            "\t.size frag_layout_pad, .-frag_layout_pad\n"
            '\t.section .note.GNU-stack,"",@progbits\n')


def _compile(out: Path, sources: list[Path], flags: tuple[str, ...],
             layout_seed: int | None = None, *, objects: bool = True) -> None:
    cc = compiler()[0]
    with _locked(out) as todo:
        if not todo:
            return
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            tmp_out = Path(tmp) / out.name
            if not objects:
                _run_cc([cc, *flags, f"-I{CSRC / 'include'}", *map(str, sources),
                         "-o", str(tmp_out)], out.name)
            elif layout_seed is None:
                objs = [_object(src, flags) for src in sources]
                _run_cc([cc, *flags, *map(str, objs), "-o", str(tmp_out)], out.name)
            else:
                order, align, pad_bytes = _layout(layout_seed, sources)
                oflags = (*flags, align)
                # The padding is assembly the link command assembles itself:
                # one compiler driver per layout instead of two (cc1 on a C
                # pad cost 30 of the 100 ms a layout took).
                pad = Path(tmp) / "layout_pad.s"
                pad.write_text(_pad_asm(layout_seed, pad_bytes, align))
                objs = [pad if src is None else _object(src, oflags) for src in order]
                _run_cc([cc, *oflags, *map(str, objs), "-o", str(tmp_out)], out.name)
            os.replace(tmp_out, out)


def build_engine(design: str, *, layout_seed: int | None = None, stats: bool = False,
                 extra_flags: tuple[str, ...] = ()) -> BuildInfo:
    """Build (or reuse) the engine executable for one design.

    Parameters
    ----------
    design : str
        A registered design name.
    layout_seed : int, optional
        Build a layout variant (see module docstring); None = canonical.
    stats : bool
        Compile the per-cache statistics in (-DFRAG_STATS). Timed runs
        leave them out so the fast path pays nothing.
    extra_flags : tuple of str
        More compiler flags (e.g. ``-DFRAG_SLOWDOWN=8``).

    Returns
    -------
    BuildInfo
    """
    cid = _design_source(design)[0]
    if layout_seed is not None and (not isinstance(layout_seed, int) or layout_seed < 0):
        from .exceptions import ParameterError
        raise ParameterError("layout_seed", layout_seed, "a non-negative integer or None")
    flags = (*BASE_FLAGS, f"-DFRAG_DESIGN={cid}",
             *(("-DFRAG_STATS",) if stats else ()), *extra_flags)
    key = _key("engine", design, flags, layout_seed,
               *((_PAD_METHOD,) if layout_seed is not None else ()))
    out = build_root() / key / f"fraglib-engine-{design}"
    if not out.exists():
        _compile(out, _engine_sources(design), flags, layout_seed)
    return BuildInfo(out, key, source_hash(), compiler()[1], flags, layout_seed)


def build_library() -> BuildInfo:
    """Build (or reuse) ``libfraglib.so`` with every design, stats and checks on."""
    flags = (*BASE_FLAGS, *LIBRARY_FLAGS)
    key = _key("library", flags)
    out = build_root() / key / "libfraglib.so"
    if not out.exists():
        _compile(out, _library_sources(), flags, objects=False)
    return BuildInfo(out, key, source_hash(), compiler()[1], flags, None)


def build_all(*, stats: bool = True, jobs: int | None = None) -> list[BuildInfo]:
    """Build the library and every design's engine (timed and stats builds)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [(d, False) for d in design_sources()]
    if stats:
        todo += [(d, True) for d in design_sources()]
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        lib = pool.submit(build_library)
        engines = list(pool.map(lambda t: build_engine(t[0], stats=t[1]), todo))
    return [lib.result(), *engines]
