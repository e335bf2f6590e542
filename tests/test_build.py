"""Builds are automatic, cached by content, and fail clearly."""

import pytest

from fraglib import _build
from fraglib.exceptions import BuildError, UnknownNameError


def test_engine_is_cached_by_hash():
    a = _build.build_engine("topdown")
    b = _build.build_engine("topdown")
    assert a.path == b.path and a.path.exists()
    assert a.key != _build.build_engine("topdown", stats=True).key


def test_layout_variants_are_distinct_binaries():
    a = _build.build_engine("topdown", layout_seed=1)
    b = _build.build_engine("topdown", layout_seed=2)
    assert a.key != b.key
    assert a.path.read_bytes() != b.path.read_bytes()
    assert a.as_dict()["layout_seed"] == 1


def test_a_layout_pads_with_its_own_size_alignment_and_seed():
    import subprocess

    seed = 12345
    info = _build.build_engine("topdown", layout_seed=seed)
    _, align, pad_bytes = _build._layout(seed, _build._engine_sources("topdown"))
    syms = {f[3]: (int(f[0], 16), int(f[1], 16)) for f in (
        line.split() for line in subprocess.run(
            ["nm", "-S", str(info.path)], capture_output=True, text=True,
            check=True).stdout.splitlines()) if len(f) == 4}
    addr, size = syms["frag_layout_pad"]
    assert size == pad_bytes + 1                # the nops and a ret
    assert addr % int(align.split("=")[1]) == 0
    at, n = syms["frag_layout_seed"]
    dump = subprocess.run(["objdump", "-s", "-j", ".rodata", f"--start-address={at}",
                           f"--stop-address={at + n}", str(info.path)],
                          capture_output=True, text=True, check=True).stdout
    word = dump.strip().splitlines()[-1].split()[1]
    assert int.from_bytes(bytes.fromhex(word), "little") == seed


def test_unknown_design_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="design.*topdown"):
        _build.build_engine("nope")


def test_missing_compiler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("PATH", str(tmp_path))
    _build.compiler.cache_clear()
    try:
        with pytest.raises(BuildError, match="install"):
            _build.compiler()
    finally:
        _build.compiler.cache_clear()


def test_build_failure_carries_compiler_output(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGLIB_BUILD_DIR", str(tmp_path))
    with pytest.raises(BuildError, match="failed") as e:
        _build.build_engine("topdown", extra_flags=("-DFRAG_DESIGN_BROKEN", "-include",
                                                   "no/such/header.h"))
    assert "no/such/header.h" in str(e.value)
    assert not list(tmp_path.rglob("fraglib-engine-topdown"))


def _disassembly(path, how="-d"):
    import subprocess
    out = subprocess.run(["objdump", how, "--no-show-raw-insn", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split("\n", 3)[3]          # drop the file name line


@pytest.mark.skipif(not _build._objcopy(), reason="needs binutils' objcopy and objdump")
def test_workloads_compile_once_for_every_design_with_the_same_code(tmp_path, monkeypatch):
    # The workloads are compiled without -DFRAG_DESIGN and their references
    # renamed per design; the engine must be the very machine code a build
    # compiled for the design gives (here: one gcc call over all sources).
    monkeypatch.setenv("FRAGLIB_BUILD_DIR", str(tmp_path))
    calls = []
    real = _build._run_cc
    monkeypatch.setattr(_build, "_run_cc", lambda cmd, what: (calls.append(cmd),
                                                               real(cmd, what)))
    top = _build.build_engine("topdown")
    _build.build_engine("bottomup")
    compiled = [c[c.index("-c") + 1] for c in calls if "-c" in c]
    wl = [s for s in compiled if "/wl_" in s or s.endswith("engine.c")]
    assert sorted(wl) == sorted(set(wl)) and len(wl) >= 5      # once each, not per design
    assert sum(1 for c in calls if c[0] == _build._objcopy()) == 2 * len(wl)

    # each renamed object is the very object a compile for the design gives:
    # the same instructions and the same relocations (the design's symbols)
    flags = (*_build.BASE_FLAGS, "-DFRAG_DESIGN=topdown")
    for name in ("wl_fastpath.c", "engine.c"):
        src = _build.CSRC / name
        direct = tmp_path / "direct" / f"{src.stem}.o"
        direct.parent.mkdir(exist_ok=True)
        real([_build.compiler()[0], *flags, f"-I{_build.CSRC / 'include'}", "-c", str(src),
              "-o", str(direct)], name)
        renamed = _build._object(src, flags)
        assert _disassembly(renamed, "-dr") == _disassembly(direct, "-dr"), name
        assert "topdown_" in _disassembly(renamed, "-dr")
    assert calls_in(_disassembly(top.path))


def calls_in(text):
    return [ln.split("call")[-1].split("<")[-1] for ln in text.splitlines()
            if "\tcall" in ln and "topdown_" in ln]


def test_a_macro_no_file_of_a_source_names_does_not_recompile_it():
    slow = ("-DFRAG_SLOWDOWN=24",)
    page, loop = _build.CSRC / "page.c", _build.CSRC / "wl_fastpath.c"
    assert _build._named_macros(page, (*_build.BASE_FLAGS, *slow)) == _build.BASE_FLAGS
    assert _build._named_macros(loop, (*_build.BASE_FLAGS, *slow))[-1] == slow[0]
    # system headers may read any other macro: those are always kept
    assert _build._named_macros(page, ("-DNDEBUG", "-O2")) == ("-DNDEBUG", "-O2")
    assert _build._object(page, (*_build.BASE_FLAGS, *slow)) == \
        _build._object(page, _build.BASE_FLAGS)
    assert _build._object(loop, (*_build.BASE_FLAGS, *slow)) != \
        _build._object(loop, _build.BASE_FLAGS)
