"""Sweeps: variant expansion, validation before anything runs, the shared stages first, each variant's run."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from mlworkflow.config import DEFAULT_PARAMS, PARAMS
from mlworkflow.errors import ParamsError, StageError
from mlworkflow.layout import RunLayout
from mlworkflow.params import SweepParams, validate
from mlworkflow.workflow import cli, runner, sweep
from mlworkflow.workflow.sweepstate import SweepLayout, read_record

SMOKE = PARAMS / "smoke.yaml"


def request(root: Path, vary: list[str], **changes: Any) -> sweep.SweepRequest:
    fields: dict[str, Any] = {"params_file": str(SMOKE), "params_source": "params/smoke.yaml", "overrides": (),
                              "vary": vary, "root": root, "cores": 2} | changes
    return sweep.SweepRequest(**fields)


# --- expansion ---------------------------------------------------------------------------------------------------


def test_vary_values_are_read_as_yaml() -> None:
    vary = sweep.parse_vary(["train.search=optuna,halving", "select.top_k=1,2", "preprocess.text_ngrams=[1,1],[1,3]"])
    assert vary == {"train.search": ("optuna", "halving"), "select.top_k": (1, 2),
                    "preprocess.text_ngrams": ([1, 1], [1, 3])}


@pytest.mark.parametrize(("items", "message"), [
    (["train.search=optuna", "train.search=halving"], "'--vary train.search': expected each key once, found it twice"),
    (["train.search"], "'--vary': expected KEY=VALUE,VALUE"),
    (["train.search="], "'--vary': expected KEY=VALUE,VALUE"),
    (["train.search=[a"], "'--vary train.search': expected values as a YAML flow list"),
])
def test_bad_vary_options(items: list[str], message: str) -> None:
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace(".", r"\.")):
        sweep.parse_vary(items)


def test_every_combination_in_order() -> None:
    variants = sweep.expand({"train.search": ("optuna", "halving"), "select.top_k": (1, 2)})
    assert [v.label for v in variants] == [
        "train.search=optuna, select.top_k=1", "train.search=optuna, select.top_k=2",
        "train.search=halving, select.top_k=1", "train.search=halving, select.top_k=2",
    ]
    assert variants[3].sets == ("train.search=halving", "select.top_k=2")


@pytest.mark.parametrize("value", ["optuna", "1", "yes", "null", "a: b", "", 1, 0.5, None, True, [1, 3], {"C": [1]}])
def test_a_variant_override_reads_back_as_its_value(value: Any) -> None:
    text = sweep.yaml_text(value)
    assert sweep._read_back(text) == value


def test_file_and_command_line_vary_merge() -> None:
    merged = sweep.checked_vary({"train.search": ("optuna",), "select.top_k": (1, 2)},
                                {"train.search": ("grid", "halving")}, "p.yaml")
    assert merged == {"train.search": ("grid", "halving"), "select.top_k": (1, 2)}


@pytest.mark.parametrize(("key", "message"), [
    ("train.serch", "key '--vary train.serch': expected a params key: one of search, .*Did you mean 'search'"),
    ("trian.search", "key '--vary trian': expected a params key: one of run, data, .* Did you mean 'train'"),
    ("train", "key '--vary train': expected a key of a section"),
    ("train.search.x", "key '--vary train.search.x': expected a params key \\('train.search' holds a value"),
    ("sweep.parallel", "key '--vary sweep': expected a params key"),
])
def test_a_key_not_in_the_schema(key: str, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        sweep.checked_vary({}, {key: (1, 2)}, "p.yaml")


def test_keys_within_a_mapping_and_nested_sections_are_keys() -> None:
    vary = {"train.space.svm": ({"C": [1]}, {"C": [10]}), "data.read.sep": (",", ";"), "run.seed": (1, 2)}
    assert sweep.checked_vary({}, vary, "p.yaml") == vary


def test_repeated_values_and_fixed_keys_are_refused() -> None:
    with pytest.raises(ParamsError, match=re.escape("'--vary train.search': expected 'train.search' with at least one value, each listed once")):
        sweep.checked_vary({}, {"train.search": ("optuna", "optuna")}, "p.yaml")
    with pytest.raises(ParamsError, match=re.escape("'sweep.vary run.name': expected keys of the stages' sections or run.seed")):
        sweep.checked_vary({"run.name": ("a", "b")}, {}, "p.yaml")
    with pytest.raises(ParamsError, match="'--vary': expected at least one varied key"):
        sweep.checked_vary({}, {}, "p.yaml")


def test_the_sweep_section_is_validated_with_the_file() -> None:
    raw = {"run": {"name": "x"}, "data": {"path": str(DEFAULT_PARAMS.parent.parent / "data" / "adult_train.csv.gz"),
                                          "target": "income"},
           "sweep": {"vary": {"train.search": ["optuna", "optuna"]}, "parallel": 0}}
    with pytest.raises(ParamsError) as caught:
        validate(raw, "p.yaml", Path("."))
    keys = {issue.key for issue in caught.value.issues}
    assert keys == {"sweep.vary", "sweep.parallel"}
    assert SweepParams().vary == {} and SweepParams().parallel is None


def test_a_bad_value_names_the_variant_key_expected_and_found() -> None:
    variants = sweep.expand({"select.top_k": (1, 0), "train.search": ("optuna",)})
    with pytest.raises(ParamsError) as caught:
        sweep.validated(str(SMOKE), [], variants)
    text = str(caught.value)
    assert "(variant 2 of 2: select.top_k=0, train.search=optuna)" in text
    assert "key 'select.top_k': expected greater than or equal to 1, found 0 (set by --vary)" in text


@pytest.mark.parametrize(("vary", "shared"), [
    ({"train.search": ()}, ["data", "preprocess", "select"]),
    ({"evaluate.bootstrap": (), "select.top_k": ()}, ["data", "preprocess"]),
    ({"data.sample_rows": ()}, []),
    ({"run.seed": (), "train.search": ()}, []),
])
def test_stages_before_the_first_varied_section_are_shared(vary: dict[str, Any], shared: list[str]) -> None:
    assert sweep.shared_stages(vary, list(sweep.DEFAULT_STAGES)) == shared


# --- the plan: nothing is written until every variant is valid ------------------------------------------------------


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    for vary in (["train.search=optuna,halvin"], ["train.serch=optuna"], ["train.search=grid", "train.search=random"]):
        with pytest.raises(ParamsError):
            sweep.plan(request(tmp_path, vary))
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_exits_2_on_bad_input_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["sweep", str(SMOKE), "--root", str(tmp_path), "--vary", "select.top_k=1,0"])
    err = capsys.readouterr().err
    assert code == 2 and "variant 2 of 2: select.top_k=0" in err and "found 0 (set by --vary)" in err
    assert cli.main(["sweep", str(SMOKE), "--root", str(tmp_path), "--vary", "train.search=grid", "--parallel", "0"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_plan_claims_the_sweep_and_shares_the_cores(tmp_path: Path) -> None:
    planned = sweep.plan(request(tmp_path, ["train.search=optuna,halving", "select.top_k=1,2"], cores=4))
    record = planned.record
    assert planned.sweep.folder.is_dir() and record.sweep_id.startswith("smoke-sweep-")
    assert (record.parallel, record.cpus) == (4, 1)
    assert record.stages == ["data", "preprocess", "select", "train", "evaluate"]
    assert record.shared == ["data", "preprocess"]
    assert [v.run_id for v in record.variants] == [f"{record.sweep_id}-{n}" for n in range(1, 5)]
    task = planned.tasks[1]
    assert task.overrides == ("train.search=optuna", "select.top_k=2") and task.cpus == 1 and not task.resume
    one_at_a_time = sweep.plan(request(tmp_path, ["train.search=optuna,halving"], parallel=1, cores=2)).record
    assert (one_at_a_time.parallel, one_at_a_time.cpus) == (1, 2)
    assert one_at_a_time.sweep_id != record.sweep_id


# --- executing: shared stages first, then every variant, the record following ------------------------------------


def fake_run(task: sweep.VariantTask) -> sweep.VariantOutcome:
    """A variant run that records what it was asked (a line in ROOT/calls) and fails for top_k=2."""
    with (Path(task.root) / "calls").open("a", encoding="utf-8") as calls:
        calls.write(f"{task.run_id} {','.join(task.stages)} resume={task.resume} cpus={task.cpus}\n")
    failed = "select.top_k=2" in task.overrides
    return sweep.VariantOutcome(task.run_id, "failed" if failed else "ok", 1.5, "stage 'train' failed" if failed else "")


def calls(root: Path) -> list[str]:
    return (root / "calls").read_text(encoding="utf-8").splitlines()


def test_shared_stages_run_once_then_every_variant_in_parallel(tmp_path: Path) -> None:
    planned = sweep.plan(request(tmp_path, ["train.search=optuna,halving", "select.top_k=1,2"], cores=2))
    lines: list[str] = []
    final = sweep.execute(planned, echo=lines.append, run=fake_run)
    first = planned.tasks[0].run_id
    made = calls(tmp_path)
    assert made[0] == f"{first} data,preprocess resume=False cpus=2"  # alone, with every core
    assert sorted(made[1:]) == sorted([f"{first} data,preprocess,select,train,evaluate resume=True cpus=1"] + [
        f"{t.run_id} data,preprocess,select,train,evaluate resume=False cpus=1" for t in planned.tasks[1:]])
    assert [v.status for v in final.variants] == ["ok", "failed", "ok", "failed"]
    assert final.variants[0].seconds == 3.0 and final.variants[1].error == "stage 'train' failed"
    assert read_record(planned.sweep) == final
    assert any(line.startswith("shared stages data, preprocess: run once") for line in lines)


def test_one_at_a_time_needs_no_warm_up(tmp_path: Path) -> None:
    planned = sweep.plan(request(tmp_path, ["train.search=optuna,halving"], parallel=1))
    sweep.execute(planned, echo=lambda _line: None, run=fake_run)
    assert [line.split()[1:3] for line in calls(tmp_path)] == [["data,preprocess,select,train,evaluate", "resume=False"]] * 2


def test_a_failed_shared_stage_stops_the_sweep(tmp_path: Path) -> None:
    planned = sweep.plan(request(tmp_path, ["select.top_k=2,3"], cores=2))
    final = sweep.execute(planned, echo=lambda _line: None, run=fake_run)
    assert [v.status for v in final.variants] == ["failed", "not run"]
    assert len(calls(tmp_path)) == 1


def test_run_variant_gives_the_run_its_cores_and_restores_the_environment(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(request: runner.RunRequest, echo: Any) -> Any:
        seen.update(cpus=os.environ.get("MLW_CPUS"), cluster=os.environ.get("MLW_CLUSTER"), request=request)
        echo("line")
        error = StageError("train", 3, "ValueError", "bad", "x.html", "resume")
        return runner.RunResult(RunLayout(request.root, str(request.run_id)), [], error)

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.delenv("MLW_CPUS", raising=False)
    monkeypatch.setenv("MLW_CLUSTER", "tcp://elsewhere:8786")  # this variant's params name no cluster: it fits locally
    task = sweep.VariantTask(str(SMOKE), "params/smoke.yaml", ("train.search=halving",), ("data", "train"),
                             str(tmp_path), "s-1", "train.search=halving", 3)
    outcome = sweep.run_variant(task)
    assert seen["cpus"] == "3" and "MLW_CPUS" not in os.environ
    assert seen["cluster"] is None and os.environ["MLW_CLUSTER"] == "tcp://elsewhere:8786"
    assert seen["request"].params.train.search == "halving" and seen["request"].stages == ("data", "train")
    assert outcome.status == "failed" and "stage 'train' failed" in outcome.error


def test_a_task_is_plain_data() -> None:
    import pickle

    task = sweep.VariantTask("p.yaml", "p.yaml", ("a.b=1",), ("data",), "/tmp/r", "s-1", "a.b=1", 1)
    assert pickle.loads(pickle.dumps(task)) == task
    assert pickle.loads(pickle.dumps(sweep.run_variant)) is sweep.run_variant


def test_a_variant_on_a_cluster_worker_is_the_run_command_of_its_task() -> None:
    task = sweep.VariantTask("p.yaml", "p.yaml", ("train.search=halving", "run.seed=2"), ("data", "train"), "/tmp/r",
                             "s-1", "train.search=halving", 2, resume=True)
    command = sweep.variant_command(task)
    assert command[1:4] == ["-m", "mlworkflow.workflow.cli", "run"] and command[4] == str(Path("p.yaml").resolve())
    assert command[5:] == ["--set", "train.search=halving", "--set", "run.seed=2", "--stages", "data,train",
                           "--root", "/tmp/r", "--resume", "s-1"]
    fresh = sweep.variant_command(sweep.VariantTask("p.yaml", "p.yaml", (), ("data",), "/tmp/r", "s-2", "", 1))
    assert fresh[-2:] == ["--run-id", "s-2"]


def test_without_a_cluster_variants_run_on_this_machine(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n", encoding="utf-8")
    params = tmp_path / "p.yaml"
    params.write_text("run: {name: t}\ndata: {path: d.csv, target: y}\n", encoding="utf-8")
    task = sweep.VariantTask(str(params), "p.yaml", (), ("data",), str(tmp_path), "s-1", "", 1)
    assert sweep.cluster_of([task]) is None
    on_cluster = sweep.VariantTask(str(params), "p.yaml", ("run.cluster=tcp://10.0.0.5:8786",), ("data",),
                                   str(tmp_path), "s-1", "", 1)
    assert sweep.cluster_of([on_cluster]) == "tcp://10.0.0.5:8786"


def test_a_sweep_layout_is_under_its_root(tmp_path: Path) -> None:
    layout = SweepLayout(tmp_path, "s")
    assert layout.record_file == tmp_path / "sweeps" / "s" / "sweep.json"
    assert layout.page == tmp_path / "reports" / "leaderboard-s.html"


def test_check_validates_the_sweep_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = DEFAULT_PARAMS.parent.parent / "data" / "adult_train.csv.gz"
    good = tmp_path / "good.yaml"
    good.write_text(f"run: {{name: s}}\ndata: {{path: {data}, target: income}}\n"
                    "sweep: {vary: {train.search: [grid, halving], select.top_k: [1, 2]}}\n", encoding="utf-8")
    assert cli.main(["check", str(good)]) == 0
    assert f"{good}: sweep ok (4 variants)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"run: {{name: s}}\ndata: {{path: {data}, target: income}}\n"
                   "sweep: {vary: {train.serch: [grid, halving]}}\n", encoding="utf-8")
    assert cli.main(["check", str(bad)]) == 2
    assert "key 'sweep.vary train.serch': expected a params key" in capsys.readouterr().err


def test_a_variant_process_stops_its_run_on_sigterm() -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    try:
        sweep.stop_on_sigterm()  # the pool's initializer: runner.run's finally then shuts the kernel down
        with pytest.raises(SystemExit) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, before)
