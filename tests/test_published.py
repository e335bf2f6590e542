"""fraglib.experiments.published: the kernel's figures load from data/published."""

import pandas as pd
import pytest

from fraglib.exceptions import ParameterError
from fraglib.experiments import published


def test_kernel_figures_load_with_the_expected_columns():
    raw = published.load_kernel_figures()
    assert tuple(raw.columns) == published.FIGURE_COLUMNS
    assert len(raw) >= 15 and set(raw["test"]) == {"page_frag_test", "vhost_net_test",
                                                   "netcat"}
    for c in ("alloc_len", "nr_test", "runs"):
        assert pd.api.types.is_float_dtype(raw[c]), c
    for c in ("before_s", "after_s"):
        values = [float(x) for s in raw[c] for x in s.split(";")]
        assert all(v > 0 for v in values), c
    assert (raw["caveat"].str.len() > 20).all(), "every row carries its caveat"


def test_every_row_is_cited_in_the_readme():
    readme = (published.KERNEL_FIGURES.parent / "README.md").read_text()
    raw = published.load_kernel_figures()
    for version in dict.fromkeys(raw["version"]):
        assert f"`{version}`" in readme, version
    for src in raw["source"]:
        assert not src or src in readme, src


def test_kernel_ratios_means_and_ratios_from_a_csv_built_here(tmp_path):
    path = tmp_path / "figures.csv"
    pd.DataFrame([
        {"version": "vX", "date": "2024-01-01", "test": "page_frag_test", "mode": "aligned",
         "alloc_len": "12", "nr_test": "", "cpus": "cross", "runs": "200",
         "before_s": "4.0;6.0", "after_s": "2.5", "claimed": "faster", "compares": "series",
         "caveat": "made up for this test", "source": ""},
        {"version": "vY", "date": "2024-01-02", "test": "netcat", "mode": "",
         "alloc_len": "", "nr_test": "", "cpus": "not stated", "runs": "",
         "before_s": "10", "after_s": "11", "claimed": "", "compares": "series",
         "caveat": "made up", "source": "id@example.org"},
    ]).to_csv(path, index=False)
    k = published.kernel_ratios(path=path)
    assert list(k["version"]) == ["vX"], "other tests only with include_other"
    row = k.iloc[0]
    assert row["before_s"] == 5.0 and row["after_s"] == 2.5 and row["ratio"] == 0.5
    assert row["change_pct"] == -50.0 and row["alloc_len"] == 12 and pd.isna(row["nr_test"])
    both = published.kernel_ratios(include_other=True, path=path)
    assert pd.isna(both["mode"].iloc[1]) and both["ratio"].iloc[1] == pytest.approx(1.1)
    assert both["source"].iloc[0] == "", "empty text stays empty, not NaN"


def test_a_csv_without_a_column_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("version,date\nv1,2024\n")
    with pytest.raises(ParameterError, match="missing: test"):
        published.load_kernel_figures(path)
