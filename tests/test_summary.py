"""fraglib.summary: the verdict table and its 72-column plain-text form."""

import os

import pandas as pd
import pytest

from fraglib import stats, summary
from fraglib.exceptions import ParameterError, UnknownNameError

HEADER = dict(machine="Intel(R) Xeon(R) Processor, 2 CPUs, VM, Linux 6.1",
              date="2024-04-09 08:29 UTC", sha="1cc6bd232a1e (dirty)")


def _table():
    """A verdicts()-shaped table from synthetic pairs with known effects."""
    cells = []
    for design, wl, eff, be in [
        ("bottomup", "fastpath", 0.05, None),                  # slower
        ("encoded", "fastpath", -0.04, None),                  # faster
        ("negoffset", "rx", 0.0, None),                        # no difference
        ("remaining", "ring", 0.0, [0.05, -0.05, 0.05, -0.05]),  # layout-sensitive
        ("null", "tx", -0.93, None),                           # huge
    ]:
        df = stats.simulate_pairs(4, 10, effect=eff, sigma_pair=0.005, build_effects=be,
                                  seed=len(cells))
        cells.append({"label": f"{design}/{wl}", "design": design, "workload": wl,
                      "baseline": "topdown",
                      "verdict": stats.verdict(df, resamples=1000), "reason": ""})
    t = stats.verdict_table(cells)
    na = pd.DataFrame([{"label": "slicer1k/tx", "design": "slicer1k", "workload": "tx",
                        "baseline": "topdown", "kind": summary.NOT_APPLICABLE,
                        "kind_raw": summary.NOT_APPLICABLE, "resolved": False,
                        "reason": "invalid mss=1448: an integer in [1, 1024] on design "
                                  "slicer1k (a chunk must fit one fragment)"}])
    t = pd.concat([t, na], ignore_index=True)
    t.attrs.update(builds=4, processes=10, baseline="topdown")
    return t


def test_every_line_fits_72_columns():
    text = summary.format_summary(_table(), **HEADER)
    assert max(len(line) for line in text.splitlines()) <= summary.WIDTH
    assert text.endswith("\n") and "\t" not in text


def test_header_names_machine_date_sha_and_method_in_one_line():
    lines = summary.format_summary(_table(), **HEADER).splitlines()
    assert lines[1] == "machine: " + HEADER["machine"]
    assert HEADER["date"] in lines[2] and "1cc6bd232a1e (dirty)" in lines[2]
    assert lines[3].startswith("method: ") and "4 layout builds x 10 ABBA" in lines[3]
    assert "bootstrap" in lines[3] and "Holm" in lines[3]


def test_rows_carry_design_workload_ratio_ci_verdict_and_n():
    t = _table()
    text = summary.format_summary(t, **HEADER)
    rows = {line.split()[0] + "/" + line.split()[1]: line for line in text.splitlines()
            if line.split() and line.split()[0] in set(t["design"])}
    assert set(rows) == set(t["label"])
    b = t.set_index("label").loc["bottomup/fastpath"]
    line = rows["bottomup/fastpath"]
    assert f"{100 * (b['effect'] - 1):+.2f}" in line
    assert f"[{100 * (b['ci_lo'] - 1):+.2f}, {100 * (b['ci_hi'] - 1):+.2f}]" in line
    assert "slower" in line and line.rstrip().endswith(" 40")
    assert "faster" in rows["encoded/fastpath"]
    assert "no difference" in rows["negoffset/rx"]
    assert "layout-sensitive" in rows["remaining/ring"]
    assert "n/a [1]" in rows["slicer1k/tx"]
    assert "[1] not applicable, slicer1k/tx: invalid mss=1448" in text


def test_holm_demotions_are_marked():
    t = _table()
    t.loc[0, "kind"] = "no difference"                 # as verdict_table demotes
    text = summary.format_summary(t, **HEADER)
    assert "no difference*" in text and "Holm-adjusted" in text


def test_long_names_and_huge_effects_still_fit():
    t = _table()
    t.loc[0, "design"] = "a-design-with-a-very-long-name"
    t.loc[0, "workload"] = "a-long-workload"
    t.loc[1, ["effect", "ci_lo", "ci_hi"]] = [123.4, 0.0001, 9999.0]
    text = summary.format_summary(t, **HEADER, title="x" * 100)
    assert max(len(line) for line in text.splitlines()) <= summary.WIDTH


def test_default_header_describes_this_machine():
    text = summary.format_summary(_table())
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= summary.WIDTH
    assert lines[1].startswith("machine: ") and "git: " in lines[2]


def test_missing_columns_are_a_parameter_error():
    with pytest.raises(ParameterError, match="table"):
        summary.format_summary(pd.DataFrame({"design": ["x"]}))


def test_write_summary_to_a_path_and_to_reports(tmp_path, monkeypatch):
    p = summary.write_summary(_table(), tmp_path / "deep" / "s.txt", **HEADER)
    assert p.read_text() == summary.format_summary(_table(), **HEADER)
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "reports"))
    p = summary.write_summary(_table(), **HEADER)
    assert p == tmp_path / "reports" / "summary.txt" and p.exists()
    assert not [f for f in os.listdir(p.parent) if f.startswith(".tmp-")]


# ---- verdicts(): validation and one real run ---------------------------------


def test_verdicts_validates_before_running():
    with pytest.raises(UnknownNameError):
        summary.verdicts("nope")
    with pytest.raises(ParameterError, match="designs"):
        summary.verdicts("topdown", ["topdown"])
    with pytest.raises(ParameterError, match="workload_params"):
        summary.verdicts(designs=["bottomup"], workloads=["fastpath"],
                         workload_params={"nope": {}})
    with pytest.raises(ParameterError) as e:
        summary.verdicts(designs=["bottomup"], workloads=["fastpath"], packets=0)
    assert e.value.param == "packets"


def test_workloads_that_do_not_exist_are_skipped_and_recorded():
    t = summary.verdicts(designs=["bottomup"], workloads=["no-such-workload"])
    assert t.empty and t.attrs["skipped_workloads"] == ["no-such-workload"]


@pytest.mark.slow
def test_verdicts_lists_refused_designs_as_not_applicable(runs_root):
    t = summary.verdicts(designs=["bottomup", "slicer1k"], workloads=["rx"], builds=2,
                         processes=2, packets=2048, metadata=False, root=runs_root,
                         resamples=1000)
    assert list(t["label"]) == ["bottomup/rx", "slicer1k/rx"]
    b, s = t.iloc[0], t.iloc[1]
    assert b["kind"] in ("faster", "slower", "no difference", "layout-sensitive")
    assert b["n_pairs"] == 4 and b["reason"] == ""
    assert s["kind"] == summary.NOT_APPLICABLE and "slicer1k" in s["reason"]
    text = summary.format_summary(t)
    assert max(len(line) for line in text.splitlines()) <= summary.WIDTH
    assert "not applicable, slicer1k/rx" in text
