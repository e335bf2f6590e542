"""The one statistics-input builder (stats.observations_from_grid), the grid
views that use it, and the one resamples floor the notebooks share."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraglib import nbparams, stats
from fraglib.exceptions import ParameterError
from fraglib.experiments import cells

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _grid(n=8, ratio=0.8, seed=1):
    """Two designs, two cells, ``n`` repeats; b is ``ratio`` times a, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for size in (64, 256):
        for rep in range(n):
            base = 100.0 * (1 + 0.01 * rng.standard_normal())
            for d, f in (("a", 1.0), ("b", ratio)):
                rows.append({"design": d, "size": size, "repeat": rep, "status": "measured",
                             "median_cpp": base * f * (1 + 0.002 * rng.standard_normal())})
    rows.append({"design": "b", "size": 64, "repeat": n, "status": "refused: too big",
                 "median_cpp": np.nan})
    return pd.DataFrame(rows)


def test_observations_from_grid_keeps_measured_rows_in_the_data_model():
    g = _grid()
    obs = stats.observations_from_grid(g, "median_cpp", ["a", "b"])
    assert list(obs.columns) == ["build", "pair", "design", "value"]
    assert len(obs) == len(g) - 1              # the refused row is left out
    assert (obs["build"] == 0).all() and obs["pair"].dtype.kind == "i"
    np.testing.assert_array_equal(obs["value"], g["median_cpp"].dropna())
    only_a = stats.observations_from_grid(g, "median_cpp", ["a"])
    assert set(only_a["design"]) == {"a"}


def test_observations_from_grid_takes_a_build_column_and_names_bad_input():
    g = _grid().assign(layout=lambda d: d["repeat"] % 2)
    obs = stats.observations_from_grid(g, "median_cpp", build="layout")
    assert set(obs["build"]) == {0, 1}
    with pytest.raises(ParameterError, match="df"):
        stats.observations_from_grid(g, "no_such_column")
    with pytest.raises(ParameterError, match="df"):
        stats.observations_from_grid(g.to_dict(), "median_cpp")


def test_grid_verdicts_are_the_verdicts_of_the_builder_output():
    g = _grid()
    by_cell = cells.cell_verdicts(g, "a", by=["size"], resamples=1000, seed=3)
    assert list(by_cell["kind"]) == ["faster", "faster"]
    sub = g[g["size"] == 256]
    direct = stats.verdict(stats.observations_from_grid(sub, "median_cpp"), "a", "b",
                           resamples=1000, seed=3)
    row = by_cell[by_cell["size"] == 256].iloc[0]
    assert row["effect"] == pytest.approx(direct.effect)
    assert row["ci_lo"] == pytest.approx(direct.ci_lo)
    pw = cells.pairwise(g[g["status"] == "measured"], "a", "b", by=["size"],
                        resamples=1000, seed=3)
    assert pw["effect"].to_numpy() == pytest.approx(by_cell["effect"].to_numpy())


def test_notebook_resamples_floor_is_the_verdicts():
    nb = NOTEBOOKS / "7.0-noise.ipynb"
    below = stats.MIN_RESAMPLES - 1
    with pytest.raises(ParameterError, match=f"resamples.*>= {stats.MIN_RESAMPLES}"):
        nbparams.validate_notebook_params([nb], {"resamples": below})
    with pytest.raises(ParameterError, match="resamples"):
        stats.verdict(stats.observations_from_grid(_grid(), "median_cpp"), "a", "b",
                      resamples=below)
    assert nbparams.validate_notebook_params([nb], {"resamples": stats.MIN_RESAMPLES})
