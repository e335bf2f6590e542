"""Shared fixtures: an isolated results store per test, small runs, a fresh
page model; and how ``make test`` spreads the tests over its two workers."""

import pytest

from fraglib.notebooks import skip_iri_format_checker

# about 2 s of CPU in every test process that imports nbformat (see its
# docstring): the notebook tests and xdist's workers
skip_iri_format_checker()

#: Test files that take longest, longest first (seconds on a quiet 2-core
#: machine, from ``--durations``).  ``make test`` runs ``--dist loadgroup
#: --no-loadscope-reorder``: each file is one unit of work (its module
#: fixtures run once), sent to whichever worker is free, in this order, then
#: every other file in collection order; so the long files start first and
#: the short ones fill the gaps at the end (longest-processing-time first).
#: A file listed here that no longer exists costs nothing.
SLOW_FIRST = (
    "test_notebooks_usecases_more.py",
    "test_fleet_sweep.py",
    "test_kernel_notebook.py",
    "test_fleet.py",
    "test_fleet_restart.py",
    "test_kernel.py",
    "test_notebooks_verdicts.py",
    "test_notebooks_usecases.py",
    "test_conformance.py",
    "test_notebooks.py",
    "test_stats.py",
    "test_valgrind.py",
    "test_workloads.py",
    "test_workload_experiments.py",
    "test_compare.py",
    "test_cli.py",
    "test_reliability.py",
    "test_c_sanitizers.py",
)

#: Files whose tests are independent units (no module-scoped fixture): each
#: test may go to either worker, so one file's long tests run side by side.
SPLIT = {"test_notebooks_usecases_more.py", "test_notebooks_usecases.py",
         "test_notebooks_verdicts.py", "test_conformance.py", "test_stats.py",
         "test_kernel_notebook.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Order the slow files first and group every other file's tests."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda it: rank.get(it.path.name, len(rank)))   # stable
    for it in items:
        if not any(True for _ in it.iter_markers("xdist_group")):
            unit = it.nodeid if it.path.name in SPLIT else it.path.name
            it.add_marker(pytest.mark.xdist_group(unit))


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
