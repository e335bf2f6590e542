"""Shared fixtures: an isolated results store per test, small runs, a fresh
page model."""

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


@pytest.fixture
def clean_report(tmp_path):
    """Render executed notebooks; fail on warnings, tracebacks or machine paths.

    Returns a function ``check(executed) -> {stem: html}``.
    """
    from fraglib import notebooks
    from fraglib.report import hygiene

    def check(executed):
        out = tmp_path / "rendered"
        notebooks.report(executed, out_dir=out)
        pages = {p.stem: (out / f"{p.stem}.html").read_text() for p in executed}
        for stem, html in pages.items():
            found = hygiene.problems(html, [tmp_path])
            assert not found, f"{stem}.html shows:\n" + "\n".join(found[:10])
        return pages

    return check


@pytest.fixture
def page_model():
    """A fresh in-process page model (8 MiB arena) for the test; afterwards
    the per-CPU lists are drained, and every page must be back and the
    model consistent.  Modules that want it for every test say
    ``pytestmark = pytest.mark.usefixtures("page_model")``."""
    from fraglib.cache import PageModel, check_page_model, drain_pcp, init_page_model

    init_page_model(8)
    yield
    drain_pcp()
    assert PageModel.read().pages_in_use == 0, "a test leaked pages"
    check_page_model()
