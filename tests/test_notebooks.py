"""The fastpath notebook runs under papermill and renders to a report."""

import json
import re

import pytest

from fraglib import notebooks
from fraglib.exceptions import ParameterError

pytestmark = pytest.mark.slow


def test_every_notebook_has_a_tagged_parameters_cell():
    paths = notebooks.notebook_paths()
    assert any(p.stem == "1.0-fastpath" for p in paths)
    for p in paths:
        nb = json.loads(p.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, p.name
        code = "".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                       for c in nb["cells"] if c["cell_type"] == "code")
        assert "\ndef " not in "\n" + code and "\nclass " not in "\n" + code, \
            f"{p.name}: logic belongs in fraglib, not the notebook"


def test_papermill_reads_every_parameter_line():
    """A comment papermill cannot parse hides the parameter from it (and from
    fraglib.nbparams): every ``name = value`` line must come back."""
    import nbformat
    from papermill.translators import PythonTranslator

    for p in notebooks.notebook_paths():
        nb = json.loads(p.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {})
                    .get("tags", []))
        src = "".join(cell["source"])
        names = re.findall(r"^([A-Za-z_]\w*)\s*=", src, flags=re.M)
        parsed = [q.name for q in PythonTranslator.inspect(nbformat.v4.new_code_cell(src))]
        assert parsed == names, p.name


def test_fastpath_notebook_sweeps_and_reports(tmp_path, monkeypatch, clean_report):
    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    executed = notebooks.sweep(["1.0-fastpath"], out_dir=tmp_path / "executed",
                               parameters={"sizes": [256], "packets": 1024, "repeats": 2},
                               progress=False)
    assert [p.name for p in executed] == ["1.0-fastpath.ipynb"]
    index = notebooks.report(executed, out_dir=tmp_path / "reports")
    html = (tmp_path / "reports" / "1.0-fastpath.html").read_text()
    assert "data:image/png;base64" in html, "the figure is rendered"
    assert "fastpath_grid" not in html, "code cells are left out"
    # the closing answer is what fraglib computed from this run's data (printed
    # by report.answers.headline), not words of the notebook's own markdown
    nb = json.loads(executed[0].read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"]
                      if c["cell_type"] == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    answer = re.search(r"(bottomup was (faster|slower) than topdown in 1 of 1 cells|"
                       r"no difference between bottomup and topdown was resolved in any "
                       r"of 1 cells); per-cell cycles-per-packet ratio bottomup/topdown "
                       r"ranged from [+-]\d+\.\d % to [+-]\d+\.\d % \(after Holm "
                       r"correction, [01] cells unresolved\)\.", printed)
    assert answer, printed
    assert answer.group(0) in html, "the computed answer is in the report"
    assert "1.0-fastpath.html" in index.read_text()
    secs = notebooks.duration(executed[0])        # papermill's record, shown in the index
    assert secs is not None and secs > 0
    assert f"({secs:.0f} s)" in index.read_text()
    runs = list((tmp_path / "data" / "runs").rglob("*.parquet"))
    assert len(runs) == 2 * 1 * 2
    clean_report(executed)


def test_unknown_notebook_is_a_parameter_error():
    with pytest.raises(ParameterError, match="notebook"):
        notebooks.notebook_paths(["9.9-nope"])


def test_bad_notebook_parameter_names_it_and_leaves_no_copy(tmp_path, monkeypatch):
    from fraglib.exceptions import FraglibError

    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    out = tmp_path / "executed"
    with pytest.raises(FraglibError, match=r"invalid sizes=\[0\]: a list whose every "
                                           r"element is an integer in \[1, 4096\]"):
        notebooks.sweep(["1.0-fastpath"], out_dir=out, progress=False,
                        parameters={"sizes": [0], "packets": 1024, "repeats": 2})
    assert not list(out.glob("*.ipynb")), "no executed copy of a failed notebook"
    assert not list((tmp_path / "data").rglob("*.parquet")), "no result file"
