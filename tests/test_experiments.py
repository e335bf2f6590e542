"""fraglib.experiments.grid: warnings of a run become a flag column."""

import types
import warnings

import numpy as np

from fraglib import experiments


def test_grid_turns_run_warnings_into_a_flag(monkeypatch):
    def fake_run(design, workload, **kw):
        if design == "malloc":
            warnings.warn("malloc/fastpath: 4 page faults in the timed region (arena not "
                          "prefaulted?)", RuntimeWarning, stacklevel=2)
        cpp = np.array([10.0, 11.0])
        return types.SimpleNamespace(median_cycles_per_packet=10.5, value_cycles_per_packet=10.5,
                                     cycles_per_packet=cpp,
                                     ns_per_packet=cpp / 2.4, run_id=f"{design}-x")

    monkeypatch.setattr(experiments, "run", fake_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # nothing may escape as a warning
        df = experiments.grid(["topdown", "malloc"], "fastpath", [{"size": 256}], repeats=1,
                              progress=False)
    flags = dict(zip(df["design"], df["flag"]))
    assert flags["topdown"] == ""
    assert flags["malloc"].startswith("malloc/fastpath: 4 page faults in the timed region")
