"""The workloads do what the kernel does (issue 10, items 1-4), from the kernel text.

* rx: heads with ``len + NET_SKB_PAD + NET_IP_ALIGN <= SKB_WITH_OVERHEAD(1024)``
  never reach page_frag_cache (net/core/skbuff.c ``__napi_alloc_skb()``): kmalloc
  up to 6.2 and from 6.14, ``page_frag_alloc_1k()`` from 6.3 to 6.13.
* tx: ``tcp_sendmsg_locked()`` copies ``min(size_goal - skb->len, left, page
  room)`` per turn, asking ``sk_page_frag_refill()`` for 32 bytes.
* ring: ptr_ring clears consumed slots in batches of 16, last first
  (``__ptr_ring_discard_one()``); page_frag_test waits by spinning.
* rx remote free: ``skb_attempt_defer_free()`` hands heads back to the
  allocating CPU, up to ``sysctl_skb_defer_max``, kicking it at half.

Counts are exact (known answers); nothing here compares timings.
"""

import json
import os
import subprocess

import pytest

from fraglib._build import build_engine, compiler, csrc_dir
from fraglib.exceptions import ParameterError, UnknownNameError
from fraglib.workloads import (DESIGN_KERNEL, RING_PRESETS, design_small_heads,
                               get_workload, kernel_small_heads, ring_preset,
                               validate_params)

CSRC = csrc_dir()
CPUS = sorted(os.sched_getaffinity(0))
TWO = CPUS[:2] if len(CPUS) >= 2 else None


@pytest.fixture(scope="module")
def engine():
    cache = {}

    def get(design):
        if design not in cache:
            cache[design] = build_engine(design, stats=True).path
        return cache[design]
    return get


def run(path, **params):
    args = [str(path), "counters=0", *(f"{k}={v}" for k, v in params.items())]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["pages"]["pages_leaked"] == 0
    return doc


# ---- item 1: rx small heads -------------------------------------------------

#: the three kernels the issue names, and what their __napi_alloc_skb() does
ROUTES = {(6, 1): "kmalloc", (6, 9): "slicer1k", (6, 14): "kmalloc"}


@pytest.mark.parametrize("kernel, route", ROUTES.items())
def test_small_head_route_per_kernel_version(kernel, route):
    assert kernel_small_heads(kernel) == route


def test_slicer_years_are_6_3_to_6_13():
    assert [kernel_small_heads((6, m)) for m in (2, 3, 13, 14)] == \
        ["kmalloc", "slicer1k", "slicer1k", "kmalloc"]


@pytest.mark.parametrize("kernel, route", ROUTES.items())
def test_64_and_1500_byte_frames_go_where_the_kernel_sends_them(engine, kernel, route):
    path = engine("topdown")
    n = 640
    small = run(path, workload="rx", packets=n, warmup=0, dist="fixed:64",
                small_heads=route)["metrics"]
    assert small[f"small_heads_{route}"] == n
    assert small["frags_allocated"] == 0 and small["small_heads_design"] == 0
    assert small["heads_allocated"] == small["heads_freed"] == n
    big = run(path, workload="rx", packets=n, warmup=0, dist="fixed:1500",
              small_heads=route)["metrics"]
    assert big["frags_allocated"] == n and big["head_bytes_mean"] == 1920
    assert big["small_heads_slicer1k"] == big["small_heads_kmalloc"] == 0


def test_threshold_is_skb_with_overhead_1024(engine):
    # 640 + NET_SKB_PAD 64 = 704 = 1024 - 320: small; 641 is not.
    path = engine("topdown")
    edge = run(path, workload="rx", packets=64, warmup=0, dist="fixed:640",
               small_heads="kmalloc")["metrics"]
    over = run(path, workload="rx", packets=64, warmup=0, dist="fixed:641",
               small_heads="kmalloc")["metrics"]
    assert edge["small_heads_kmalloc"] == 64 and edge["frags_allocated"] == 0
    assert over["small_heads_kmalloc"] == 0 and over["frags_allocated"] == 64
    # NET_IP_ALIGN counts too (2 on most non-x86 arches)
    ip2 = run(path, workload="rx", packets=64, warmup=0, dist="fixed:640",
              small_heads="kmalloc", net_ip_align=2)["metrics"]
    assert ip2["small_heads_kmalloc"] == 0


def test_design_what_if_sends_small_heads_to_the_design(engine):
    m = run(engine("topdown"), workload="rx", packets=640, warmup=0, dist="fixed:64",
            small_heads="design")["metrics"]
    assert m["frags_allocated"] == m["small_heads_design"] == 640
    assert m["small_heads_slicer1k"] == m["small_heads_kmalloc"] == 0


@pytest.mark.parametrize("design", ["topdown", "bottomup", "encoded", "order0"])
def test_default_routing_is_the_designs_kernel_and_is_recorded(engine, design):
    doc = run(engine(design), workload="rx", packets=1200, warmup=0)
    assert doc["params"]["small_heads"] == design_small_heads(design)
    assert validate_params("rx", {}, design=design)["small_heads"] == \
        doc["params"]["small_heads"]
    m = doc["metrics"]
    # imix: 64 and 576 B frames (11 of 12) are small, 1500 B ones are not
    small = m["small_heads_slicer1k"] + m["small_heads_kmalloc"]
    assert small + m["frags_allocated"] == 1200
    assert small > 0.8 * 1200


def test_every_design_has_a_kernel():
    from fraglib._build import design_sources
    assert set(design_sources()) <= set(DESIGN_KERNEL)
    # known answers (docs/kernel-pagefrag.md): v6.9's page_frag_cache, the
    # Part-1 merge for 6.13, the v10 series on 6.10's net-next
    assert DESIGN_KERNEL["topdown"] == (6, 9)
    assert DESIGN_KERNEL["bottomup"] == (6, 13)
    assert DESIGN_KERNEL["negoffset"] == (6, 10)


def test_kmalloc_stand_in_is_a_slab_of_1k_objects(engine):
    m = run(engine("topdown"), workload="rx", packets=640, warmup=0, dist="fixed:64",
            small_heads="kmalloc", queue_depth=256)["metrics"]
    # 257 objects alive at most: ceil(257 / 32) order-3 slabs of 8 pages
    assert m["kmalloc_slab_pages"] == 9 * 8
    assert m["small_heads_pages"] == m["kmalloc_slab_pages"] == m["pages_taken"]
    assert m["small_heads_bytes"] == 640 * 1024


def test_bad_small_heads_is_refused(engine):
    p = subprocess.run([str(engine("topdown")), "workload=rx", "small_heads=slab"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert "invalid small_heads=slab: allowed slicer1k, kmalloc, design" in p.stderr
    with pytest.raises(ParameterError) as e:
        validate_params("rx", {"small_heads": "slab"})
    assert e.value.param == "small_heads"


# ---- item 2: tx copies ------------------------------------------------------

@pytest.mark.parametrize("design, prepare", [("sockfrag", True), ("bottomup", True),
                                             ("topdown", False)])
def test_tx_copies_of_one_64k_message(engine, design, prepare):
    # size_goal = 65536 // 1448 * 1448 = 65160.  With prepare/commit on a
    # fresh order-3 page: 32768 (page 1), 32392 (page 2: the skb reaches
    # size_goal), then 376 into a new skb on page 2, not merged (a new skb
    # has no fragment to grow): 3 calls, not 46.  Without it, copies of at
    # most a page: 15 x 4096 + 3720 fill size_goal, then 376: 17 calls.
    m = run(engine(design), workload="tx", packets=1, warmup=0, batch=1,
            dist="fixed:65536", mss=1448, gso_size=65536)["metrics"]
    calls = 3 if prepare else 17
    assert m["alloc_calls"] == m["chunks"] == calls
    assert m["merged_chunks"] == 0 and m["frags_allocated"] == calls
    assert m["bytes_copied"] == 65536
    assert m["copy_bytes_mean"] == pytest.approx(65536 / calls)
    assert m["packets"] == 46                       # ceil(65536 / 1448) wire segments
    assert m["alloc_calls_per_wire_segment"] == calls / 46
    if prepare and design != "sockfrag":
        assert m["pages_taken"] == 2 * 8            # two order-3 pages


@pytest.mark.parametrize("design, prepare", [("sockfrag", True), ("bottomup", True),
                                             ("topdown", False)])
def test_tx_64_messages_keep_the_per_message_pattern(engine, design, prepare):
    # Message k+1 continues message k's skb: with prepare/commit its first
    # copy finds < 32 B on the page and takes a new one (32768), the skb
    # reaches size_goal after 32768 - 376k B more, and the rest starts the
    # next skb on that page: 3 calls every time, never merged.  Without it
    # every 4096 B turn is one call: 17 per message.
    m = run(engine(design), workload="tx", packets=64, warmup=0, batch=64,
            dist="fixed:65536", mss=1448, gso_size=65536)["metrics"]
    calls = 64 * (3 if prepare else 17)
    assert m["alloc_calls"] == calls and m["alloc_calls_per_message"] == calls / 64
    assert m["merged_chunks"] == 0
    assert m["packets"] == 46 * 64
    assert m["bytes_copied"] == 65536 * 64


def test_tx_small_writes_coalesce_only_with_prepare(engine):
    docs = {d: run(engine(d), workload="tx", packets=400, warmup=0, batch=50,
                   dist="imix")["metrics"] for d in ("bottomup", "topdown")}
    assert docs["topdown"]["merged_chunks"] == 0
    assert docs["bottomup"]["coalesce_rate"] > 0.9
    # one copy per message, plus one where a message crosses a skb or page end
    for m in docs.values():
        assert 400 <= m["alloc_calls"] <= 400 + 2 * m["segments"]


# ---- item 3: ptr_ring and page_frag_test -----------------------------------

@pytest.fixture(scope="module")
def ctest(tmp_path_factory):
    try:
        cc = compiler()[0]
    except Exception as e:
        pytest.skip(f"no C compiler: {e}")
    exe = tmp_path_factory.mktemp("wlk") / "test_wl_kernel"
    p = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        f"-I{CSRC / 'include'}", str(CSRC / "tests" / "test_wl_kernel.c"),
                        "-o", str(exe)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr

    def call(*args):
        out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()
    return call


def test_ptr_ring_clears_batches_of_16_last_slot_first(ctest):
    out = ctest("ring", 512, 64, 40, 40)
    assert out[0] == "batch 16"                     # 2 * 64 / sizeof(void *)
    clears = [line for line in out if line.startswith("pop ")]
    assert clears == ["pop 16 got 16 clear " + " ".join(map(str, range(15, -1, -1))),
                      "pop 32 got 32 clear " + " ".join(map(str, range(31, 15, -1)))]
    # slots 32..39 stay non-NULL: 512 - 40 + 32 slots are free
    assert out[-1] == "push_ok 504"


def test_producer_waits_for_a_whole_batch(ctest):
    assert ctest("ring", 512, 64, 512, 15)[-1] == "push_ok 0"
    out = ctest("ring", 512, 64, 512, 16)
    assert out[-2].startswith("pop 16 got 16 clear 15 14") and out[-1] == "push_ok 16"


def test_ptr_ring_clears_at_the_end_of_the_ring_and_wraps(ctest):
    out = ctest("ring", 40, 64, 40, 40)
    assert out[-2] == "pop 40 got 40 clear " + " ".join(map(str, range(39, 31, -1)))
    assert out[-1] == "push_ok 40"


def test_small_ring_clears_every_slot_at_once(ctest):
    out = ctest("ring", 20, 64, 5, 3)               # 16 > 20 / 2: batch 1
    assert out[0] == "batch 1"
    assert out[2:5] == ["pop 1 got 1 clear 0", "pop 2 got 2 clear 1", "pop 3 got 3 clear 2"]


def test_ring_busy_waits_by_default(engine):
    # -1 is "the workload's choice", which the engine resolves from the C
    # table's FRAG_WL_SPINS flag: ring spins, rx and tx yield
    assert {get_workload(w).params["busy_poll"] for w in ("ring", "rx", "tx")} == {-1}
    a = CPUS[0]
    doc = run(engine("topdown"), workload="ring", packets=2000, warmup=1, cpu=a, cpu2=a)
    assert doc["params"]["busy_poll"] == 1 and doc["metrics"]["ring_batch"] == 16
    rx = run(engine("topdown"), workload="rx", packets=64, warmup=0)
    assert rx["params"]["busy_poll"] == 0
    y = run(engine("topdown"), workload="ring", packets=2000, warmup=1, cpu=a, cpu2=a,
            busy_poll=0)
    assert y["params"]["busy_poll"] == 0


def test_ring_presets_are_the_selftests():
    assert ring_preset("module-default") == {
        "size": 2048, "align": 1, "packets": 2_000_000, "cpus": "same",
        "nr_test": 2_000_000, "source": RING_PRESETS["module-default"]["source"]}
    assert (ring_preset("nonaligned")["size"], ring_preset("aligned")["align"]) == (75, 64)
    v13 = ring_preset("v13-aligned", scale=0.001)
    assert (v13["size"], v13["align"], v13["packets"], v13["nr_test"]) == \
        (12, 64, 51200, 51_200_000)
    with pytest.raises(UnknownNameError):
        ring_preset("nope")
    with pytest.raises(ParameterError):
        ring_preset("aligned", scale=0)


# ---- item 4: deferred free --------------------------------------------------

def test_defer_list_limit_kick_at_half_and_lifo_flush(ctest):
    out = ctest("defer", 8, 12, 12)
    assert out[:8] == [f"attempt {i} deferred" + (" kick" if i == 5 else "")
                       for i in range(1, 9)]
    assert out[8:12] == [f"attempt {i} nodefer" for i in range(9, 13)]
    assert out[12] == "flush 8: 8 7 6 5 4 3 2 1"


def test_defer_flushes_reset_the_list_and_the_kick(ctest):
    out = ctest("defer", 8, 12, 6)
    assert out[:7] == ["attempt 1 deferred", "attempt 2 deferred", "attempt 3 deferred",
                       "attempt 4 deferred", "attempt 5 deferred kick", "attempt 6 deferred",
                       "flush 6: 6 5 4 3 2 1"]
    assert out[7:] == ["attempt 7 deferred", "attempt 8 deferred", "attempt 9 deferred",
                       "attempt 10 deferred", "attempt 11 deferred kick",
                       "attempt 12 deferred", "flush 6: 12 11 10 9 8 7"]


@pytest.mark.skipif(TWO is None, reason="needs two CPUs this process may use")
@pytest.mark.parametrize("small_heads", ["slicer1k", "kmalloc"])
def test_rx_defer_frees_on_the_owner_in_batches(engine, small_heads):
    a, b = TWO
    doc = run(engine("topdown"), workload="rx", packets=6000, warmup=1, cpu=a, cpu2=b,
              busy_poll=1, remote_free="defer", defer_max=16, small_heads=small_heads)
    m = doc["metrics"]
    assert doc["params"]["remote_free"] == "defer" and m["defer_max"] == 16
    assert m["heads_allocated"] == m["heads_freed"]
    # every head cpu2 consumed was handed back or, with the list full, freed there
    assert m["heads_deferred"] + m["defer_nodefer"] == m["heads_allocated"]
    assert m["heads_freed_remote"] == m["defer_nodefer"]
    assert m["defer_flushed"] == m["heads_deferred"]
    assert 1 <= m["defer_list_peak"] <= 16
    assert m["defer_flushes"] >= m["heads_deferred"] / 16
    assert m["defer_kicks"] <= m["defer_flushes"]


def test_remote_free_defer_is_rx_only(engine):
    with pytest.raises(ParameterError) as e:
        validate_params("tx", {"remote_free": "defer"})
    assert e.value.param == "remote_free"
    p = subprocess.run([str(engine("topdown")), "workload=ring", "remote_free=defer"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "invalid remote_free=defer" in p.stderr
