"""Notebooks 4.0-6.0 of test_notebooks_usecases.py's TINY set (a file of their
own; conftest.py's SPLIT lets each notebook go to either xdist worker)."""

import pytest

from test_notebooks_usecases import FIRST, TINY, run_and_check

pytestmark = pytest.mark.slow

REST = tuple(name for name in sorted(TINY) if name not in FIRST)


def test_the_two_files_cover_every_notebook():
    assert REST and set(FIRST) | set(REST) == set(TINY)


@pytest.mark.parametrize("name", REST)
def test_notebook_runs_with_tiny_parameters(name, tmp_path, monkeypatch, clean_report):
    run_and_check(name, tmp_path, monkeypatch, clean_report)
