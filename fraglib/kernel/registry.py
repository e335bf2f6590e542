"""Kernel designs: extract, compile against the shim, register.

A kernel design is one revision (plus patches) of a tree's page_frag
code, compiled with the shim (csrc/kshim) and a generation's adapter into
one C file that exports an ops table, like every design_<name>.c. The file
is cached under ``<build root>/kernel/src/<hash>/`` by the hash of its
text; the registry (``<build root>/kernel/registry.json``) maps a name to
that file and to its provenance. ``kernel:NAME`` is then a design name
everywhere: engines (``_build.build_engine``), in-process caches (a small
library linked against libfraglib.so that only adds the design's box
constructor) and comparisons.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from .._build import BASE_FLAGS, CSRC, LIBRARY_FLAGS, build_library, build_root, compiler
from ..exceptions import ParameterError, UnknownNameError
from .errors import (KernelCompileError, KernelFileMissingError,
                     KernelFunctionMissingError, UnknownGenerationError)
from .extract import Extracted, extract
from .generations import GENERATIONS, detect
from .source import Patch, read_files
from .sourcesets import SOURCE_SETS, get_source_set

__all__ = ["PREFIX", "add", "kernel_version", "entries", "entry", "remove", "engine_source",
           "design_functions", "library_path", "SOURCES", "HEADERS"]

PREFIX = "kernel:"
#: where the page_frag functions live, newest layout first.
SOURCES = SOURCE_SETS["page_frag"].sources
#: headers with struct page_frag_cache, its sizes and inline helpers.
HEADERS = SOURCE_SETS["page_frag"].headers
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
#: the top Makefile: its VERSION and PATCHLEVEL name the release at a rev.
MAKEFILE = "Makefile"
_MAKEVAR = re.compile(r"^(VERSION|PATCHLEVEL)\s*=\s*(\d+)\s*$", re.M)


def kernel_version(makefile: str | None) -> tuple[int, int] | None:
    """``(VERSION, PATCHLEVEL)`` of a tree's top Makefile, None if it has none.

    The rx workload routes small heads by release (csrc/kversion.c), so a
    kernel design carries the release of the revision it was read from.
    """
    found = dict(_MAKEVAR.findall(makefile or ""))
    if "VERSION" not in found or "PATCHLEVEL" not in found:
        return None
    return int(found["VERSION"]), int(found["PATCHLEVEL"])


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _root() -> Path:
    """``$FRAGLIB_KERNEL_DIR``, else ``<build root>/kernel``: registry,
    generated sources and their in-process libraries."""
    env = os.environ.get("FRAGLIB_KERNEL_DIR")
    return Path(env) if env else build_root() / "kernel"


def _registry_path() -> Path:
    return _root() / "registry.json"


@contextmanager
def _locked_registry():
    _root().mkdir(parents=True, exist_ok=True)
    with open(_root() / "registry.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reg = entries()
        yield reg
        tmp = _registry_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(reg, indent=1, sort_keys=True))
        os.replace(tmp, _registry_path())


def entries() -> dict:
    """Every registered kernel design: name -> its record (provenance included)."""
    p = _registry_path()
    return json.loads(p.read_text()) if p.exists() else {}


def _bare(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def entry(name: str) -> dict:
    """The record of ``name`` (``kernel:NAME`` or ``NAME``); UnknownNameError if none."""
    reg = entries()
    try:
        return reg[_bare(name)]
    except KeyError:
        raise UnknownNameError("design", name, [PREFIX + n for n in reg]) from None


def remove(name: str) -> dict:
    """Unregister ``name``; its cached sources and builds stay (content-addressed)."""
    with _locked_registry() as reg:
        if _bare(name) not in reg:
            raise UnknownNameError("design", name, [PREFIX + n for n in reg])
        return reg.pop(_bare(name))


def _prototype(f, entries) -> str:
    """A function's prototype with the attributes of its place: static as
    written; exported and stood for by an adapter entry point
    (``Generation.inlined``): inlined into it; any other exported function:
    noipa (a call across translation units)."""
    if f.static:
        return f.prototype
    if f.name in entries:
        return "__attribute__((always_inline)) inline " + f.prototype
    return "__attribute__((noipa)) " + f.prototype


def _kver_entry(name: str, rev: str, version) -> str:
    """The generated source's ``frag_kver_generated`` (csrc/kversion.c): the
    release its engine routes rx heads by; none when the tree names none."""
    if version is None:
        return ("/* the tree's Makefile names no release: rx needs small_heads= */\n")
    why = json.dumps(f"VERSION/PATCHLEVEL of the Makefile at {rev}")
    return (f"#ifndef FRAG_KSHIM_LIBRARY\n"
            f"const struct frag_kver frag_kver_generated = {{\n"
            f"\t\"{PREFIX}{name}\", FRAG_KVER({version[0]}, {version[1]}),\n\t{why}\n}};\n"
            f"#endif\n")


def _generate(name: str, tree, rev, patches, found: Extracted, files,
              source_set: str = "page_frag") -> tuple[str, dict]:
    sset = SOURCE_SETS[source_set]
    structs = {n: s.fields for n, s in found.structs.items()}
    gen = detect(structs, found.functions, source_set)
    if gen is None:
        what = (", ".join(f"struct {n} members {sorted(f)}" for n, f in structs.items())
                + f" and functions {sorted(found.functions)}" if structs else
                "no struct " + " or ".join(sset.structs))
        raise UnknownGenerationError(tree, rev, what, [g.name for g in GENERATIONS
                                                       if g.source_set == source_set])
    src = next(p for p in sset.sources if p in files)
    fn = gen.missing(found.functions)
    if fn is not None:
        raise KernelFunctionMissingError(tree, rev, fn, gen.name, src)
    calls = gen.calls(found.functions)
    entry_fn = calls["entry"]
    entries = gen.inlined(found.functions)
    mirrors = f"{Path(str(tree)).name}@{rev}" + (
        f" + {len(patches)} patch(es)" if patches else "") + f", generation {gen.name}"
    parts = ["// SPDX-License-Identifier: GPL-2.0-only",
             f"/* generated by fraglib.kernel from {mirrors}: do not edit */",
             '#include "../kshim/kshim.h"', "",
             "/* ---- macros ---- */", *(m.text for m in found.macros.values()),
             "/* ---- types ---- */", *(s.text for s in found.structs.values()),
             "/* ---- prototypes ---- */",
             "/*\n * Exported functions are called from other translation units in the",
             " * kernel, so never inlined into or specialised for their callers:",
             " * noipa keeps them so here.  Where the adapter's entry points stand",
             " * for exported functions (ops->alloc is __page_frag_alloc_align), those",
             " * are inlined into them: the engine calls the entry points across",
             " * translation units, so the call the kernel makes is made once, as",
             " * the built-in designs make it, with no adapter hop.\n */",
             *(_prototype(f, entries) for f in found.functions.values()),
             "/* ---- functions ---- */"]
    for f in found.functions.values():
        parts.append(f"/* {f.path} */\n{f.text}")
    parts.append(gen.adapter("{cid}", found.functions))
    parts.append(_kver_entry(name, rev, kernel_version(files.get(MAKEFILE))))
    parts.append(f"""
_Static_assert(sizeof(struct {gen.cache_struct}) <= FRAG_CACHE_STORAGE, "fits the box");

const struct frag_ops frag_ops_{{cid}} = {{
	.name		= "{PREFIX}{name}",
	.mirrors	= {json.dumps(mirrors)},
	.struct_size	= sizeof(struct {gen.cache_struct}),
	.caps		= {gen.caps()},
	.max_frag	= 0,
	.init		= {{cid}}_init,
	.alloc		= {{cid}}_alloc,
	.free		= {{cid}}_free,
	.drain		= {{cid}}_drain,
	.inspect	= {{cid}}_inspect,
{gen.ops_entries("{cid}")}}};

#ifdef FRAG_KSHIM_LIBRARY
/*
 * The in-process library: linked against libfraglib.so, it only adds the
 * constructor of this design's box and a one-design registry; every other
 * call (alloc, free, the page model) resolves to libfraglib.so.
 */
struct frag_box *fraglib_cache_new(const char *design)
{{
	struct frag_box *box;

	if (strcmp(design, frag_ops_{{cid}}.name) || !frag_pages_ready())
		return NULL;
	if (posix_memalign((void **)&box, 64, sizeof(*box)))
		return NULL;
	memset(box, 0, sizeof(*box));
	box->ops = &frag_ops_{{cid}};
	box->ops->init(box->cache);
	return box;
}}

int fraglib_ndesigns(void)
{{
	return 1;
}}

const struct frag_ops *fraglib_design_at(int i)
{{
	return i == 0 ? &frag_ops_{{cid}} : NULL;
}}
#endif
""")
    template = "\n".join(parts)
    cid = "kernel_" + hashlib.sha256(template.encode()).hexdigest()[:12]
    text = template.replace("{cid}", cid)
    info = {"generation": gen.name, "generation_kernels": gen.kernels,
            "source_set": source_set,
            "builtin": gen.builtin, "entry": entry_fn, "calls": calls, "cid": cid,
            "functions": list(found.functions), "structs": list(found.structs),
            "macros": list(found.macros),
            "files": {p: f.path for p, f in found.functions.items()},
            # which functions a patch touched: compare these between records
            "function_hashes": {p: hashlib.sha256(f.text.encode()).hexdigest()[:16]
                                for p, f in found.functions.items()}}
    return text, info


def _function_at_fault(stderr: str, functions) -> str | None:
    m = re.search(r"In function [‘'`]([A-Za-z_]\w*)[’'`]", stderr)
    if m:
        return m.group(1)
    return next(iter(functions), None)


def _compile_library(src: Path, out: Path, tree, rev, functions) -> None:
    """Compile the design's in-process library (checks the extracted code)."""
    lib = build_library().path.resolve()
    cmd = [compiler()[0], *BASE_FLAGS, *LIBRARY_FLAGS, "-DFRAG_KSHIM_LIBRARY",
           f"-I{CSRC / 'include'}", str(src), "-o", str(out), "-Wl,--no-as-needed", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise KernelCompileError(tree, rev, _function_at_fault(proc.stderr, functions),
                                 proc.stderr)


def _library(src: Path, cid: str, tree="?", rev="?", functions=()) -> Path:
    """The in-process library of a generated source, built once per source
    and libfraglib.so (it links against that very file)."""
    key = hashlib.sha256(src.read_bytes() + build_library().key.encode()).hexdigest()[:16]
    out = _root() / "lib" / key / f"lib{cid}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out.parent / "build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not out.exists():
                with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
                    t = Path(tmp) / out.name
                    _compile_library(src, t, tree, rev, functions)
                    os.replace(t, out)
    except KernelCompileError:
        # nothing half-made stays: the key's directory held only the lock
        shutil.rmtree(out.parent, ignore_errors=True)
        raise
    return out


def add(name: str, tree, rev: str, patches=(), *, source: str = "page_frag") -> dict:
    """Extract, compile and register ``kernel:NAME``.

    Parameters
    ----------
    name : str
        The new design is ``kernel:NAME``; letters, digits, ``_.+-``.
    tree : path
        A git repository holding a Linux tree (or kernel-form files).
    rev : str
        The revision to read.
    patches : sequence of path
        Applied in order on top of ``rev`` (``git am`` for mails, ``git
        apply`` for diffs).
    source : str
        Which allocator to read (:data:`fraglib.kernel.sourcesets.SOURCE_SETS`):
        ``page_frag`` (default: the page_frag cache of mm/), or ``sock``
        (net/core/sock.c's ``skb_page_frag_refill()``, the Tx side).

    Returns
    -------
    dict
        The registry record: provenance (tree, rev, commit, patches with
        their sha256), generation, functions, source hash and paths.

    Raises
    ------
    ParameterError
        Bad name; and the KernelError subclasses (not a git tree, unknown
        rev, missing file or function, patch not applying, unknown
        generation, compile error). Nothing is registered then.
    """
    name = _bare(str(name))
    if not _NAME.match(name):
        raise ParameterError("name", name, "1-64 letters, digits or _.+- "
                             "(the design becomes kernel:NAME)")
    plist = []
    for p in patches:
        if not Path(p).is_file():
            raise ParameterError("patch", str(p), "an existing patch file")
        plist.append(Patch.read(p))
    sset = get_source_set(source)
    tf = read_files(tree, rev, sset.sources + sset.headers + (MAKEFILE,), plist)
    src_path = next((p for p in sset.sources if p in tf.files), None)
    if src_path is None:
        raise KernelFileMissingError(tree, rev, list(sset.sources))
    found = Extracted()
    for p in sset.headers + (src_path,):
        if p in tf.files:
            extract(p, tf.files[p], found, functions=sset.functions, macros=sset.macros,
                    structs=sset.structs)
    text, info = _generate(name, tree, rev, plist, found, tf.files, source)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    d = _root() / "src" / digest
    src = d / f"design_{info['cid']}.c"
    with tempfile.TemporaryDirectory(dir=_mkdir(_root())) as tmp:
        t = Path(tmp) / src.name
        t.write_text(text)
        # compile before anything is registered or cached: errors leave nothing
        _library(t, info["cid"], tree, rev, info["functions"])
        d.mkdir(parents=True, exist_ok=True)
        if not src.exists():
            os.replace(t, src)
    version = kernel_version(tf.files.get(MAKEFILE))
    record = {"name": name, "design": PREFIX + name, "tree": str(Path(str(tree)).resolve()),
              "rev": rev, "commit": tf.commit, "source_file": src_path,
              "kernel": None if version is None else list(version),
              "patches": [{"file": Path(p.path).name, "sha256": p.sha256,
                           "kind": "mbox" if p.mbox else "diff"} for p in plist],
              "source_hash": digest, "source": str(src),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **info}
    with _locked_registry() as reg:
        reg[name] = record
    _loaded.cache_clear()
    return record


def engine_source(design: str) -> tuple[str, Path]:
    """``(C identifier, source file)`` of a registered kernel design."""
    rec = entry(design)
    src = Path(rec["source"])
    if not src.exists():
        raise UnknownNameError("design", design, [])
    return rec["cid"], src


def design_functions(design: str) -> tuple[str, ...]:
    """The adapter's entry points a workload calls (for callgrind's toggles):
    ``<cid>_alloc``, ``<cid>_free`` and, for a Part-2 generation,
    ``<cid>_prepare`` and ``<cid>_commit`` (absent ones toggle nothing); the
    kernel's functions are their callees. The same names as
    :func:`fraglib.valgrind.design_functions` gives for ``kernel:NAME``."""
    cid = engine_source(design)[0]
    return tuple(f"{cid}_{op}" for op in ("alloc", "free", "prepare", "commit"))


def library_path(design: str) -> Path:
    """The in-process library of a registered kernel design (built if needed)."""
    cid, src = engine_source(design)
    return _library(src, cid)


@lru_cache(maxsize=None)
def _loaded(path: str):
    from .. import _core
    _core.lib()  # libfraglib.so first: the design's library shares its page model
    return _core.ffi.dlopen(path)


def load_library(design: str):
    """The cffi handle of a kernel design's in-process library."""
    return _loaded(str(library_path(design)))
