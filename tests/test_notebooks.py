"""The worked examples in notebooks/ run from top to bottom (with small settings), so they cannot go stale."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS] == ["01-compress", "02-tokens", "03-train"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("VCODEC_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    notebook = nbformat.read(path, as_version=4)
    # no time limit per cell: VCODEC_NOTEBOOK_QUICK bounds the work (steps, sizes) instead
    NotebookClient(
        notebook,
        timeout=None,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error"
    ]
    assert not errors
    text = "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "Traceback" not in text and "error:" not in text, text[-2000:]
