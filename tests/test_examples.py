"""The example notebooks are valid nbformat 4 JSON whose code cells compile and use only sciml's public API."""
import ast
import json
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.ipynb"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_notebook_cells_compile_and_imports_resolve(path):
    import importlib

    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    for cell in code:
        tree = ast.parse("".join(cell["source"]))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("sciml"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"


def test_there_is_a_quickstart():
    assert any(p.name == "quickstart.ipynb" for p in EXAMPLES)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_notebook_runs_end_to_end_without_warnings(path, tmp_path, monkeypatch):
    """Execute every cell in a kernel of this interpreter (the project's venv); no cell may raise,
    and nothing a user would wonder about (warnings, tracebacks) may reach the output."""
    import os
    import sys

    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")

    nb = nbformat.read(path, as_version=4)
    # the kernel runs this interpreter, with this checkout first on its path (a worktree, not the install)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                      os.environ.get("PYTHONPATH", "")]))
    spec_dir = tmp_path / "jupyter" / "kernels" / "sciml-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sciml (test)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    client = nbclient.NotebookClient(nb, kernel_name="sciml-test", timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            assert "Warning" not in text and "Traceback" not in text, f"cell {i} printed: {text[:500]}"
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "test relative L2" in printed, printed
