"""Tests of the run layout: one place says where a run's files, reports and the registry lie."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlworkflow import layout
from mlworkflow.errors import ParamsError
from mlworkflow.layout import RunLayout


def test_a_run_keeps_its_files_under_runs_and_its_pages_under_reports(tmp_path: Path) -> None:
    run = RunLayout(tmp_path, "smoke-1")
    assert run.artifacts == tmp_path / "runs" / "smoke-1" / "artifacts"
    assert run.executed == tmp_path / "runs" / "smoke-1" / "notebooks"
    assert run.state_file == tmp_path / "runs" / "smoke-1" / "state.json"
    assert run.params_file == tmp_path / "runs" / "smoke-1" / "params.json"
    assert run.retrain_inputs == tmp_path / "runs" / "smoke-1" / "retrain"
    assert run.reports == tmp_path / "reports" / "smoke-1"
    assert run.index == tmp_path / "reports" / "smoke-1" / "index.html"
    assert run.retrain_page == tmp_path / "reports" / "smoke-1" / "retrain.html"


def test_pages_about_every_run_lie_in_reports(tmp_path: Path) -> None:
    assert layout.runs_listing(tmp_path) == tmp_path / "reports" / "index.html"
    assert layout.export_file(tmp_path, "a") == tmp_path / "reports" / "a.html"
    assert layout.compare_file(tmp_path, ["a", "b"]) == tmp_path / "reports" / "compare-a-vs-b.html"
    assert len(layout.compare_file(tmp_path, ["x" * 150] * 3).name) == len("compare-") + 180 + len(".html")


def test_new_run_id_never_reuses_a_folder(tmp_path: Path) -> None:
    first = layout.new_run_id("x", tmp_path)
    (tmp_path / "runs" / first).mkdir(parents=True)
    second = layout.new_run_id("x", tmp_path)
    (tmp_path / "reports" / second).mkdir(parents=True)
    third = layout.new_run_id("x", tmp_path)
    assert len({first, second, third}) == 3 and all(r.startswith("x-") for r in (second, third))


def test_monitor_and_retrain_runs_are_named_after_their_purpose(tmp_path: Path) -> None:
    assert layout.monitor_run_id("adult", tmp_path).startswith("adult-monitor-2")
    assert layout.retrain_run_id("adult", tmp_path).startswith("adult-retrain-2")


def test_a_relative_registry_lies_in_the_run_root(tmp_path: Path) -> None:
    artifacts = RunLayout(tmp_path, "smoke-1").artifacts
    assert layout.registry_root("models", artifacts) == tmp_path.resolve() / "models"
    assert layout.registry_root("/abs/models", artifacts) == Path("/abs/models")
    assert RunLayout(tmp_path, "smoke-1").registry("models") == tmp_path / "models"
    assert layout.registry_in(tmp_path, Path("/abs/models")) == Path("/abs/models")


def test_outside_a_runs_tree_a_relative_registry_lies_next_to_the_artifacts(tmp_path: Path) -> None:
    assert layout.root_of(tmp_path / "elsewhere") == tmp_path.resolve()
    assert layout.registry_root("models", tmp_path / "elsewhere") == tmp_path.resolve() / "models"


def test_the_default_prediction_log_lies_in_the_models_registry_folder(tmp_path: Path) -> None:
    assert layout.prediction_log(tmp_path, "adult") == tmp_path / "adult" / "predictions.sqlite"


@pytest.mark.parametrize("run_id", ["smoke-20261201-120000", "a", "A.b_c-1", "x" * 128])
def test_a_run_id_is_one_folder_name(run_id: str) -> None:
    assert layout.check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id", ["../../escaped", "a/b", "/abs", ".hidden", "..", "-flag", "", "a b", "a\\b", "x" * 129, "é", "a\x00"]
)
def test_a_run_id_that_is_a_path_or_not_a_name_is_refused_naming_the_argument(run_id: str) -> None:
    with pytest.raises(ParamsError) as raised:
        layout.check_run_id(run_id, "--resume")
    assert str(raised.value) == f"command line: key '--resume': expected {layout.RUN_ID_RULE}, found {run_id!r}."


def test_an_id_is_taken_by_a_run_s_state_params_or_reports_not_by_a_retrain_s_inputs(tmp_path: Path) -> None:
    run = RunLayout(tmp_path, "r1")
    run.retrain_inputs.mkdir(parents=True)
    assert not layout.is_taken(tmp_path, "r1")
    for made in (run.state_file, run.params_file, run.reports):
        made.parent.mkdir(parents=True, exist_ok=True)
        made.mkdir() if made == run.reports else made.write_text("{}")
        assert layout.is_taken(tmp_path, "r1")
        made.rmdir() if made == run.reports else made.unlink()
