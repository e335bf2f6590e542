"""fraglib.report.tables: report tables with units, signed percentages, CIs, footnotes."""

import math

import pandas as pd
import pytest

from fraglib.report import tables
from fraglib.exceptions import ParameterError


def _verdicts():
    return pd.DataFrame({
        "design": ["bottomup", "malloc", "slicer1k"],
        "workload": ["fastpath", "rx", "rx"],
        "kind": ["slower", "faster", "not applicable"],
        "effect": [1.0123, 0.5, math.nan], "ci_lo": [1.004, 0.45, math.nan],
        "ci_hi": [1.02, 0.55, math.nan], "mde": [0.0045, 0.02, math.nan],
        "p_holm": [0.0012345, 1e-6, math.nan], "n_pairs": [40, 8, math.nan],
        "wall_s": [61.4, 20.2, math.nan],
        "reason": ["", "", "invalid dist='imix' on design slicer1k"],
        "flag": ["", "page faults in the timed region in 3 of 16 engine runs", ""],
    })


def test_effect_and_ci_become_signed_percentages():
    t = tables.show(_verdicts(), ["design", "workload", "kind", "effect", "mde", "p_holm",
                                  "n_pairs", "wall_s"])
    f = t.frame
    assert list(f.columns[:5]) == ["design", "workload", "verdict", "B/A", "95 % CI"]
    assert f["B/A"].tolist() == ["+1.23 %", "-50.00 %", "–"]
    assert f["95 % CI"][0] == "[+0.40, +2.00] %"
    assert f["MDE"][0] == "0.45 %" and f["p (Holm)"][0] == "0.00123"
    assert f["pairs"].tolist() == ["40", "8", "–"] and f["wall (s)"][0] == "61"


def test_reasons_and_flags_become_numbered_footnotes():
    t = tables.show(_verdicts(), ["design", "kind", "effect"])
    assert t.frame["notes"].tolist() == ["", "[1]", "[2]"]
    assert t.notes[0].startswith("page faults") and "slicer1k" in t.notes[1]
    html = t._repr_html_()
    assert "<table" in html and "<ol" in html and "page faults" in html
    assert "reason" not in list(t.frame.columns)


def test_html_escapes_and_plain_text_form():
    df = pd.DataFrame({"design": ["<b>x</b>"], "value": [12.345]})
    t = tables.show(df, caption="a < b")
    assert "<b>x</b>" not in t._repr_html_() and "a &lt; b" in t._repr_html_()
    text = str(t)
    assert text.splitlines()[0] == "a < b" and "12.3" in text


def test_index_tables_keep_their_index():
    grid = pd.DataFrame({"builds": [1, 1, 2, 2], "pairs": [2, 4, 2, 4],
                         "mde": [0.05, 0.04, 0.03, 0.02]})
    t = tables.show(grid.pivot(index="builds", columns="pairs", values="mde"), index=True,
                    percent=True)
    assert list(t.frame.columns) == ["builds", "2", "4"]
    assert t.frame["2"].tolist() == ["5.00 %", "3.00 %"] and t.frame["builds"][1] == "2"


def test_missing_column_is_a_parameter_error():
    with pytest.raises(ParameterError, match="columns"):
        tables.show(_verdicts(), ["nope"])
    with pytest.raises(ParameterError):
        tables.show([1, 2])


def test_helpers():
    assert tables.signed_pct(0.99) == "-1.00 %" and tables.pct(0.005) == "0.50 %"
    assert tables.ci_pct(math.nan, 1.0) == "–"



# ---- report hygiene ------------------------------------------------------------


def test_hygiene_finds_warnings_tracebacks_and_machine_paths(tmp_path):
    from fraglib.report import hygiene
    from fraglib._build import REPO_ROOT

    clean = "<style>.Warning{}</style><p>bottom-up is slower by 1.2 %</p>"
    assert hygiene.problems(clean) == []
    bad = (f"<pre>{REPO_ROOT}/fraglib/compare.py:460: RuntimeWarning: x</pre>"
           "<pre>Traceback (most recent call last)</pre>"
           f"<p>{tmp_path}/data</p>")
    found = hygiene.problems(bad, [tmp_path])
    assert any("'Warning'" in f for f in found) and any("Traceback" in f for f in found)
    assert any(str(REPO_ROOT) in f for f in found) and any(str(tmp_path) in f for f in found)
    assert "/" not in hygiene.machine_paths()


def test_text_in_a_numeric_column_stays_text():
    t = tables.show(pd.DataFrame({"value": ["AMD EPYC", 12.25]}))
    assert t.frame.iloc[:, 0].tolist() == ["AMD EPYC", "12.2"]


def test_an_empty_table_says_none():
    t = tables.show(pd.DataFrame({"design": [], "status": []}), caption="not measured")
    assert t._repr_html_() == "<p><strong>not measured</strong>: none.</p>"
    assert str(t) == "not measured: none."


def test_relative_and_sigma_columns_are_percentages():
    t = tables.show(pd.DataFrame({"rel": [-0.1378, 0.0], "sigma": [0.0685, 0.1588]}))
    assert t.frame.iloc[:, 0].tolist() == ["-13.78 %", "+0.00 %"]
    assert t.frame.iloc[:, 1].tolist() == ["6.85 %", "15.88 %"]
