"""The 8.0 kernel notebook end to end on the kernel-form test tree."""

import json

import pytest

import kernel_forms as K  # noqa: E402  (tests/ is on sys.path)
from fraglib import notebooks

# No timing is asserted (callgrind counts), so these share the parallel batch.
pytestmark = pytest.mark.slow


def outputs(path) -> str:
    """What the executed notebook showed (outputs only, not its code)."""
    out = []
    for c in json.loads(path.read_text())["cells"]:
        for o in c.get("outputs", []):
            out.append("".join(o.get("text", "")))
            for v in o.get("data", {}).values():
                out.append("".join(v) if isinstance(v, list) else str(v))
    return "\n".join(out)


def test_kernel_notebook_answers_on_the_fixture_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FRAGLIB_KERNEL_DIR", str(tmp_path / "kreg"))
    repo = K.make_repo(tmp_path / "linux")
    wt = tmp_path / "wt"
    K.git(repo, "worktree", "add", "--detach", str(wt), "v6.9")
    f = wt / "mm/page_alloc.c"
    head = "void page_frag_free(void *addr)\n{\n"
    f.write_text(f.read_text().replace(head, head + '\t__asm__ __volatile__("nop");\n'))
    K.git(wt, "commit", "-qam", "mm: page_frag: one more instruction")
    K.git(wt, "format-patch", "-1", "-o", str(tmp_path / "mail"))
    patch = next((tmp_path / "mail").glob("*.patch"))
    executed = notebooks.sweep(["8.0-kernel"], out_dir=tmp_path / "executed", parameters={
        "tree": str(repo), "base": "v6.9", "patches": [str(patch)], "builds": 1,
        "processes": 2, "packets": 2048, "callgrind_packets": 512})
    text = outputs(executed[0])
    assert "page_frag_free" in text                  # the touched function is named
    assert "+1.000 instructions per packet" in text  # the nop, counted by callgrind
    assert "Not measured" not in text


def test_kernel_notebook_without_a_tree_says_not_measured(tmp_path):
    executed = notebooks.sweep(["8.0-kernel"], out_dir=tmp_path / "executed", parameters={})
    assert "not measured: no tree and patches given" in outputs(executed[0])
