"""The engine's parameter table (csrc/params.c) is the only one: Python reads
it through the library, checks values against it before any engine runs,
and the engine refuses the same values with a JSON error line."""

import json
import subprocess

import pytest

from fraglib import _core
from fraglib._build import build_engine
from fraglib.api import RUN_DEFAULTS
from fraglib.exceptions import ParameterError
from fraglib.workloads import ENGINE_PARAMS, validate_params


def test_every_parameter_is_documented():
    assert len(ENGINE_PARAMS) > 30
    for key, p in ENGINE_PARAMS.items():
        assert p.key == key and p.help.strip(), key


def test_numeric_defaults_lie_within_their_bounds():
    for p in ENGINE_PARAMS.values():
        if p.kind == "str":
            assert p.lo is None and p.hi is None, p.key
            assert p.default is None or p.default in p.choices or not p.choices, p.key
        else:
            assert p.lo <= p.default <= p.hi, p.key
            if p.kind == "pow2":
                assert p.default & (p.default - 1) == 0, p.key


def test_run_defaults_are_the_engines():
    doc = subprocess.run([str(build_engine("null").path), "packets=1", "counters=0"],
                         capture_output=True, text=True, check=True).stdout
    params = json.loads(doc)["params"]
    for key in ("size", "align", "batch", "warmup"):
        assert RUN_DEFAULTS[key] == params[key], key
    assert RUN_DEFAULTS["packets"] == ENGINE_PARAMS["packets"].default


@pytest.mark.parametrize("key", ["size", "batch", "mss", "cache_line", "ring_size"])
def test_python_and_engine_refuse_past_the_upper_bound(key):
    """One table, two checkers: both name the same bound."""
    hi = ENGINE_PARAMS[key].hi
    with pytest.raises(ParameterError) as e:
        validate_params("fastpath", {key: hi + 1})
    assert e.value.param == key and f", {hi}]" in e.value.allowed
    p = subprocess.run([str(build_engine("topdown").path), f"{key}={hi + 1}"],
                       capture_output=True, text=True)
    err = json.loads(p.stderr.strip().splitlines()[-1])
    assert p.returncode == 2 and err["error"] == "parameter" and err["key"] == key
    assert f", {hi}]" in err["allowed"]


def test_choices_come_from_the_table():
    assert ENGINE_PARAMS["small_heads"].choices == ("slicer1k", "kmalloc", "design")
    with pytest.raises(ParameterError, match="slicer1k, kmalloc, design"):
        validate_params("rx", {"small_heads": "slab"}, design="topdown")


def test_the_cdef_keeps_every_integer_constant_of_the_header():
    header = _core.HEADER.read_text()
    names = [ln.split()[1] for ln in header.splitlines()
             if ln.startswith("#define ") and len(ln.split()) > 2]
    assert "FRAG_SIZE_MAX" in names
    for name in names:
        assert isinstance(getattr(_core.consts, name), int), name
