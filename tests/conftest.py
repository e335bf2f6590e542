"""Shared fixtures: an isolated results store per test, small runs."""

import pytest


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    """A private runs directory; FRAGLIB_DATA points at it too."""
    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    root = tmp_path / "data" / "runs"
    return root


@pytest.fixture
def small():
    """Keyword arguments for a quick, deterministic-metadata run."""
    return dict(packets=2048, warmup=2, metadata=False)
