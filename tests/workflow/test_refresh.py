"""Refreshing committed notebooks: volatile metadata goes, tags and outputs stay."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from mlworkflow.workflow.refresh import clean


def test_clean_strips_volatile_metadata_and_keeps_tags_and_outputs() -> None:
    cell = new_code_cell("x = 1", metadata={"tags": ["parameters"], "execution": {"iopub.status.busy": "2026-12-01T10:00:00Z"}, "scrolled": True})
    cell.outputs = [new_output("stream", text="1\n")]
    nb = new_notebook(cells=[cell], metadata={"widgets": {}, "papermill": {}, "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    cleaned = clean(nb)
    assert set(cleaned.metadata) == {"kernelspec"}
    assert cleaned.cells[0].metadata == {"tags": ["parameters"]}
    assert "id" not in cleaned.cells[0] and cleaned.nbformat_minor == 4
    assert cleaned.cells[0].outputs[0]["text"] == "1\n"
