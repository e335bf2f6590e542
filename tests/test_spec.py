"""RunSpec: resolved and validated once, frozen, and a JSON round trip."""

import dataclasses
import json

import pytest

from fraglib import api
from fraglib.exceptions import ParameterError
from fraglib.spec import Labels, RunSpec
from fraglib.workloads import get_workload


def test_make_resolves_defaults_from_the_workload_and_run():
    s = RunSpec.make("topdown", "ring")
    ring = get_workload("ring").params
    assert s.params["size"] == ring.get("size", api.RUN_DEFAULTS["size"])
    assert s.params["packets"] == ring.get("packets", api.RUN_DEFAULTS["packets"])
    assert s.cpu == api.default_cpu()
    assert s.engine_params["workload"] == "ring" and s.engine_params["cpu"] == s.cpu
    assert s.two_threads and not RunSpec.make("topdown").two_threads


def test_round_trip_through_json_is_exact():
    s = RunSpec.make("bottomup", "fastpath", packets=4096, size=512, layout_seed=7,
                     extra_flags=("-DFRAG_SLOWDOWN=3",), env_pad=12, timeout=30,
                     labels=Labels(role="B", pair=1, build_id=2, process=5,
                                   comparison="abc", order="BA", name="bottomup+x"),
                     provenance={"aa": False})
    text = s.to_json()
    assert json.loads(text)["labels"]["role"] == "B"
    back = RunSpec.from_json(text)
    assert back == s and back.as_dict() == s.as_dict()
    assert RunSpec.from_dict(s.as_dict()) == s


def test_spec_is_frozen():
    s = RunSpec.make("topdown", packets=4096)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.design = "bottomup"
    with pytest.raises(TypeError):
        s.params["size"] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.labels.role = "A"


@pytest.mark.parametrize("kw, param", [
    (dict(design="nope"), "design"),
    (dict(workload="nope"), "workload"),
    (dict(size=0), "size"),
    (dict(packets=-1), "packets"),
    (dict(cpu=4096), "cpu"),
    (dict(dist="nope"), "dist"),
    (dict(layout_seed=-1), "layout_seed"),
    (dict(env_pad=4096), "env_pad"),
    (dict(timeout=0), "timeout"),
    (dict(extra_flags="-O0"), "extra_flags"),
    (dict(labels={"role": "C"}), "role"),
    (dict(labels={"pair": -1}), "pair"),
    (dict(labels={"order": "AA"}), "order"),
    (dict(provenance={"x": object()}), "provenance"),
    (dict(packets=10 ** 12), "packets"),               # too large to keep
])
def test_bad_fields_are_named(kw, param):
    args = {"design": "topdown", "packets": 4096, **kw}
    with pytest.raises(ParameterError) as e:
        RunSpec.make(**args)
    assert e.value.param == param


def test_numpy_integers_and_0_1_counters_are_taken_as_python_values():
    import numpy as np

    s = RunSpec.make("topdown", packets=4096, layout_seed=np.int64(5), env_pad=np.int32(7),
                     counters=0)
    assert (s.layout_seed, s.env_pad, s.counters) == (5, 7, False)
    assert type(s.layout_seed) is int and type(s.env_pad) is int
    assert RunSpec.from_json(s.to_json()) == s
    with pytest.raises(ParameterError) as e:
        RunSpec.make("topdown", packets=4096, counters=2)
    assert e.value.param == "counters"


def test_unknown_stored_field_is_refused():
    d = RunSpec.make("topdown", packets=4096).as_dict()
    with pytest.raises(ParameterError) as e:
        RunSpec.from_dict({**d, "colour": "red"})
    assert e.value.param == "colour"


def test_derive_changes_labels_without_validating_params_again(monkeypatch):
    s = RunSpec.make("topdown", packets=4096)
    import fraglib.workloads as wl

    def boom(*a, **k):
        raise AssertionError("validated again")
    monkeypatch.setattr(wl, "validate_params", boom)
    d = s.derive(labels=Labels(role="A", pair=0), env_pad=3, layout_seed=9)
    assert d.params == s.params and d.labels.role == "A" and d.env_pad == 3
    with pytest.raises(ParameterError) as e:
        s.derive(env_pad=-1)
    assert e.value.param == "env_pad"
    with pytest.raises(ParameterError) as e:
        s.derive(design="bottomup")
    assert e.value.param == "design"


def test_run_does_not_validate_a_spec_again(monkeypatch, runs_root):
    s = RunSpec.make("null", packets=256, warmup=1)
    import fraglib.workloads as wl

    def boom(*a, **k):
        raise AssertionError("validated again")
    monkeypatch.setattr(wl, "validate_params", boom)
    r = api.run(s, root=runs_root, metadata=False)
    assert dict(r.spec) == s.as_dict()
    monkeypatch.undo()
    assert r.run_spec() == s
    assert r.params["packets"] == 256


def test_the_keyword_api_builds_the_same_spec(runs_root):
    r = api.run("null", packets=256, warmup=1, root=runs_root, metadata=False, env_pad=5)
    assert r.run_spec() == RunSpec.make("null", packets=256, warmup=1, env_pad=5)
