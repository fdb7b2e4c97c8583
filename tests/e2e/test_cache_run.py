"""The stage cache end to end on a tiny smoke workflow: a second run reuses every stage without a kernel, a
params change to evaluate re-runs evaluate and what follows, a lib edit re-runs only the stage importing it,
a forced deploy of an identical bundle keeps its registry version, and deleting a run leaves the others whole."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from mlworkflow import io
from mlworkflow.config import NOTEBOOKS
from mlworkflow.params import STAGES, Params, load_params
from mlworkflow.records import DeployRecord
from mlworkflow.workflow import cache, runner, runstate

pytestmark = pytest.mark.e2e

TINY = [
    "data.sample_rows=600", "select.candidates=[logistic,naive_bayes]", "select.max_rows=400", "select.top_k=1",
    "train.n_iter=2", "train.learning_curve=false", "train.validation_curve=false", "evaluate.bootstrap=50",
    "evaluate.permutation_repeats=1", "evaluate.threshold_folds=2", "monitor.bootstrap=50", "monitor.test_rows=300",
]


def run(params: Params, root: Path, lib: Path, force: Sequence[str] = ()) -> runner.RunResult:
    """One in-process run of every stage under root, keys taken from the copies of lib and the notebooks beside it."""
    notebooks = lib.parents[1] / "notebooks"
    request = runner.RunRequest(
        params=params, params_source="smoke.yaml", root=root, lib=lib, force=force, notebooks=notebooks
    )
    result = runner.run(request, echo=print)
    assert result.error is None, result.error
    return result


def outcomes(result: runner.RunResult) -> dict[str, str]:
    return {s.stage: s.reason for s in result.stages}


def deployed(result: runner.RunResult) -> str:
    return io.Artifacts(result.layout.artifacts).read(DeployRecord).ref


def refuse_kernel(_session: runner.KernelSession) -> float:
    raise AssertionError("a run whose stages are all stored started a kernel")


def test_stages_are_reused_by_content_and_rerun_with_a_reason(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib" / "mlworkflow"
    shutil.copytree(cache.LIB, lib, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    params = load_params(root / "params" / "smoke.yaml", TINY)
    first = run(params, tmp_path / "root", lib)
    assert outcomes(first) == dict.fromkeys(STAGES, "ran: first run")

    with monkeypatch.context() as patched:
        patched.setattr(runner.KernelSession, "start", refuse_kernel)
        second = run(params, tmp_path / "root", lib)
    assert outcomes(second) == dict.fromkeys(STAGES, f"reused from {first.layout.run_id}")
    assert "reused from " + first.layout.run_id in second.index.read_text(encoding="utf-8")

    rebooted = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"bootstrap": 60})})
    third = run(rebooted, tmp_path / "root", lib)
    assert outcomes(third) == {
        **dict.fromkeys(STAGES[:4], f"reused from {first.layout.run_id}"),
        "evaluate": "ran: params evaluate.bootstrap changed", "deploy": "ran: upstream stage re-ran",
        "monitor": "ran: upstream stage re-ran",
    }
    assert deployed(third) != deployed(first)  # the bundle's metrics differ: a new version

    widgets = lib / "views" / "widgets.py"  # imported by 05_evaluate alone
    widgets.write_text(widgets.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    fourth = run(params, tmp_path / "root", lib, force=["deploy"])
    reasons = outcomes(fourth)
    assert reasons["evaluate"].startswith("ran: ") and "lib/mlworkflow/views/widgets.py changed" in reasons["evaluate"]
    assert {s: r for s, r in reasons.items() if s != "evaluate"} == {
        **dict.fromkeys(STAGES[:4], f"reused from {first.layout.run_id}"), "deploy": "ran: forced",
        "monitor": f"reused from {first.layout.run_id}",  # evaluate and deploy wrote the same bytes again
    }
    assert deployed(fourth) == deployed(first)  # an identical bundle keeps its version

    shutil.rmtree(first.layout.run_dir)
    shutil.rmtree(first.layout.reports)
    state = runstate.read(second.layout.state_file)
    for stage, files in state.outputs.items():
        for name, sha in files.items():
            assert io.file_sha256(second.layout.artifacts / name) == sha, (stage, name)
    assert len(list(second.layout.reports.glob("[0-9][0-9]_*.html"))) == len(STAGES)
    assert len(list(second.layout.executed.glob("*.ipynb"))) == len(STAGES)
