"""Builds are automatic, cached by content, and fail clearly."""

import pytest

from fraglib import _build
from fraglib.exceptions import BuildError, UnknownNameError


def test_engine_is_cached_by_hash():
    a = _build.build_engine("topdown")
    b = _build.build_engine("topdown")
    assert a.path == b.path and a.path.exists()
    assert a.key != _build.build_engine("topdown", stats=True).key


def test_layout_variants_are_distinct_binaries():
    a = _build.build_engine("topdown", layout_seed=1)
    b = _build.build_engine("topdown", layout_seed=2)
    assert a.key != b.key
    assert a.path.read_bytes() != b.path.read_bytes()
    assert a.as_dict()["layout_seed"] == 1


def test_unknown_design_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="design.*topdown"):
        _build.build_engine("nope")


def test_missing_compiler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("PATH", str(tmp_path))
    _build.compiler.cache_clear()
    try:
        with pytest.raises(BuildError, match="install"):
            _build.compiler()
    finally:
        _build.compiler.cache_clear()


def test_build_failure_carries_compiler_output(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGLIB_BUILD_DIR", str(tmp_path))
    with pytest.raises(BuildError, match="failed") as e:
        _build.build_engine("topdown", extra_flags=("-DFRAG_DESIGN_BROKEN", "-include",
                                                   "no/such/header.h"))
    assert "no/such/header.h" in str(e.value)
    assert not list(tmp_path.rglob("fraglib-engine-topdown"))
