"""Kernel designs: a tree's page_frag code, extracted and compiled with the shim.

No kernel source: the trees are built here from tests/kernel_forms.py, a
v6.9-form tree (page_alloc.c, struct with va), a 6.13-form tree
(page_frag_cache.c, encoded page) and a Part-2 form (the series'
prepare/commit on 6.13), committed to a git repo in tmp_path.
"""

import os
import random
import shutil
from pathlib import Path

import pytest

import kernel_forms as K  # noqa: E402  (tests/ is on sys.path)
from fraglib import kernel
from fraglib.cache import FragCache, PageModel, check_page_model, drain_pcp, init_page_model
from fraglib.designs import CAP_PREPARE, get_design
from fraglib.exceptions import FraglibError, ParameterError, UnknownNameError


@pytest.fixture(scope="module")
def kdir(tmp_path_factory):
    """A private kernel registry for the module, and the test tree."""
    root = tmp_path_factory.mktemp("kernel")
    old = os.environ.get("FRAGLIB_KERNEL_DIR")
    os.environ["FRAGLIB_KERNEL_DIR"] = str(root / "reg")
    yield root
    if old is None:
        os.environ.pop("FRAGLIB_KERNEL_DIR", None)
    else:
        os.environ["FRAGLIB_KERNEL_DIR"] = old


@pytest.fixture(scope="module")
def repo(kdir):
    return K.make_repo(kdir / "linux")


@pytest.fixture(scope="module")
def registered(repo):
    return {"v69": kernel.add("v69", repo, "v6.9"), "v613": kernel.add("v613", repo, "v6.13"),
            "p2": kernel.add("p2", repo, "part2"),
            "sock": kernel.add("sock", repo, "sock", source="sock")}


def _trace(design, seed, steps=400, prep=False):
    """Run one random request sequence; return what every step showed.

    Addresses are written as (page number in order of first sight, offset
    in the page): a re-made page model may map its arena elsewhere, so raw
    addresses differ between runs while the page sequence must not.  With
    ``prep`` the sequence also has prepares, committed with a reference (a
    new fragment) or without (coalesced: nothing to free).
    """
    init_page_model(8, high_order_fail=0.25, pfmemalloc_rate=0.1, seed=seed)
    rng = random.Random(seed)
    c = FragCache(design)
    live, out = [], []
    pages = {}

    def where(addr):
        if not addr:
            return None
        off = c.offset_of(addr)
        return pages.setdefault(addr - off, len(pages)), off

    for _ in range(steps):
        r = rng.random()
        if prep and rng.random() < 0.4:
            size, align = rng.randint(1, 4096), 1 << rng.randint(0, 8)
            p = c.prepare(size, align)
            if p is None:
                step = ("prepare", size, align, None)
            else:
                used, ref = rng.randint(1, min(p[2], 8192)), rng.random() < 0.7
                a = c.commit(p, used, ref=ref)
                if ref:
                    live.append(a)
                step = ("prepare", size, align, where(p[0]), p[1], p[2], used, ref,
                        a == p[0], c.refcount(a))
        elif r < 0.6 or not live:
            size, align = rng.choice((rng.randint(1, 4096), rng.randint(1, 512))), \
                1 << rng.randint(0, 8)
            a = c.alloc(size, align)
            if a is not None:
                live.append(a)
            step = ("alloc", size, align, where(a), None if a is None else c.refcount(a))
        elif r < 0.97:
            a = live.pop(rng.randrange(len(live)))
            step = ("free", where(a))
            c.free(a)
        else:
            c.drain()
            step = ("drain",)
        s = c.state()
        out.append(step + (where(s.va), s.offset, s.size, s.bias, s.pfmemalloc, s.order))
    for a in live:
        c.free(a)
    c.drain()
    c.close()
    drain_pcp()
    assert PageModel.read().pages_in_use == 0
    check_page_model()
    return out


def test_generations_detected(registered):
    assert registered["v69"]["generation"] == "va"
    assert registered["v613"]["generation"] == "encoded"
    assert registered["p2"]["generation"] == "part2"
    # the series' public names are preferred where the revision has them
    assert registered["p2"]["calls"] == {
        "entry": "__page_frag_alloc_align",
        "prepare": "__page_frag_alloc_refill_prepare_align",
        "commit": "page_frag_refill_commit",
        "commit_noref": "page_frag_refill_commit_noref"}
    assert "prepare" not in registered["v613"]["calls"]
    assert get_design("kernel:p2").caps & CAP_PREPARE
    assert not get_design("kernel:v613").caps & CAP_PREPARE
    assert "page_frag" in registered["p2"]["structs"]
    # where asked, sock.c's refill alone (sk_page_frag_refill needs a socket)
    assert registered["sock"]["generation"] == "sock"
    assert registered["sock"]["functions"] == ["skb_page_frag_refill"]
    assert registered["sock"]["macros"] == ["SKB_FRAG_PAGE_ORDER"]
    assert registered["sock"]["source_file"] == "net/core/sock.c"
    assert get_design("kernel:sock").struct_size == get_design("sockfrag").struct_size == 16
    with pytest.raises(ParameterError, match="source"):
        kernel.add("x", registered["sock"]["tree"], "sock", source="skbuff")
    with pytest.raises(kernel.KernelFileMissingError, match="net/core/sock.c"):
        kernel.add("x", registered["sock"]["tree"], "v6.9", source="sock")
    # the release comes from the Makefile at the rev
    assert get_design("kernel:v69").kernel == (6, 9)
    assert get_design("kernel:p2").kernel == (6, 13)
    assert registered["v69"]["source_file"] == "mm/page_alloc.c"
    assert registered["v613"]["source_file"] == "mm/page_frag_cache.c"
    # picked by name, with a parser: the unrelated helper and struct stay out
    assert "unrelated_helper" not in registered["v69"]["functions"]
    assert registered["v69"]["structs"] == ["page_frag_cache"]
    assert set(registered["v69"]["macros"]) == {"PAGE_FRAG_CACHE_MAX_SIZE",
                                                "PAGE_FRAG_CACHE_MAX_ORDER"}
    assert get_design("kernel:v69").struct_size == get_design("topdown").struct_size == 24
    assert get_design("kernel:v613").struct_size == get_design("encoded").struct_size == 16


@pytest.mark.parametrize("name,builtin", [("v69", "topdown"), ("v613", "encoded"),
                                          ("p2", "part2"), ("sock", "sockfrag")])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_traces_match_builtin(registered, name, builtin, seed):
    assert registered[name]["builtin"] == builtin
    prep = bool(get_design(f"kernel:{name}").caps & CAP_PREPARE)
    got, want = _trace(f"kernel:{name}", seed, prep=prep), _trace(builtin, seed, prep=prep)
    assert got == want
    # the sequence exercised the interesting paths
    vas = {t[-6] for t in got}
    assert len(vas) > 2, "no refill happened"
    if prep:
        kinds = {(t[0], t[7]) for t in got if t[0] == "prepare" and t[3] is not None}
        assert kinds == {("prepare", True), ("prepare", False)}, "ref and noref commits"


def test_part2_tx_uses_prepare_commit(registered):
    """tx on kernel:p2 goes through the revision's prepare/commit, and copies,
    coalesces and takes pages exactly as the built-in part2 does."""
    import fraglib

    keys = ("prepare_commit", "chunks", "merged_chunks", "frags_allocated",
            "pages_taken", "alloc_calls")
    got, want = (fraglib.run(d, "tx", packets=1024, store=False).metrics
                 for d in ("kernel:p2", "part2"))
    assert got["prepare_commit"] == 1
    assert got["merged_chunks"] > 0, "no commit without a reference happened"
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys}


def test_rx_small_heads_follow_the_release_at_the_rev(registered, repo, tmp_path):
    """rx routes small heads by the release of the Makefile at the rev
    (csrc/kversion.c's rule): 6.9 and 6.13 slice, 6.14 kmallocs again, and a
    tree without a release asks for small_heads explicitly."""
    from fraglib.workloads import design_small_heads, validate_params

    assert design_small_heads("kernel:v69") == "slicer1k"
    assert design_small_heads("kernel:p2") == "slicer1k"
    assert validate_params("rx", {}, design="kernel:v613")["small_heads"] == "slicer1k"
    p614 = _patched(repo, tmp_path / "a", "PATCHLEVEL = 9", "PATCHLEVEL = 14", path="Makefile")
    assert kernel.add("v614", repo, "v6.9", [p614])["kernel"] == [6, 14]
    assert design_small_heads("kernel:v614") == "kmalloc"
    bare = _patched(repo, tmp_path / "b", "VERSION = 6\n", "", path="Makefile")
    assert kernel.add("nover", repo, "v6.9", [bare])["kernel"] is None
    assert design_small_heads("kernel:nover") is None
    with pytest.raises(ParameterError, match="small_heads"):
        validate_params("rx", {}, design="kernel:nover")
    assert validate_params("rx", {"small_heads": "kmalloc"},
                           design="kernel:nover")["small_heads"] == "kmalloc"


def test_design_functions_and_code_size_route_kernel_names(registered):
    """callgrind's toggles and the code-size table name the functions the
    kernel design compiled (its source's C identifier), not ``kernel:NAME_*``."""
    from fraglib.codesize import code_size
    from fraglib.valgrind import design_functions

    cid = registered["v69"]["cid"]
    assert design_functions("kernel:v69") == kernel.design_functions("kernel:v69") == tuple(
        f"{cid}_{op}" for op in ("alloc", "free", "prepare", "commit"))
    cs = code_size("kernel:v69")
    # the revision's exported alloc is inlined into the adapter's entry point
    # (one call from the engine, as for a built-in design); its static
    # slow path stays out of line and is counted with it
    assert cs["helpers"] == ["__page_frag_cache_refill"]
    assert cs["alloc"] == (cs["functions"][f"{cid}_alloc"]
                           + cs["functions"]["__page_frag_cache_refill"])
    assert cs["prepare"] is None
    assert code_size("kernel:p2")["prepare"] > 0


def test_registry_list_show_rm(registered, repo):
    rec = kernel.entry("kernel:v69")
    assert rec["commit"] and rec["tree"] == str(Path(repo).resolve())
    assert rec["patches"] == []
    kernel.add("tmp", repo, "v6.9")
    assert "tmp" in kernel.entries()
    kernel.remove("kernel:tmp")
    assert "tmp" not in kernel.entries()
    with pytest.raises(UnknownNameError):
        get_design("kernel:tmp")
    with pytest.raises(UnknownNameError):
        kernel.remove("tmp")


def _patched(repo, tmp_path, old, new, path="mm/page_alloc.c", mbox=False):
    """A patch of ``path`` at v6.9 replacing ``old`` by ``new`` (diff or mail)."""
    wt = tmp_path / "wt"
    K.git(repo, "worktree", "add", "--detach", str(wt), "v6.9")
    f = wt / path
    f.write_text(f.read_text().replace(old, new, 1))
    if mbox:
        K.git(wt, "commit", "-qam", "mm: page_frag: a test change")
        K.git(wt, "format-patch", "-1", "-o", str(tmp_path / "mail"))
        patch = next((tmp_path / "mail").glob("*.patch"))
    else:
        import subprocess
        diff = subprocess.run(["git", "-C", str(wt), "diff"], capture_output=True,
                              text=True, check=True).stdout
        patch = tmp_path / "change.diff"
        patch.write_text(diff)
    K.git(repo, "worktree", "remove", "--force", str(wt))
    return patch


NOP = "\tnc->pagecnt_bias--;\n\toffset &= align_mask;"
FREE = "void page_frag_free(void *addr)\n{\n"


def _snapshot():
    root = Path(os.environ["FRAGLIB_KERNEL_DIR"])
    return kernel.entries(), sorted(root.glob("src/*/*")), sorted(root.glob("lib/*"))


def _nothing_left(before):
    assert _snapshot() == before


@pytest.mark.parametrize("mbox", [False, True])
def test_patch_provenance(registered, repo, tmp_path, mbox):
    patch = _patched(repo, tmp_path, NOP, '\t__asm__ __volatile__("nop");\n' + NOP,
                     mbox=mbox)
    rec = kernel.add("nop" + ("m" if mbox else "d"), repo, "v6.9", [patch])
    assert rec["patches"][0]["kind"] == ("mbox" if mbox else "diff")
    assert len(rec["patches"][0]["sha256"]) == 64
    assert rec["source_hash"] != registered["v69"]["source_hash"]
    assert '__asm__ __volatile__("nop")' in Path(rec["source"]).read_text()
    # the user's tree is left as it was: no worktree stays behind
    import subprocess
    wts = subprocess.run(["git", "-C", str(repo), "worktree", "list"], capture_output=True,
                         text=True).stdout
    assert len(wts.strip().splitlines()) == 1


def test_errors_name_tree_rev_function(registered, repo, tmp_path):
    before = _snapshot()
    with pytest.raises(kernel.NotAGitTreeError) as e:
        kernel.add("x", tmp_path, "v6.9")
    assert str(tmp_path) in str(e.value)
    _nothing_left(before)
    with pytest.raises(kernel.UnknownRevError, match="v7.0"):
        kernel.add("x", repo, "v7.0")
    _nothing_left(before)

    # a revision without the function the generation needs
    patch = _patched(repo, tmp_path / "a", "void page_frag_free(void *addr)",
                     "void page_frag_free_renamed(void *addr)")
    with pytest.raises(kernel.KernelFunctionMissingError) as e:
        kernel.add("x", repo, "v6.9", [patch])
    assert e.value.what == "page_frag_free" and "v6.9" in str(e.value)
    _nothing_left(before)

    # a patch that does not apply
    bad = tmp_path / "bad.diff"
    bad.write_text(patch.read_text().replace("void page_frag_free(void *addr)",
                                             "void no_such_line(void)"))
    with pytest.raises(kernel.PatchApplyError) as e:
        kernel.add("x", repo, "v6.9", [bad])
    assert e.value.what == str(bad)
    _nothing_left(before)

    # an API generation the shim does not know
    patch = _patched(repo, tmp_path / "b", "\tbool pfmemalloc;\n", "\tbool pfmem;\n",
                     path="include/linux/mm_types.h")
    with pytest.raises(kernel.UnknownGenerationError, match="pfmem"):
        kernel.add("x", repo, "v6.9", [patch])
    _nothing_left(before)

    # a compile error in the extracted code names its function
    patch = _patched(repo, tmp_path / "c", NOP, "\tnc->no_such_field = 1;\n" + NOP)
    with pytest.raises(kernel.KernelCompileError) as e:
        kernel.add("x", repo, "v6.9", [patch])
    assert e.value.function == "__page_frag_alloc_align"
    assert "no_such_field" in str(e.value)
    _nothing_left(before)

    # a revision with neither mm/page_frag_cache.c nor page_alloc.c
    K.git(repo, "checkout", "-q", "--orphan", "empty")
    K.git(repo, "rm", "-rfq", ".")
    (repo / "README").write_text("x")
    K.git(repo, "add", "README")
    K.git(repo, "commit", "-qm", "empty")
    K.git(repo, "checkout", "-qf", "master")
    with pytest.raises(kernel.KernelFileMissingError, match="mm/page_frag_cache.c"):
        kernel.add("x", repo, "empty")
    _nothing_left(before)

    with pytest.raises(ParameterError, match="name"):
        kernel.add("no/slash", repo, "v6.9")
    assert isinstance(kernel.KernelCompileError(repo, "r", "f", "x"), FraglibError)


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")
def test_patch_adds_one_instruction_per_packet(registered, repo, tmp_path):
    from fraglib.valgrind import callgrind_costs

    # The nop goes first in page_frag_free(), where nothing is live around
    # it, so the compiler emits the same code plus the nop (a nop in the
    # middle of the alloc fast path changes register allocation: the count
    # then moves by what the compiler did, not by one).
    patch = _patched(repo, tmp_path, FREE, FREE + '\t__asm__ __volatile__("nop");\n')
    kernel.add("nop1", repo, "v6.9", [patch])
    costs = {}
    for d in ("kernel:v69", "kernel:nop1", "topdown", "kernel:p2", "part2"):
        c = callgrind_costs(d, "fastpath", packets=512, warmup=1, size=256)
        costs[d] = c.totals["Ir"] / c.packets
    assert costs["kernel:nop1"] - costs["kernel:v69"] == pytest.approx(1.0, abs=1e-9)
    # the adapter adds no call of its own: the kernel-form code costs what
    # the built-in costs (an adapter hop was 4-5 instructions per packet) ...
    assert abs(costs["kernel:v69"] - costs["topdown"]) < 1.0
    # ... nor removes one: Part-2's exported prepare and commit stay real
    # calls (inlined, the pair would cost about 40 instructions less)
    assert abs(costs["kernel:p2"] - costs["part2"]) < 2.0


@pytest.mark.slow
def test_run_and_compare_cli(registered, repo, runs_root, small):
    import fraglib
    from fraglib.cli import main

    r = fraglib.run("kernel:v69", "fastpath", **small, store=False)
    assert r.design == "kernel:v69"
    assert main(["kernel", "add", "clisock", "--tree", str(repo), "--rev", "sock",
                 "--source", "sock"]) == 0
    assert kernel.entry("clisock")["generation"] == "sock"
    assert main(["kernel", "list"]) == 0
    assert main(["compare", "kernel:v69", "kernel:v613", "--builds", "1",
                 "--processes", "2", "--no-store", "-p", "packets=2048"]) == 0


@pytest.mark.skipif(not os.environ.get("FRAGLIB_KERNEL_TREE"),
                    reason="FRAGLIB_KERNEL_TREE does not point at a Linux clone")
def test_real_tree_matches_builtins(kdir):
    """A real clone: each REV:BUILTIN of $FRAGLIB_KERNEL_REVS (default
    v6.9:topdown,v6.13:encoded) traces exactly as the built-in design."""
    tree = os.environ["FRAGLIB_KERNEL_TREE"]
    revs = os.environ.get("FRAGLIB_KERNEL_REVS", "v6.9:topdown,v6.13:encoded")
    for i, item in enumerate(revs.split(",")):
        rev, builtin = item.split(":")
        rec = kernel.add(f"real{i}", tree, rev)
        assert rec["builtin"] == builtin
        prep = bool(get_design(f"kernel:real{i}").caps & CAP_PREPARE)
        for seed in (1, 2, 3):
            assert (_trace(f"kernel:real{i}", seed, 2000, prep=prep)
                    == _trace(builtin, seed, 2000, prep=prep))
        if shutil.which("valgrind"):
            from fraglib.valgrind import callgrind_costs
            ir = [callgrind_costs(d, "fastpath", packets=4096, warmup=1, size=256)
                  for d in (f"kernel:real{i}", builtin)]
            per = [c.totals["Ir"] / c.packets for c in ir]
            assert abs(per[0] - per[1]) < 1.0, f"{rev}: {per[0]:.3f} vs {builtin} {per[1]:.3f}"
