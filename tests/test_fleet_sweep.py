"""``fraglib sweep --cluster``: each notebook runs on each machine, one store.

On the two-machine local cluster of tests/test_fleet.py (its module fixture,
one cluster for this file): a tiny measuring notebook runs on m-a and m-b,
its runs land under ``data/runs/m-a/`` and ``m-b/``, the executed pages say
their machine, ``9.0-fleet`` runs once on the client and answers for both
machines, and a ``--resume`` rerun measures nothing stored. The report
functions behind 9.0-fleet are tested on small tables here too.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from fraglib.exceptions import ParameterError  # noqa: E402
from fraglib.report import fleet as rfleet  # noqa: E402
from test_fleet import _no_partial, _stored, cluster  # noqa: E402,F401 (module fixture)


def _tiny_notebook(path) -> None:
    """A notebook that runs one tiny comparison (what a measuring notebook does)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny comparison"),
                nbformat.v4.new_code_cell("packets = 4096", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "from fraglib.compare import compare\n"
                    "c = compare('topdown', 'bottomup', builds=1, processes=2, "
                    "packets=packets, warmup=2, progress=False)\nprint(c.verdict.kind)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def fleet_notebooks(tmp_path, monkeypatch):
    """A notebooks directory with the tiny notebook and 9.0-fleet; reports in tmp."""
    import shutil

    from fraglib.notebooks import notebooks_dir

    src = notebooks_dir() / "9.0-fleet.ipynb"
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _tiny_notebook(nbdir / "t.ipynb")
    shutil.copy(src, nbdir / src.name)
    monkeypatch.setenv("FRAGLIB_NOTEBOOKS", str(nbdir))
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "reports"))
    return nbdir


def test_sweep_on_two_machines_one_store(cluster, runs_root, fleet_notebooks, tmp_path,
                                         clean_report, monkeypatch):
    """Each machine runs the measuring notebook; 9.0-fleet runs once, here, on
    the store both filled, and says whether the verdict holds on both."""
    from fraglib import notebooks

    import tempfile
    from pathlib import Path

    staging = {m: set(Path(tempfile.gettempdir()).glob(f"fraglib-fleet-*-{m}-t"))
               for m in ("m-a", "m-b")}
    fs = notebooks.sweep(cluster=cluster, machines="all", progress=False)
    assert fs.ok, fs.text
    assert fs.machines == ("m-a", "m-b") and dict(fs.runs) == {"m-a": 4, "m-b": 4}
    assert sorted(p.name for p in fs.executed) == ["9.0-fleet.ipynb", "t@m-a.ipynb",
                                                   "t@m-b.ipynb"]
    runs = _stored(runs_root)
    assert runs.groupby("machine")["run_id"].nunique().to_dict() == {"m-a": 4, "m-b": 4}
    _no_partial(runs_root)
    for m, before in staging.items():     # the workers' staging directories are gone
        assert set(Path(tempfile.gettempdir()).glob(f"fraglib-fleet-*-{m}-t")) <= before
    pages = clean_report(list(fs.executed))
    assert "Tiny comparison (machine m-a)" in pages["t@m-a"]
    nb = json.loads((tmp_path / "reports" / "executed" / "9.0-fleet.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"]
                      if c["cell_type"] == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    verdicts = rfleet.fleet_verdicts(rfleet.fleet_runs(), resamples=2000)
    answer = rfleet.fleet_answer(verdicts)
    assert sorted(verdicts["machine"]) == ["m-a", "m-b"]
    assert answer in printed and answer in pages["9.0-fleet"]
    assert "m-a" in answer and "m-b" in answer and "not measured" not in answer
    # the machines filter of the notebook's first cell
    only_a = rfleet.fleet_runs(machines="m-a")
    assert set(only_a["machine"]) == {"m-a"} and len(only_a) == 4
    with pytest.raises(ParameterError, match="m-a, m-b"):
        rfleet.fleet_runs(machines="m-zzz")

    # a rerun with --resume (the CLI) measures nothing the store holds
    from fraglib.cli import main

    monkeypatch.setenv("FRAGLIB_RESUME", "0")
    rc = main(["sweep", "t", "--cluster", cluster.scheduler_info()["address"],
               "--machines", "m-a", "--resume"])
    assert rc == 0
    assert _stored(runs_root)["run_id"].nunique() == 8


def test_sweep_refuses_bad_input_before_anything_runs(cluster, fleet_notebooks):
    from fraglib.fleet.sweep import sweep

    with pytest.raises(ParameterError, match="packets"):
        sweep(["t"], cluster=cluster, parameters={"packets": -1}, progress=False)
    with pytest.raises(ParameterError, match="notebook"):
        sweep(["nope"], cluster=cluster, progress=False)
    with pytest.raises(ParameterError, match="lost_after"):
        sweep(["t"], cluster=cluster, lost_after=0)


def test_cli_sweep_cluster_parses():
    from fraglib.cli import build_parser

    args = build_parser().parse_args(["sweep", "1.0-fastpath", "--cluster", "tcp://h:1",
                                      "--machines", "a,b", "--resume"])
    assert args.cluster == "tcp://h:1" and args.machines == "a,b" and args.resume


def _verdicts(kinds: dict) -> pd.DataFrame:
    """A fleet_verdicts()-shaped table: {(comparison, machine): (kind, effect)}."""
    rows = [{"comparison": c, "machine": m, "workload": "fastpath", "label_a": "topdown",
             "label_b": "bottomup", "kind": k, "effect": e, "ci_lo": e - 0.01,
             "ci_hi": e + 0.01, "mde": 0.01, "n_builds": 2, "n_pairs": 4, "id": "x"}
            for (c, m), (k, e) in kinds.items()]
    return pd.DataFrame(rows, columns=list(rfleet.VERDICT_COLUMNS))


def test_fleet_answer_says_where_a_verdict_does_not_hold():
    empty = _verdicts({})
    assert rfleet.fleet_answer(empty).startswith("not measured: no comparison")
    one = _verdicts({("b vs a", "m1"): ("slower", 1.02)})
    assert rfleet.fleet_answer(one) == ("not measured: only one machine in the store (m1), "
                                        "so whether its verdicts hold on other machines "
                                        "is not known")
    split = _verdicts({("b vs a", "m1"): ("slower", 1.02), ("b vs a", "m2"): ("slower", 1.01),
                       ("c vs a", "m1"): ("faster", 0.97), ("c vs a", "m2"): ("no difference",
                                                                              1.001),
                       ("d vs a", "m2"): ("slower", 1.3)})
    s = rfleet.fleet_answer(split)
    assert s.startswith("The verdict does not hold on every machine for 1 of 2 comparison(s)")
    assert "c vs a: m1 faster -3.00 %, m2 no difference +0.10 %" in s
    assert "(1 comparison(s) measured on one machine only are left out)" in s
    agree = rfleet.fleet_answer(split[split["comparison"] == "b vs a"])
    assert agree.startswith("Every verdict holds on every machine that measured it: "
                            "1 comparison(s) across 2 machines (m1, m2)")
    apart = _verdicts({("b vs a", "m1"): ("slower", 1.02), ("c vs a", "m2"): ("faster", 0.9)})
    assert rfleet.fleet_answer(apart).startswith("not measured: no comparison was run on "
                                                 "two or more")


def test_verdict_grid_and_forest_have_a_column_and_panel_per_machine():
    v = _verdicts({("b vs a", "m1"): ("slower", 1.02), ("b vs a", "m2"): ("faster", 0.98),
                   ("c vs a", "m1"): ("faster", 0.97)})
    grid = rfleet.verdict_grid(v)
    assert list(grid.columns) == ["comparison", "m1", "m2"]
    assert grid.set_index("comparison").loc["c vs a", "m2"] == "not measured here"
    assert grid.set_index("comparison").loc["b vs a", "m2"].startswith("faster -2.00 %")
    fig = rfleet.forest_faceted(v)
    assert [ax.get_title() for ax in fig.axes] == ["m1", "m2"]
    assert rfleet.verdict_grid(_verdicts({})).empty


def test_fleet_runs_on_an_empty_store_and_bad_filters(runs_root):
    runs = rfleet.fleet_runs()
    assert runs.empty and list(runs.columns) == list(rfleet.RUN_COLUMNS)
    assert rfleet.machines_overview(runs).empty
    assert rfleet.plot_across_machines(runs, ["topdown"], "fastpath").startswith(
        "not measured: no run of topdown on fastpath")
    with pytest.raises(ParameterError, match="colour"):
        rfleet.fleet_runs(colour="red")
    with pytest.raises(ParameterError, match=r"cpu_model.*\(no runs\)"):
        rfleet.fleet_runs(cpu_model="Z80")


def test_notebook_placement_and_page_names(tmp_path):
    from fraglib.fleet.sweep import _at, _titled, runs_on
    from fraglib.notebooks import notebook_paths

    where = {p.stem: runs_on(p) for p in notebook_paths()}
    assert where["9.0-fleet"] == "client" and where["1.0-fastpath"] == "machines"
    bad = tmp_path / "x.ipynb"
    bad.write_text(json.dumps({"cells": [], "metadata": {"fraglib": {"runs_on": "moon"}}}))
    with pytest.raises(ParameterError, match="runs_on"):
        runs_on(bad)
    assert _at("summary.txt", "m-a") == "summary@m-a.txt"
    nb = {"cells": [{"cell_type": "markdown", "source": "# 1.0 Title\n\ntext"}]}
    assert json.loads(_titled(json.dumps(nb), "m-b"))["cells"][0]["source"] == \
        "# 1.0 Title (machine m-b)\n\ntext"
