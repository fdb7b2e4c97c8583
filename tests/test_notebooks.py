"""Contracts every stage notebook keeps: names, parameters cell, narration, clean metadata."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest

from mlworkflow.config import NOTEBOOKS
from mlworkflow.params import RUN_NAMES, STAGES, load_params, section_class

NOTEBOOK_FILES = {p.stem.split("_", 1)[1]: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}


def test_one_name_per_stage_everywhere(root: Path) -> None:
    assert list(NOTEBOOK_FILES) == list(STAGES), "notebooks must be NN_<stage>.ipynb in stage order"
    numbers = [p.name[:2] for p in NOTEBOOK_FILES.values()]
    assert numbers == [f"{i:02d}" for i in range(1, len(STAGES) + 1)]
    for stage in STAGES:
        assert (root / "lib" / "mlworkflow" / "stages" / f"{stage}.py").is_file(), f"module for stage {stage}"
        assert (root / "tests" / "stages" / f"test_{stage}.py").is_file(), f"tests for stage {stage}"
        assert section_class(stage).__name__ == f"{stage.capitalize()}Params"


@pytest.mark.parametrize("stage", STAGES)
def test_parameters_cell_matches_schema(stage: str) -> None:
    path = NOTEBOOK_FILES[stage]
    tagged = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    inspected = papermill.inspect_notebook(str(path))
    expected = set(section_class(stage).model_fields) | set(RUN_NAMES)
    assert set(inspected) == expected


@pytest.mark.parametrize("stage", STAGES)
def test_defaults_equal_smoke_params(stage: str, root: Path) -> None:
    inspected = papermill.inspect_notebook(str(NOTEBOOK_FILES[stage]))
    defaults = {name: ast.literal_eval(value["default"]) for name, value in inspected.items()}
    smoke = load_params(root / "params" / "smoke.yaml")
    section = section_class(stage).model_validate(
        {k: v for k, v in defaults.items() if k not in RUN_NAMES}, context={"base": NOTEBOOKS}
    )
    assert section == getattr(smoke, stage)
    assert defaults["seed"] == smoke.run.seed
    assert defaults["artifacts"] == "../runs/lab/artifacts"
    assert (NOTEBOOKS / defaults["params_file"]).resolve() == (root / "params" / "smoke.yaml").resolve()


@pytest.mark.parametrize("stage", STAGES)
def test_notebook_narrates_and_lib_computes(stage: str) -> None:
    nb = nbformat.read(NOTEBOOK_FILES[stage], as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "an H1 title first"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source.replace("%", "#"))
        defined = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not defined, f"{stage}: define functions and classes in lib/, not in the notebook"
        if "parameters" not in cell.metadata.get("tags", []):
            assert len(cell.source.splitlines()) <= 15, f"{stage}: a code cell longer than 15 lines"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, "markdown cells say why"


@pytest.mark.parametrize("stage", STAGES)
def test_committed_notebook_is_clean(stage: str) -> None:
    nb = nbformat.read(NOTEBOOK_FILES[stage], as_version=4)
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "committed with outputs from a full run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    for cell in code:
        assert "execution" not in cell.metadata
