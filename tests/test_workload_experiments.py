"""The rx, tx, ring, memory and counters experiments, their answers and figures:
shapes, refusal rows, the kernel's published figures, "not measured" instead
of zeros. Tiny runs only; no timing is asserted anywhere."""

import math
import os

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from fraglib import counters as fcounters  # noqa: E402
from fraglib import valgrind as fvalgrind  # noqa: E402
from fraglib.experiments import cells, memory, published, ring, rx, schedule, tx  # noqa: E402
from fraglib.experiments import counters as xcounters  # noqa: E402
from fraglib.report import answers  # noqa: E402
from fraglib.report import figures as pu  # noqa: E402
from fraglib.api import default_cpu  # noqa: E402
from fraglib.exceptions import CollectorUnavailable, ParameterError  # noqa: E402

TINY = dict(store=False, metadata=False, progress=False)
#: page-model arena (MiB) of the engine top_functions runs under callgrind: the
#: engine writes its whole arena once before the region, which under valgrind
#: cost ~4 s of CPU for 64 MiB (the engine's default until 2026-11) and ~1 s
#: for 8 MiB, while a few hundred packets use a few dozen pages; what is
#: simulated (the measured region) is the same.
CALLGRIND_ARENA = 8
two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")


# --------------------------------------------------------------------------
# kernel figures


def test_kernel_ratios_transcribe_the_published_figures():
    k = published.kernel_ratios()
    assert (k["test"] == "page_frag_test").all()
    assert k["caveat"].str.len().min() > 20, "every row carries its caveat"
    row = k[(k["version"] == "v13 … v23 Part-1") & (k["mode"] == "aligned")].iloc[0]
    assert (row["before_s"], row["after_s"]) == (3.438041, 0.935251)
    assert row["ratio"] == pytest.approx(0.935251 / 3.438041)
    assert row["alloc_len"] == 12 and row["nr_test"] == 51200000 and row["runs"] == 200
    re = k[(k["version"] == "v23 re-measured") & (k["mode"] == "non-aligned")].iloc[0]
    assert (re["before_s"], re["after_s"]) == (6.382, 5.625)
    moved = round(100 * (6.382 / 4.603531 - 1))
    assert f"+{moved} %" in re["caveat"], "the re-measurement caveat states the move"
    same = k[k["cpus"] == "same"].iloc[0]
    assert same["ratio"] == 1.0 and same["nr_test"] == 512000
    v1 = k[k["version"] == "v1 00/12"].iloc[0]
    assert v1["before_s"] == pytest.approx((30.309 + 29.958) / 2)
    assert v1["after_s"] == pytest.approx((29.341 + 28.683 + 28.730) / 3)
    p2 = k[(k["version"] == "Part-2 v1") & (k["mode"] == "non-aligned")].iloc[0]
    assert p2["ratio"] > 1 and "already bottom-up" in p2["caveat"]
    assert k["caveat"].str.contains("perf stat").sum() >= 8
    assert k["caveat"].str.contains("reused").sum() >= 3
    assert set(k["compares"]) >= {"series"}


def test_kernel_ratios_other_tests():
    k = published.kernel_ratios(include_other=True)
    assert {"vhost_net_test", "netcat"} <= set(k["test"])
    assert len(k) == len(published.kernel_ratios()) + 5


# --------------------------------------------------------------------------
# grids on the real engine (tiny)


@two_cpus
def test_rx_grid_rows_and_refusals(tmp_path):
    df = rx.rx_grid(["topdown", "slicer1k"], ["imix"], remote=(False, True), packets=256,
                   repeats=2, **TINY)
    measured = df[df["status"] == schedule.MEASURED]
    assert len(measured) == 2 * 2 and set(measured["design"]) == {"topdown"}
    assert set(measured["free_on"]) == {"this CPU", "another CPU"}
    assert (measured["median_cpp"] > 0).all() and measured["run_id"].notna().all()
    refused = df[df["design"] == "slicer1k"]
    assert len(refused) == 2, "one row per refused (design, cell), not dropped"
    assert refused["status"].str.startswith("refused: ").all()
    assert refused["status"].str.contains("slicer1k").all()
    assert refused["median_cpp"].isna().all()
    nm = cells.not_measured(df)
    assert list(nm["design"]) == ["slicer1k", "slicer1k"] and "median_cpp" not in nm
    med = cells.cell_medians(df, ["dist", "free_on"])
    assert list(med.columns) == ["topdown"]


def test_remote_cells_are_skipped_with_one_cpu(monkeypatch):
    monkeypatch.setattr(schedule, "_allowed_cpus", lambda: [default_cpu()])
    cpu2, why = schedule.other_cpu()
    assert cpu2 is None and "no second CPU" in why
    df = rx.rx_grid(["topdown"], ["fixed:64"], remote=(False, True), packets=256, repeats=1,
                   **TINY)
    skipped = df[df["status"].str.startswith("skipped: ")]
    assert len(skipped) == 1 and skipped["free_on"].iloc[0] == "another CPU"
    assert (df["status"] == schedule.MEASURED).sum() == 1


def test_tx_grid_reports_coalescing():
    df = tx.tx_grid(["bottomup", "topdown"], ["fixed:8192"], packets=32, repeats=2, **TINY)
    s = tx.tx_summary(df).set_index("design")
    assert s.loc["topdown", "coalesce_rate"] == 0
    assert s.loc["bottomup", "coalesce_rate"] > 0
    assert s.loc["bottomup", "frags_per_segment"] < s.loc["topdown", "frags_per_segment"]
    assert "never coalesces" in df.loc[df["design"] == "topdown", "note"].iloc[0]
    assert {"segments", "messages", "chunks", "merged_chunks"} <= set(df.columns)


@two_cpus
def test_ring_grid_modes_and_cpus():
    df = ring.ring_grid(["topdown", "bottomup"], ["75-aligned"], ["cross", "same"],
                     packets=1024, repeats=2, **TINY)
    assert len(df) == 2 * 2 * 2
    assert set(df["cpus"]) == {"cross", "same"}
    assert (df["size"] == 75).all() and (df["align"] == 64).all()
    assert (df["ns_per_object"] > 0).all() and df["ring_full_frees"].notna().all()
    r = ring.ring_ratios(df)
    assert set(r["cpus"]) == {"cross", "same"} and (r["design"] == "bottomup").all()
    assert {"full_frees_baseline", "full_frees_design"} <= set(r.columns)


def test_unknown_ring_mode_and_bad_repeats_are_parameter_errors():
    with pytest.raises(ParameterError, match="modes"):
        ring.ring_grid(["topdown"], ["4096"], **TINY)
    with pytest.raises(ParameterError, match="repeats"):
        rx.rx_grid(["topdown"], repeats=0, **TINY)
    with pytest.raises(ParameterError, match="designs"):
        rx.rx_grid([], **TINY)


# --------------------------------------------------------------------------
# verdicts and sentences on synthetic data


def _synthetic(factor=1.1, n=8):
    rng = np.random.default_rng(0)
    rows = []
    for free_on in ("this CPU", "another CPU"):
        for rep in range(n):
            base = 100 * (1 + 0.01 * rng.standard_normal())
            rows.append({"design": "topdown", "dist": "imix", "free_on": free_on,
                         "repeat": rep, "status": schedule.MEASURED, "note": "",
                         "median_cpp": base})
            rows.append({"design": "bottomup", "dist": "imix", "free_on": free_on,
                         "repeat": rep, "status": schedule.MEASURED, "note": "",
                         "median_cpp": base * factor})
        rows.append({"design": "slicer1k", "dist": "imix", "free_on": free_on,
                     "repeat": np.nan, "status": "refused: too big", "note": "",
                     "median_cpp": np.nan})
    return pd.DataFrame(rows)


def test_verdicts_skip_refused_cells_and_answer_is_computed():
    df = _synthetic(1.1)
    t = cells.cell_verdicts(df, "topdown", by=["dist", "free_on"])
    assert set(t["design"]) == {"bottomup"}, "refused design has no verdict row"
    assert (t["kind"] == "slower").all()
    text = answers.rx_answer(df, t)
    assert text.startswith("Yes.") and "slower" in text
    assert "slicer1k in all 2 of 2 cells: refused: too big" in text
    same = _synthetic(1.0)
    text2 = answers.rx_answer(same, cells.cell_verdicts(same, "topdown", by=["dist", "free_on"]))
    assert text2.startswith("No difference resolved")


def test_ring_vs_kernel_matches_modes_and_flags_consistency():
    ratios = pd.DataFrame([
        {"design": "bottomup", "mode": m, "cpus": c, "effect": 0.95, "ci_lo": 0.9,
         "ci_hi": 1.0, "kind": "no difference", "full_frees_baseline": 3.0,
         "full_frees_design": 2.0}
        for m in ring.RING_MODES for c in ring.RING_CPUS])
    k = published.kernel_ratios()
    vs = ring.ring_vs_kernel(ratios, k)
    series = k[k["compares"] == "series"]
    assert len(vs) == len(series), "one row per comparable kernel row and design"
    row = vs[(vs["version"] == "v13 … v23 Part-1") & (vs["kernel_mode"] == "aligned")]
    row = row.iloc[0]
    assert (row["our_mode"], row["our_cpus"]) == ("75-aligned", "cross")
    assert "12 B" in row["match"] and not row["consistent"]
    rfc = vs[(vs["version"] == "RFC v4 … v12") & (vs["kernel_mode"] == "non-aligned")]
    assert rfc["consistent"].iloc[0] and rfc["match"].iloc[0] == "same mode and CPUs"
    same = vs[vs["kernel_cpus"] == "same"].iloc[0]
    assert same["our_cpus"] == "same"
    text = answers.ring_answer(ratios, vs)
    assert "of 13 matched rows" in text and "0.272" in text
    fig = pu.ring_comparison(vs)
    assert fig.axes


def test_memory_answer_and_counters_answer_on_synthetic_tables():
    mem = pd.DataFrame([
        {"design": d, "workload": "rx", "free_on": "this CPU", "status": schedule.MEASURED,
         "note": "", "pages_per_1k_packets": p, "peak_pages_held": 64.0,
         "consumed_per_requested": c, "not_measured": nm}
        for d, p, c, nm in (("topdown", 184.0, 1.0, ""), ("bottomup", 184.0, 1.0, ""),
                            ("order0", 1000.0, 5.5, ""),
                            ("malloc", np.nan, 1.0, "pages_per_1k_packets: no page model"))])
    text = answers.memory_answer(mem)
    assert text.startswith("bottomup vs topdown: rx/this CPU 184.0 vs 184.0")
    assert "most order0 (1000.0)" in text and "malloc (no page model)" in text
    ct = pd.DataFrame([
        {"design": d, "workload": "fastpath", "status": schedule.MEASURED,
         "instructions_per_packet": i, "d1_misses_per_packet": 0.01,
         "ll_misses_per_packet": 0.0, "hw_cycles_per_packet": "not measured: no PMU"}
        for d, i in (("topdown", 40.0), ("bottomup", 44.0))])
    text = answers.counters_answer(ct)
    assert "44.0 vs 40.0 instructions per packet (+4.0, +10.0 %)" in text
    assert "not measured: no PMU" in text


# --------------------------------------------------------------------------
# memory and counters on the real engine (tiny)


def test_memory_table_nan_not_zero_and_refusals():
    mem = memory.memory_table(["topdown", "malloc", "null", "slicer1k"], ["ring"], packets=512,
                         **TINY)
    assert len(mem) == 4
    m = mem.set_index("design")
    assert m.loc["topdown", "pages_per_1k_packets"] > 0
    assert m.loc["topdown", "consumed_per_requested"] >= 1
    assert m.loc["topdown", "not_measured"] == ""
    assert math.isnan(m.loc["malloc", "pages_per_1k_packets"])
    assert "no page model" in m.loc["malloc", "not_measured"]
    assert math.isnan(m.loc["null", "consumed_per_requested"]), "null consumes nothing: NaN"
    assert "aliased" in m.loc["null", "not_measured"]
    assert m.loc["slicer1k", "status"].startswith("refused: ")
    assert m.loc["slicer1k", "runs"] == 0
    fig = pu.memory_panels(mem)
    assert fig.axes


def _unsupported_probe():
    return {n: fcounters.ProbeResult(n, "hardware" if n in fcounters.HARDWARE_EVENTS
                                     else "software", n not in fcounters.HARDWARE_EVENTS,
                                     0 if n not in fcounters.HARDWARE_EVENTS else 2,
                                     None if n not in fcounters.HARDWARE_EVENTS
                                     else "not supported: no PMU (ENOENT)")
            for n in fcounters.EVENTS}


def test_counter_table_without_pmu_says_not_measured(monkeypatch):
    monkeypatch.setattr(fcounters, "probe", lambda refresh=False: _unsupported_probe())
    ct = xcounters.counter_table_for(["topdown", "slicer1k"], ["ring"], packets=512,
                                     arena_mb=CALLGRIND_ARENA, progress=False)
    assert list(ct["design"]) == ["topdown", "slicer1k"]
    top = ct.iloc[0]
    hw = [c for c in ct.columns if c.startswith("hw_")]
    assert len(hw) == 6
    for c in hw:
        assert isinstance(top[c], str) and top[c].startswith("not measured: "), c
        assert "no PMU" in top[c]
    if isinstance(top["instructions_per_packet"], str):  # no valgrind here
        assert top["instructions_per_packet"].startswith("not measured: ")
    else:
        assert top["instructions_per_packet"] > 0
        assert top["mode"].startswith("simulated")
    refused = ct.iloc[1]
    assert refused["status"].startswith("refused: ")
    assert all(pd.isna(refused[c]) for c in hw), "refused: NaN, never 0"
    fig = pu.counter_panels(ct)
    assert fig.axes


class _FakeRun:
    def __init__(self, events, packets=1000):
        self.counters = ({"thread": 0, "events": events},)
        self.total_packets = packets


def test_counter_table_with_pmu_reads_counters(monkeypatch):
    probed = {n: fcounters.ProbeResult(n, "hardware" if n in fcounters.HARDWARE_EVENTS
                                       else "software", n != "branch-misses",
                                       2 if n == "branch-misses" else 0,
                                       "not supported: no PMU (ENOENT)"
                                       if n == "branch-misses" else None)
              for n in fcounters.EVENTS}
    monkeypatch.setattr(fcounters, "probe", lambda refresh=False: probed)

    def no_valgrind():
        raise CollectorUnavailable("valgrind", "valgrind not installed (not on PATH)")

    monkeypatch.setattr(fvalgrind, "valgrind_version", no_valgrind)
    ev = {"value": 0, "time_enabled": 10, "time_running": 10, "errno": 0}
    events = {"cycles": {**ev, "value": 50000}, "instructions": {**ev, "value": 100000},
              "L1-dcache-load-misses": {**ev, "value": 200},
              "LLC-load-misses": {**ev, "value": 10},
              "branch-misses": {"value": None, "errno": 2,
                                "reason": "not supported: no PMU (ENOENT)"}}
    calls = []
    monkeypatch.setattr(xcounters, "run", lambda *a, **k: calls.append((a, k)) or _FakeRun(events))
    ct = xcounters.counter_table_for(["topdown"], ["fastpath"], progress=False, store=False)
    row = ct.iloc[0]
    assert calls and calls[0][1]["counters"] is True
    assert row["hw_cycles_per_packet"] == pytest.approx(50.0)
    assert row["hw_ipc"] == pytest.approx(2.0)
    assert row["hw_l1d_load_misses_per_packet"] == pytest.approx(0.2)
    assert row["hw_branch_misses_per_packet"].startswith("not measured: ")
    assert row["instructions_per_packet"] == "not measured: valgrind not installed (not on PATH)"


def test_counter_table_passes_the_arena_to_callgrind_and_checks_it(monkeypatch):
    seen = []

    class _Costs:
        tool = "callgrind"

        def per_packet(self):
            return {k: 1.0 for keys in xcounters._SIM_COLUMNS.values() for k in keys}

    monkeypatch.setattr(fvalgrind, "valgrind_version", lambda: "valgrind-3.19.0")
    monkeypatch.setattr(fvalgrind, "callgrind_costs",
                        lambda d, w, **kw: seen.append(kw) or _Costs())
    xcounters.counter_table_for(["topdown"], ["fastpath"], packets=64, arena_mb=8,
                                hardware=False, progress=False)
    xcounters.counter_table_for(["topdown"], ["fastpath"], packets=64, hardware=False,
                                progress=False)
    assert seen[0]["arena_mb"] == 8 and "arena_mb" not in seen[1]
    with pytest.raises(ParameterError) as e:
        xcounters.counter_table_for(["topdown"], ["fastpath"], arena_mb=0, progress=False)
    assert e.value.param == "arena_mb"


def test_probe_table_lists_every_event():
    t = xcounters.probe_table()
    assert list(t["event"]) == list(fcounters.EVENTS)
    assert (t.loc[~t["supported"], "reason"] != "").all()


@pytest.mark.skipif(not fcounters.COLLECTORS["valgrind"].available()[0],
                    reason="valgrind not installed")
def test_top_functions_one_table():
    t = xcounters.top_functions(["topdown"], method="callgrind", top=3, packets=1024,
                                arena_mb=CALLGRIND_ARENA)
    assert len(t) == 3 and (t["design"] == "topdown").all()
    assert (t["method"] == "callgrind").all() and t["reason"].iloc[0]


def test_figures_from_synthetic_grids():
    df = _synthetic(1.05, n=3)
    assert pu.rx_cycles(df).axes
    tx = df.assign(coalesce_rate=np.where(df["design"] == "topdown", 0.0, 0.9),
                   frags_per_segment=3.0)
    assert len(pu.tx_panels(tx).axes) == 3
    assert pu.rx_cycles(df.assign(status="refused: x")).axes, "nothing measured still draws"
    one = df[df["design"] == "topdown"]
    assert pu.rx_cycles(one).axes and pu.tx_panels(tx[(tx["design"] == "topdown")
                                                        & (tx["free_on"] == "this CPU")]).axes
