"""The runner on tiny fixture notebooks: order, shared kernel reset, failure evidence, resume."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mlworkflow.errors import MlwError, ParamsError
from mlworkflow.params import STAGES, Params, load_params
from mlworkflow.workflow import cache, runner, runstate
from tests import recordkit


def fixture_notebooks(
    folder: Path, broken: str | None = None, leak: bool = False, extra: Mapping[str, str] | None = None
) -> Path:
    """One trivial notebook per stage; `broken` raises; `leak` checks variables do not carry over; `extra` adds a cell."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, stage in enumerate(STAGES, start=1):
        parameters = new_code_cell("seed = 0\nartifacts = '.'")
        parameters.metadata["tags"] = ["parameters"]
        sha = "'sha256': 'feedbeef', " if stage == "data" else ""
        body = (  # the record a real run wrote, with a headline that shows the params reached the kernel
            "import json, pathlib\n"
            f"content = json.loads(pathlib.Path({str(recordkit.FIXTURES)!r}, '{stage}.json').read_text())\n"
            f"pathlib.Path(artifacts, '{stage}.json').write_text(json.dumps("
            f"{{**content, {sha}'headline': {{'stage': '{stage}', 'seed': seed}}}}))"
        )
        cells = [new_markdown_cell(f"# {stage}"), parameters, new_code_cell(body)]
        if leak:
            cells.append(new_code_cell(f"assert 'marker' not in globals()\nmarker = '{stage}'"))
        if extra and stage in extra:
            cells.append(new_code_cell(extra[stage]))
        if stage == broken:
            cells.append(new_code_cell("raise ValueError('column x: broken on purpose\\nmore detail')"))
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{number:02d}_{stage}.ipynb")
    return folder


@pytest.fixture(scope="module")
def params(root: Path) -> Params:
    return load_params(root / "params" / "smoke.yaml")


def request_for(params: Params, tmp_path: Path, notebooks: Path, **kwargs: object) -> runner.RunRequest:
    return runner.RunRequest(
        params=params, params_source="params/smoke.yaml", root=tmp_path, notebooks=notebooks, **kwargs
    )  # type: ignore[arg-type]


def my_sockets() -> list[Path]:
    """Kernel socket folders this test process's runs have left."""
    return sorted(Path(tempfile.gettempdir()).glob(f"{runner.SOCKETS_PREFIX}{os.getpid()}-*"))


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under a folder with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_runs_every_stage_in_one_reset_kernel(params: Params, tmp_path: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb", leak=True)
    lines: list[str] = []
    result = runner.run(request_for(params, tmp_path, notebooks), echo=lines.append)
    assert result.error is None
    assert [s.stage for s in result.stages] == list(STAGES)
    assert all(s.status == "ok" for s in result.stages)
    assert result.stages[0].kernel_s > 0 and result.stages[0].headline == {"stage": "data", "seed": 42}
    for stage in STAGES:
        assert (result.layout.executed / f"{STAGES.index(stage) + 1:02d}_{stage}.ipynb").is_file()
    index = result.index.read_text(encoding="utf-8")
    assert "feedbeef" in index and "kernel start" in index
    assert any(line.startswith(f"[{len(STAGES)}/{len(STAGES)}]") for line in lines)
    assert my_sockets() == []
    assert runstate.read(result.layout.state_file).status == "ok" and 'id="mlw-notice"' not in index


def test_failure_renders_report_and_stops(params: Params, tmp_path: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb", broken="preprocess")
    result = runner.run(request_for(params, tmp_path, notebooks), echo=lambda _m: None)
    error = result.error
    assert error is not None and error.stage == "preprocess" and error.ename == "ValueError"
    assert error.evalue == "column x: broken on purpose"
    assert error.cell == 4  # title, parameters, injected parameters, body, then the raise
    assert "--resume " + result.layout.run_id in error.resume
    page = Path(error.report).read_text(encoding="utf-8")
    assert "broken on purpose" in page and "mlw-status-failed" in page
    assert [s.stage for s in result.stages] == ["data", "preprocess"]
    assert "not run" in result.index.read_text(encoding="utf-8")
    assert my_sockets() == []  # removed after a failure too


def test_a_params_error_raised_by_stage_code_names_the_params_file(params: Params, tmp_path: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb")
    parameters = new_code_cell("seed = 0\nartifacts = '.'\nparams_file = 'elsewhere.yaml'")
    parameters.metadata["tags"] = ["parameters"]
    start = "from mlworkflow.views import notebook\nparams, store = notebook.start('train', globals())"
    stage_code = (  # as stage code raises it: the section as source, the key path from the section
        "from mlworkflow.errors import ParamsError, ParamsIssue\n"
        "raise ParamsError('train', [ParamsIssue('train.n_iter', 'at most 5 here', str(params.n_iter))])"
    )
    nb = new_notebook(cells=[new_markdown_cell("# train"), parameters, new_code_cell(start), new_code_cell(stage_code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebooks / "04_train.ipynb")
    result = runner.run(request_for(params, tmp_path, notebooks, stages=["train"]), echo=lambda _m: None)
    error = result.error
    assert error is not None and error.stage == "train" and error.ename == "ParamsError"
    assert error.evalue == f"params/smoke.yaml: key 'train.n_iter': expected at most 5 here, found {params.train.n_iter}."
    assert error.evalue in Path(error.report).read_text(encoding="utf-8")


def test_resume_skips_done_stages(params: Params, tmp_path: Path) -> None:
    broken = fixture_notebooks(tmp_path / "broken", broken="preprocess")
    first = runner.run(request_for(params, tmp_path, broken), echo=lambda _m: None)
    fixed = fixture_notebooks(tmp_path / "fixed")
    again = runner.run(
        request_for(params, tmp_path, fixed, run_id=first.layout.run_id, resume=True), echo=lambda _m: None
    )
    assert again.error is None
    assert [(s.stage, s.status) for s in again.stages] == [("data", "reused")] + [(s, "ok") for s in STAGES[1:]]
    assert again.stages[0].reason == f"reused from {first.layout.run_id}"
    assert again.stages[1].reason == "ran: first run"  # a failed stage is never stored
    assert again.layout == first.layout


def refuse_kernel(_session: runner.KernelSession) -> float:
    raise AssertionError("a run whose stages are all stored started a kernel")


def test_stored_stages_are_reused_without_a_kernel_and_a_change_reruns_what_it_reaches(
    params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebooks, upto = fixture_notebooks(tmp_path / "nb"), list(STAGES[:5])
    first = runner.run(request_for(params, tmp_path, notebooks, stages=upto), echo=lambda _m: None)
    with monkeypatch.context() as patched:
        patched.setattr(runner.KernelSession, "start", refuse_kernel)
        second = runner.run(request_for(params, tmp_path, notebooks, stages=upto), echo=lambda _m: None)
    assert [(s.status, s.reason) for s in second.stages] == [("reused", f"reused from {first.layout.run_id}")] * 5
    assert (second.layout.artifacts / "train.json").stat().st_nlink == 3  # the first run's, the store's, this one's
    assert runstate.read(second.layout.state_file).outputs["data"] == {"data.json": cache.file_sha256(second.layout.artifacts / "data.json")}
    changed = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"bootstrap": 300})})
    third = runner.run(request_for(changed, tmp_path, notebooks), echo=lambda _m: None)
    assert [s.reason for s in third.stages] == [f"reused from {first.layout.run_id}"] * 4 + [
        "ran: params evaluate.bootstrap changed", "ran: first run", "ran: first run"]
    fourth = runner.run(request_for(changed, tmp_path, notebooks), echo=lambda _m: None)
    gone = json.loads((recordkit.FIXTURES / "deploy.json").read_text())["registry"]
    assert fourth.stages[5].reason == f"ran: registry version adult-smoke@1 is gone from {gone}"
    assert fourth.stages[6].reason == f"reused from {third.layout.run_id}"  # deploy wrote the same bytes again
    assert "reused from " + third.layout.run_id in fourth.index.read_text(encoding="utf-8")


def test_a_forced_stage_re_runs_the_stages_reading_its_new_output_and_says_so(params: Params, tmp_path: Path) -> None:
    fresh = "import uuid\npathlib.Path(artifacts, 'select-notes.txt').write_text(uuid.uuid4().hex)"  # new bytes each time
    notebooks, upto = fixture_notebooks(tmp_path / "nb", extra={"select": fresh}), list(STAGES[:5])
    first = runner.run(request_for(params, tmp_path, notebooks, stages=upto), echo=lambda _m: None)
    forced = runner.run(request_for(params, tmp_path, notebooks, stages=upto, force=["select"]), echo=lambda _m: None)
    assert [s.reason for s in forced.stages] == [f"reused from {first.layout.run_id}"] * 2 + [
        "ran: forced", "ran: upstream stage re-ran", "ran: upstream stage re-ran"]


def test_earlier_runs_are_untouched(params: Params, tmp_path: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb")
    first = runner.run(request_for(params, tmp_path, notebooks), echo=lambda _m: None)
    before = {p: p.read_bytes() for p in first.layout.reports.iterdir()}
    second = runner.run(request_for(params, tmp_path, notebooks), echo=lambda _m: None)
    assert second.layout.run_id != first.layout.run_id
    assert {p: p.read_bytes() for p in first.layout.reports.iterdir()} == before


def test_select_stages_validates_names() -> None:
    assert runner.select_stages([]) == list(STAGES)
    assert runner.select_stages(["preprocess", "data"]) == ["data", "preprocess"]
    with pytest.raises(ParamsError, match=r"key '--stages'.*found 'preproces'.*Did you mean 'preprocess'"):
        runner.select_stages(["preproces"])


def test_notebook_for_requires_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(MlwError, match=r"expected one notebook NN_data\.ipynb"):
        runner.notebook_for("data", tmp_path)


def test_resume_of_unknown_run_is_an_error(params: Params, tmp_path: Path) -> None:
    with pytest.raises(MlwError, match="cannot resume run 'nope'"):
        runner.run(request_for(params, tmp_path, tmp_path, run_id="nope", resume=True), echo=print)


def test_an_existing_run_id_is_refused_and_the_run_stays_as_it_was(params: Params, tmp_path: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb")
    first = runner.run(request_for(params, tmp_path, notebooks, stages=["data"], run_id="mine"), echo=lambda _m: None)
    assert first.error is None and first.layout.run_id == "mine"
    before = tree(tmp_path / "runs"), tree(tmp_path / "reports")
    with pytest.raises(ParamsError, match=r"key '--run-id': expected an id no run under .* has \(or --resume mine"):
        runner.run(request_for(params, tmp_path, notebooks, run_id="mine"), echo=lambda _m: None)
    with pytest.raises(ParamsError, match=r"key '--run-id'.*found '\.\./escaped'"):
        runner.run(request_for(params, tmp_path, notebooks, run_id="../escaped"), echo=lambda _m: None)
    assert (tree(tmp_path / "runs"), tree(tmp_path / "reports")) == before


def test_ctrl_c_stops_the_kernel_and_leaves_a_stopped_run_to_resume(params: Params, tmp_path: Path) -> None:
    def interrupt(_message: str) -> None:
        raise KeyboardInterrupt

    notebooks = fixture_notebooks(tmp_path / "nb")
    with pytest.raises(KeyboardInterrupt):
        runner.run(request_for(params, tmp_path, notebooks, run_id="stopped"), echo=lambda _m: None, progress=interrupt)
    run = runner.RunLayout(tmp_path.resolve(), "stopped")
    state = runstate.read(run.state_file)
    assert state.status == "failed" and state.done == {}
    assert state.resume == "mlworkflow run params/smoke.yaml" + f" --root {tmp_path} --resume stopped"
    page = run.index.read_text(encoding="utf-8")
    assert "Stopped before its stages finished; resume it with:" in page and state.resume in page
    assert my_sockets() == []


def test_a_resumed_run_that_is_still_running_is_refused(params: Params, tmp_path: Path) -> None:
    run = runner.RunLayout(tmp_path.resolve(), "busy")
    runstate.write(run.state_file, runstate.RunState(owner=runstate.this_process()))
    with pytest.raises(MlwError, match=rf"run 'busy' is still running \(process {os.getpid()} on "):
        runner.run(request_for(params, tmp_path, tmp_path, run_id="busy", resume=True), echo=print)
    elsewhere = runstate.Owner(pid=1, host="another-host", started=0.0)
    runstate.write(run.state_file, runstate.RunState(owner=elsewhere))
    with pytest.raises(MlwError, match=r"on another-host\); this host cannot tell whether it still runs: if it does not"):
        runner.run(request_for(params, tmp_path, tmp_path, run_id="busy", resume=True), echo=print)


def test_socket_folders_of_runners_that_are_gone_are_removed(tmp_path: Path) -> None:
    gone = tmp_path / f"{runner.SOCKETS_PREFIX}{2**22 + 12345}-abc"  # above any pid Linux hands out by default
    alive = tmp_path / f"{runner.SOCKETS_PREFIX}{os.getpid()}-abc"
    older = tmp_path / f"{runner.SOCKETS_PREFIX}abc_def"  # written before the pid was in the name: not judged
    for folder in (gone, alive, older):
        (folder / "kernel-1").mkdir(parents=True)
    assert runner.remove_stale_sockets(tmp_path) == [gone]
    assert sorted(tmp_path.iterdir()) == sorted([alive, older])


def test_the_listing_shows_an_interrupted_run_and_marks_its_index(params: Params, tmp_path: Path) -> None:
    run = runner.RunLayout(tmp_path.resolve(), "killed")
    run.params_file.parent.mkdir(parents=True)
    run.params_file.write_text(json.dumps(params.model_dump(mode="json")))
    gone = runstate.Owner(pid=2**22 + 12345, host=runstate.this_process().host, started=0.0)
    runstate.write(run.state_file, runstate.RunState(owner=gone, resume="mlworkflow run p.yaml --resume killed"))
    run.index.parent.mkdir(parents=True)
    run.index.write_text('<main><p class="mlw-notice mlw-notice-running" id="mlw-notice">In progress</p></main>')
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "params.json").write_text("{truncated")
    page = runner.write_runs_listing(tmp_path.resolve()).read_text(encoding="utf-8")
    assert 'class="mlw-status-interrupted">interrupted<br>resume: <code>mlworkflow run p.yaml --resume killed</code>' in page
    assert "unreadable" in page and "params.json: expected the run&#39;s validated params" in page
    index = run.index.read_text(encoding="utf-8")
    assert "Interrupted: the process running this run is gone" in index and "In progress" not in index



def test_a_monitor_run_lists_only_its_own_stage(params: Params, tmp_path: Path) -> None:
    from mlworkflow.layout import RunLayout

    monitoring = request_for(params, tmp_path, tmp_path, stages=["monitor"], run_id="watch")
    assert runner.listed_stages(monitoring) == ("monitor",)
    assert runner.listed_stages(request_for(params, tmp_path, tmp_path, stages=["data"])) == tuple(STAGES)
    layout = RunLayout(tmp_path, "watch")
    runner.write_run_index(monitoring, layout, runner.RunResult(layout, []))
    index = layout.index.read_text(encoding="utf-8")
    assert 'id="stage-monitor"' in index and 'id="stage-data"' not in index and index.count("not run") == 1


def test_the_state_records_the_stages_asked_for(params: Params, tmp_path: Path) -> None:
    from mlworkflow.layout import RunLayout

    asked = request_for(params, tmp_path, tmp_path, stages=["monitor"])
    state = runner.state_of(RunLayout(tmp_path, "s"), runner.Ledger(), asked, "ok")
    assert state.stages == ["monitor"]  # the runs list shows such a run as a monitor run, even when it failed
    assert runner.state_of(RunLayout(tmp_path, "t"), runner.Ledger(), request_for(params, tmp_path, tmp_path), "ok").stages == []
