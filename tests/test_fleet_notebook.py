"""The 9.0-fleet notebook as ``make report`` runs it: one machine's store.

A plain ``fraglib sweep`` runs 9.0-fleet here, after the other notebooks,
on this machine's runs alone: the page shows the machine and its verdicts
and says, computed by fraglib, that whether they hold elsewhere was not
measured; no warning, traceback or machine path reaches the page. (Two
machines: tests/test_fleet_sweep.py.)
"""

import json

import pytest

from fraglib import notebooks
from fraglib.compare import compare
from fraglib.report import fleet

pytestmark = pytest.mark.slow


def test_fleet_notebook_on_one_machine(tmp_path, runs_root, clean_report):
    compare("topdown", "bottomup", builds=1, processes=2, packets=4096, warmup=2,
            metadata=False, progress=False)
    executed = notebooks.sweep(["9.0-fleet"], out_dir=tmp_path / "executed",
                               parameters={"resamples": 1000}, progress=False)
    nb = json.loads(executed[0].read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"]
                      if c["cell_type"] == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    answer = fleet.fleet_answer(fleet.fleet_verdicts(fleet.fleet_runs(), resamples=1000))
    assert answer == ("not measured: only one machine in the store (test), so whether "
                      "its verdicts hold on other machines is not known")
    assert answer in printed
    page = clean_report(executed)["9.0-fleet"]
    assert answer in page and "bottomup vs topdown (fastpath)" in page
    images = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
              if "image/png" in o.get("data", {})]
    assert len(images) == 2, "the runs by machine and the forest plot"
