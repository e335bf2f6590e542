"""The Python parameter table (checked before any build) agrees with the C one.

fraglib refuses bad input in Python first, so an error never waits on a
compiler; the engine checks again. This test keeps the two tables from
drifting apart: same keys, same kinds, same bounds.
"""

import json
import subprocess

from fraglib._build import build_engine
from fraglib.workloads import ENGINE_PARAMS


def _c_table():
    out = subprocess.run([str(build_engine("topdown").path), "--describe"],
                         capture_output=True, text=True, check=True).stdout
    return {row["key"]: row for row in json.loads(out)}


def test_same_keys_kinds_and_bounds():
    c = _c_table()
    assert set(c) == set(ENGINE_PARAMS)
    for key, (kind, lo, hi) in ENGINE_PARAMS.items():
        row = c[key]
        assert row["type"] == kind, key
        if kind == "str":
            assert row["min"] is None and row["max"] is None
        else:
            assert (row["min"], row["max"]) == (lo, hi), key


def test_every_parameter_is_documented():
    assert all(row["help"].strip() for row in _c_table().values())
