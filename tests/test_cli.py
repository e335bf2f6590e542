"""The command line and the package surface: ``python -m fraglib``, the
version, ``fraglib workloads``, YAML-typed ``-p`` values, refusing an
undeclared notebook parameter, keeping a failed notebook, ``make lab`` as
root, and ``fraglib.designs()`` / ``fraglib.workloads()`` alike.

Sweeps here run two tiny notebooks written into tmp_path (no engine runs).
"""

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fraglib
from fraglib import cli
from fraglib.resume import RESUME_VAR, SCOPE_VAR

ROOT = Path(__file__).resolve().parents[1]


def _python_m(*args):
    return subprocess.run([sys.executable, "-m", "fraglib", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


# ---- entry points and version ------------------------------------------------

def test_python_m_fraglib_is_the_console_script():
    tomllib = pytest.importorskip("tomllib")
    want = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert fraglib.__version__ == importlib.metadata.version("fraglib") == want
    out = _python_m("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"fraglib {want}"
    script = Path(sys.executable).parent / "fraglib"
    if script.exists():                       # the venv's console script
        same = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                              timeout=120)
        assert same.stdout == out.stdout
    helped = _python_m("--help")
    assert helped.returncode == 0
    for command in ("info", "designs", "workloads", "run", "compare", "sweep", "report"):
        assert command in helped.stdout


def test_python_m_fraglib_maps_bad_input_to_exit_2():
    out = _python_m("workloads", "nosuch")
    assert out.returncode == 2
    assert out.stderr.startswith("fraglib: error: invalid workload='nosuch': one of ")


# ---- registries ---------------------------------------------------------------

def test_designs_and_workloads_are_both_callable_registries():
    ws = fraglib.workloads()
    assert [w.name for w in ws] == list(fraglib.workload_names())
    assert all(isinstance(w, fraglib.Workload) for w in ws)
    ds = fraglib.designs()
    assert [d.name for d in ds] == list(fraglib.design_names())
    assert all(isinstance(d, fraglib.Design) for d in ds)
    # ... and still the modules: attributes and every import spelling work
    assert fraglib.workloads.get_workload("rx") is fraglib.get_workload("rx")
    assert fraglib.designs.get_design("topdown") == fraglib.get_design("topdown")
    assert "smoke" in fraglib.workloads.RING_PRESETS
    d = importlib.import_module("fraglib.designs")
    assert d is fraglib.designs and d.designs() == ds
    from fraglib.designs import designs as listing
    assert listing() == ds
    # run's docstring points at functions that exist
    assert ":func:`fraglib.workload_names`" in fraglib.run.__doc__
    assert ":func:`fraglib.design_names`" in fraglib.run.__doc__


def test_designs_command_lists_every_design(capsys):
    assert cli.main(["designs"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list(fraglib.design_names())


# ---- fraglib workloads --------------------------------------------------------

def test_workloads_lists_every_parameter_with_default_and_the_c_help(capsys):
    from fraglib.workloads import c_param_table

    table = c_param_table()
    # a help text as csrc/params.c writes it, not a Python copy
    assert table["size"]["help"] == "fragment size in bytes"
    assert cli.main(["workloads"]) == 0
    text = capsys.readouterr().out
    for w in fraglib.workloads():
        assert f"\n{w.name} (" in "\n" + text
        for key, default in w.params.items():
            assert f"    {key}={default} " in text, (w.name, key)
    for line in text.splitlines():
        if line.startswith("    ") and "=" in line:
            key = line.split("=", 1)[0].strip()
            assert line.rstrip().endswith(table[key]["help"]), line

    assert cli.main(["workloads", "--json", "rx"]) == 0
    (rx,) = json.loads(capsys.readouterr().out)
    want = fraglib.get_workload("rx")
    assert rx["name"] == "rx" and rx["help"] == want.help
    assert {k: p["default"] for k, p in rx["params"].items()} == dict(want.params)
    q = rx["params"]["queue_depth"]
    assert (q["type"], q["help"]) == (table["queue_depth"]["type"],
                                      table["queue_depth"]["help"])


# ---- -p KEY=VALUE read as YAML ---------------------------------------------------

@pytest.mark.parametrize("text,want", [
    ("sizes=[256,1500]", [256, 1500]),
    ("packets=1000", 1000),
    ("scale=0.5", 0.5),
    ("budget_s=1e3", 1000.0),            # YAML 1.1 leaves 1e3 a string; Python does not
    ("remote=[false,true]", [False, True]),
    ("remote=[False]", [False]),
    ("dist=imix", "imix"),
    ("dist=fixed:256", "fixed:256"),
    ("dist=uniform:60-1500", "uniform:60-1500"),
    ("modes=['2048','75']", ["2048", "75"]),
    ("others=null", None),
    ("workload_params={tx: {packets: 512}}", {"tx": {"packets": 512}}),
    ("t=1:30", "1:30"),                  # not 90 (YAML 1.1 base 60)
    ("day=2024-01-01", "2024-01-01"),    # not a datetime.date
])
def test_param_values_are_yaml(text, want):
    for command in (["sweep"], ["run", "topdown"], ["compare", "topdown", "bottomup"]):
        args = cli.build_parser().parse_args([*command, "-p", text])
        (key, value), = args.param
        assert key == text.split("=", 1)[0]
        assert value == want and type(value) is type(want), (text, value)


def test_bad_yaml_is_a_usage_error_naming_the_key(capsys):
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["sweep", "-p", "sizes=[256,"])
    assert e.value.code == 2
    assert "the value of sizes in 'sizes=[256,' is not YAML" in capsys.readouterr().err


# ---- sweep: undeclared keys, YAML types, failed notebooks -----------------------

def test_undeclared_key_is_refused_naming_it_and_the_declared_ones(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    assert cli.main(["sweep", "1.0-fastpath", "-p", "sizse=[256]"]) == 2
    assert capsys.readouterr().err == (
        "fraglib: error: invalid sizse=[256]: a parameter declared by 1.0-fastpath: "
        "alignments, designs, packets, repeats, seed, sizes (did you mean sizes?)\n")
    assert not list(tmp_path.rglob("*")), "nothing ran, nothing was written"


def _write_notebook(path, parameters, *cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), params,
                *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def tiny_notebooks(tmp_path, monkeypatch):
    """Two notebooks: a-types writes its parameters out, b-fails raises unless told."""
    src = tmp_path / "notebooks"
    src.mkdir()
    _write_notebook(src / "a-types.ipynb", 'sizes = [64]\npackets = 10\nout = ""',
                    "import json\njson.dump({'sizes': sizes, 'packets': packets}, "
                    "open(out, 'w'))")
    _write_notebook(src / "b-fails.ipynb", "fail = True",
                    "print('reached the cell before')",
                    "if fail:\n    raise RuntimeError('boom 42')")
    monkeypatch.setenv("FRAGLIB_NOTEBOOKS", str(src))
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv(RESUME_VAR, "0")       # cmd_sweep sets these: restore them after
    monkeypatch.setenv(SCOPE_VAR, "")
    return tmp_path


def test_sweep_passes_yaml_types_and_keeps_the_failed_notebook(tiny_notebooks, capsys):
    tmp = tiny_notebooks
    seen = tmp / "seen.json"
    rc = cli.main(["sweep", "-p", "sizes=[256,1500]", "-p", "packets=1000",
                   "-p", f"out={seen}"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert json.loads(seen.read_text()) == {"sizes": [256, 1500], "packets": 1000}

    executed, failed = tmp / "reports" / "executed", tmp / "reports" / "failed"
    kept = failed / "b-fails.ipynb"
    assert sorted(p.name for p in executed.iterdir()) == ["a-types.ipynb"]
    assert [p.name for p in failed.iterdir()] == ["b-fails.ipynb"]
    assert (f"fraglib: error: notebook b-fails.ipynb failed in cell 3: RuntimeError: "
            f"boom 42; the partial notebook, with the error at the top, is {kept}") in err
    assert "1 of 2 notebooks failed: b-fails" in err

    nb = json.loads(kept.read_text())
    text = json.dumps(nb)
    assert "An Exception was encountered at" in text          # papermill's banner
    assert "reached the cell before" in text and "boom 42" in text
    assert nb["cells"][0]["cell_type"] == "markdown"           # the banner comes first

    # a later successful run of the notebook removes the stale failed copy
    assert cli.main(["sweep", "b-fails", "-p", "fail=false"]) == 0
    assert not kept.exists()
    assert (executed / "b-fails.ipynb").exists()


# ---- make lab -------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_lab_allows_root_only_as_root(tmp_path):
    def lab(*extra):
        out = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "lab",
                              f"VENV={tmp_path / 'venv'}", *extra],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        (line,) = [x for x in out.stdout.splitlines() if "jupyter lab" in x]
        return line

    assert lab("LAB_UID=0").endswith("jupyter lab --allow-root notebooks")
    assert lab("LAB_UID=1000").endswith("jupyter lab notebooks")
    assert ("--allow-root" in lab()) == (os.geteuid() == 0)


def test_integers_become_text_where_the_notebooks_declare_strings():
    from fraglib.nbparams import strings_as_declared, validate_notebook_params
    from fraglib.notebooks import notebook_paths

    ring = notebook_paths(["4.0-ring"])
    args = cli.build_parser().parse_args(["sweep", "4.0-ring", "-p", "modes=[2048,75]",
                                          "-p", "packets=1000", "-p", "baseline=true"])
    got = strings_as_declared(ring, dict(args.param))
    assert got == {"modes": ["2048", "75"], "packets": 1000, "baseline": True}
    validate_notebook_params(ring, {k: got[k] for k in ("modes", "packets")})
    with pytest.raises(fraglib.ParameterError, match="invalid baseline=True: a str"):
        validate_notebook_params(ring, got)      # a YAML bool is not guessed back
