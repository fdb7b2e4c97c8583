"""End to end through the command line: a smoke run, bad params, corrupt data."""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mlworkflow import config
from mlworkflow.config import NOTEBOOKS
from mlworkflow.errors import MlwError
from mlworkflow.params import STAGES
from mlworkflow.workflow import cli, runner, runstate
from tests.workflow.test_report import EXTERNAL
from tests.workflow.test_runner import fixture_notebooks

pytestmark = pytest.mark.e2e


def mlworkflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)


def only_run(root: Path) -> Path:
    runs = [p for p in (root / "reports").iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


# `smoke_run` (one smoke run shared with e2e/test_browser.py and e2e/test_lab.py) is in conftest.py.


def test_smoke_run_succeeds(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    for number, stage in enumerate(STAGES, start=1):
        assert re.search(rf"\[{number}/{len(STAGES)}\] {stage} ran in [0-9.]+ s \(first run\)", done.stdout), done.stdout
    assert "done: " in done.stdout and str(out) in done.stdout


def test_smoke_run_reports(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = smoke_run
    folder = only_run(out)
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(index)
    for stage in STAGES:
        notebook = next(NOTEBOOKS.glob(f"[0-9][0-9]_{stage}.ipynb"))
        assert f'href="{notebook.stem}.html"' in index
        page = (folder / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert not EXTERNAL.search(page), f"{stage}: {EXTERNAL.search(page)}"
        title = nbformat.read(notebook, as_version=4).cells[0].source.splitlines()[0].lstrip("# ").strip()
        assert title.split(" ")[-1] in page
        assert "data sha256" in page and "Package versions" in page and "mlw-status-ok" in page
    data = json.loads((out / "runs" / folder.name / "artifacts" / "data.json").read_text(encoding="utf-8"))
    assert data["sha256"][:16] in index


def test_smoke_run_is_reproducible(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path], root: Path, tmp_path: Path
) -> None:
    _, out = smoke_run
    first = only_run(out).name
    # under a root of its own: in the smoke run's, the stage cache would hand back the same files
    again = mlworkflow("run", str(root / "params" / "smoke.yaml"), "--root", str(tmp_path), "--stages", "data,preprocess",
                       cwd=root)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "[1/2] data ran in " in again.stdout and "[2/2] preprocess ran in " in again.stdout, again.stdout
    second = next((tmp_path / "runs").iterdir())
    for name in ("data.json", "preprocess.json"):
        a = json.loads((out / "runs" / first / "artifacts" / name).read_text(encoding="utf-8"))
        b = json.loads((second / "artifacts" / name).read_text(encoding="utf-8"))
        assert a == b


def test_bad_params_fail_before_any_kernel(tmp_path: Path, root: Path) -> None:
    params = tmp_path / "bad.yaml"
    params.write_text("run:\n  name: bad\ndata:\n  path: nowhere.csv\n  tagret: y\n", encoding="utf-8")
    done = mlworkflow("run", str(params), "--root", str(tmp_path), cwd=root)
    assert done.returncode == 2
    assert f"{params}: key 'data.path': expected an existing file" in done.stderr
    assert "key 'data.tagret'" in done.stderr and "Did you mean 'target'?" in done.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_bad_override_and_stage_names(tmp_path: Path, root: Path) -> None:
    smoke = str(root / "params" / "smoke.yaml")
    done = mlworkflow("run", smoke, "--root", str(tmp_path), "--set", "preprocess.test_size=2", cwd=root)
    assert done.returncode == 2 and "key 'preprocess.test_size'" in done.stderr
    done = mlworkflow("run", smoke, "--root", str(tmp_path), "--stages", "dta", cwd=root)
    assert done.returncode == 2 and "Did you mean 'data'?" in done.stderr
    done = mlworkflow("run", smoke, "--root", str(tmp_path), "--force", "evalute", cwd=root)
    assert done.returncode == 2 and "key '--force'" in done.stderr and "Did you mean 'evaluate'?" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_stored_stage_is_reused_unless_forced(tmp_path: Path, root: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb")
    command = ["run", str(root / "params" / "smoke.yaml"), "--root", str(tmp_path), "--stages", "data,preprocess",
               "--notebooks", str(notebooks)]
    first = mlworkflow(*command, cwd=root)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "[1/2] data ran in " in first.stdout and "s (first run) → 01_data.html" in first.stdout
    first_id = first.stdout.split()[1].rstrip(":")
    again = mlworkflow(*command, cwd=root)
    assert f"[1/2] data reused from {first_id} → 01_data.html" in again.stdout
    assert f"[2/2] preprocess reused from {first_id}" in again.stdout
    forced = mlworkflow(*command, "--force", "preprocess", cwd=root)
    assert f"[1/2] data reused from {first_id}" in forced.stdout and "s (forced) → 02_preprocess.html" in forced.stdout
    everything = mlworkflow(*command, "--force", cwd=root)
    assert everything.stdout.count("(forced) →") == 2


# What a re-run that reuses every stage must not import: the stages' libraries, the kernel's and notebook
# tooling (each costs a fraction of a second to a second and a half; the no-op target is 2 s in all).
NOT_FOR_A_NO_OP = ("sklearn", "pandas", "pyarrow", "scipy", "sqlalchemy", "papermill", "nbclient", "jupyter_client", "IPython")
LOADED_AFTER = "import json, sys\nfrom mlworkflow.workflow.cli import main\ncode = main(sys.argv[1:])\nprint(json.dumps(sorted(sys.modules)))\nsys.exit(code)"


def test_a_run_that_reuses_every_stage_imports_no_stage_library(tmp_path: Path, root: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb")
    stages = "data,preprocess,select,train,evaluate,monitor"  # a fixture deploy names a registry that is gone: it re-runs
    command = ["run", str(root / "params" / "smoke.yaml"), "--root", str(tmp_path), "--stages", stages, "--notebooks", str(notebooks)]
    first = mlworkflow(*command, cwd=root)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run([sys.executable, "-c", LOADED_AFTER, *command], cwd=root, capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    *lines, loaded = again.stdout.splitlines()
    assert sum(" reused from " in line for line in lines) == 6, again.stdout
    packages = {name.split(".")[0] for name in json.loads(loaded)}
    assert [name for name in NOT_FOR_A_NO_OP if name in packages] == []


def test_a_params_error_inside_a_stage_names_the_params_file_and_key(
    tmp_path: Path, root: Path, smoke_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    # r2 is a valid scorer name, so `check` passes; only the select stage knows the task is binary.
    smoke, wrong = "params/smoke.yaml", "select.metrics=[roc_auc, r2]"
    for stage in ("data", "preprocess"):  # the smoke run's stored stages: only select starts a kernel here
        stored = smoke_run[1] / "cache" / stage
        if stored.is_dir():
            shutil.copytree(stored, tmp_path / "cache" / stage)
    assert mlworkflow("check", smoke, "--set", wrong, cwd=root).returncode == 0
    done = mlworkflow("run", smoke, "--root", str(tmp_path), "--stages", "data,preprocess,select", "--set", wrong, cwd=root)
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: stage 'select' failed at cell ")
    assert "ParamsError: params/smoke.yaml: key 'select.metrics': expected a scorer for a binary task, found 'r2'" in line


def test_check_validates_only(tmp_path: Path, root: Path) -> None:
    done = mlworkflow("check", str(root / "params" / "default.yaml"), cwd=tmp_path)
    assert done.returncode == 0 and "ok" in done.stdout
    assert not (tmp_path / "runs").exists()


def test_corrupt_data_leaves_a_failure_report(tmp_path: Path, root: Path) -> None:
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(gzip.compress(b"a,b,income\n1,2,x\n")[:20])
    params = tmp_path / "corrupt.yaml"
    params.write_text(
        f"run:\n  name: corrupt\ndata:\n  path: {corrupt.name}\n  target: income\n", encoding="utf-8"
    )
    done = mlworkflow("run", str(params), "--root", str(tmp_path), cwd=root)
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: stage 'data' failed at cell") and "DataError" in line
    assert "corrupt.csv.gz" in line and "--resume corrupt-" in line
    report = Path(line.split("report: ")[1].split(" | ")[0])
    assert report.is_file() and "DataError" in report.read_text(encoding="utf-8")
    executed = next((tmp_path / "runs").glob("*/notebooks/01_data.ipynb"))
    assert any(
        o.output_type == "error" for c in nbformat.read(executed, 4).cells for o in c.get("outputs", [])
    )
    index = (report.parent / "index.html").read_text(encoding="utf-8")
    assert "not run" in index and "mlw-failure" in index


@pytest.mark.shared
def test_titanic_flags_identifiers_and_reads_the_name_as_text(shared_data: Path, root: Path, tmp_path: Path) -> None:
    params = root / "tests" / "params" / "titanic.yaml"
    done = mlworkflow("run", str(params), "--root", str(tmp_path), "--stages", "data,preprocess", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    artifacts = next((tmp_path / "runs").iterdir()) / "artifacts"
    data = json.loads((artifacts / "data.json").read_text(encoding="utf-8"))
    preprocess = json.loads((artifacts / "preprocess.json").read_text(encoding="utf-8"))
    assert data["task"] == "binary" and {"PassengerId", "Ticket"} <= set(data["identifiers"])
    assert data["roles"]["Name"] == "text" and preprocess["text"] == ["Name"]  # free text is a feature
    assert data["target"] not in preprocess["numeric"] + preprocess["categorical"]


@pytest.mark.shared
@pytest.mark.parametrize(("name", "task"), [("penguins", "multiclass"), ("california", "regression")])
def test_example_datasets_run_through_evaluate(
    name: str, task: str, shared_data: Path, root: Path, tmp_path: Path
) -> None:
    params, stages = root / "tests" / "params" / f"{name}.yaml", "data,preprocess,select,train,evaluate"
    done = mlworkflow("run", str(params), "--root", str(tmp_path), "--stages", stages, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    artifacts = next((tmp_path / "runs").iterdir()) / "artifacts"
    data = json.loads((artifacts / "data.json").read_text(encoding="utf-8"))
    assert data["task"] == task
    preprocess = json.loads((artifacts / "preprocess.json").read_text(encoding="utf-8"))
    assert data["target"] not in preprocess["numeric"] + preprocess["categorical"]
    evaluate = json.loads((artifacts / "evaluate.json").read_text(encoding="utf-8"))
    decided = {"multiclass": "balanced_accuracy", "regression": "rmse"}[task]
    assert evaluate["metric"] == decided
    model, baseline = evaluate["metrics"][decided]["value"], evaluate["baseline"][decided]["value"]
    assert model > baseline if task != "regression" else model < baseline
    index = (only_run(tmp_path) / "index.html").read_text(encoding="utf-8")
    assert "(decides)" in index and 'id="mlw-selection"' in index


def test_reports_show_params_paths_relative_to_the_current_folder(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlworkflow.workflow.cli import shown_path

    monkeypatch.chdir(root)
    assert shown_path(str(root / "params" / "smoke.yaml")) == "params/smoke.yaml"
    assert shown_path("params/smoke.yaml") == "params/smoke.yaml"
    assert shown_path(str(tmp_path / "elsewhere.yaml")) == str(tmp_path / "elsewhere.yaml")


# --- native thread caps and runs killed mid-stage -------------------------------------------------------------

THREADS_CELL = (  # what a stage's kernel sees: the thread variables and the loaded pools' sizes; then it may wait
    "import os, json, pathlib, time, threadpoolctl, numpy\n"
    "names = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']\n"
    "pools = sorted({p['num_threads'] for p in threadpoolctl.threadpool_info()})\n"
    "pathlib.Path(artifacts, 'threads.json').write_text(json.dumps({'env': {n: os.environ.get(n) for n in names}, "
    "'pools': pools}))\n"
    "for _ in range(3000):\n"
    "    if not pathlib.Path({hold!r}).exists():\n"
    "        break\n"
    "    time.sleep(0.2)"
)


def unthreaded_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any thread-pool variable (as a user's shell has), plus `settings`."""
    return {**{k: v for k, v in os.environ.items() if k not in config.THREAD_VARIABLES}, **settings}


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait (bounded) until a stage wrote `path`."""
    for _ in range(1200):
        if path.is_file() or process.poll() is not None:
            break
        time.sleep(0.25)
    assert path.is_file(), process.communicate(timeout=5)


def test_a_run_killed_mid_stage_is_shown_interrupted_and_resumes(tmp_path: Path, root: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    notebooks = fixture_notebooks(tmp_path / "nb", extra={"data": THREADS_CELL.replace("{hold!r}", repr(str(hold)))})
    out, smoke = tmp_path / "out", str(root / "params" / "smoke.yaml")
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "run", smoke, "--root", str(out), "--run-id", "killed",
               "--stages", "data", "--notebooks", str(notebooks)]
    process = subprocess.Popen(command, cwd=root, env=unthreaded_environment(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    threads = out / "runs" / "killed" / "artifacts" / "threads.json"
    wait_for(threads, process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    seen = json.loads(threads.read_text(encoding="utf-8"))
    assert seen == {"env": dict.fromkeys(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"], "1"),
                    "pools": [1]}  # the CLI capped the kernel's pools itself, without make
    state = runstate.read(out / "runs" / "killed" / "state.json")
    assert state.status == "running" and runstate.status_of(state) == runstate.INTERRUPTED
    listing = runner.write_runs_listing(out).read_text(encoding="utf-8")  # what the next run writes
    assert ">interrupted<br>resume: <code>" in listing and "--resume killed" in listing
    index = (out / "reports" / "killed" / "index.html").read_text(encoding="utf-8")
    assert "Interrupted: the process running this run is gone" in index and html.escape(state.resume) in index
    hold.unlink()
    resumed = mlworkflow(*command[3:7], "--resume", "killed", "--stages", "data", "--notebooks", str(notebooks), cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert runstate.read(out / "runs" / "killed" / "state.json").status == "ok"
    assert ">ok</td>" in (out / "reports" / "index.html").read_text(encoding="utf-8")


def test_a_user_s_thread_setting_reaches_the_kernel_unchanged(tmp_path: Path, root: Path) -> None:
    notebooks = fixture_notebooks(tmp_path / "nb", extra={"data": THREADS_CELL.replace("{hold!r}", "'/nonexistent'")})
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "run", str(root / "params" / "smoke.yaml"),
               "--root", str(tmp_path), "--run-id", "user", "--stages", "data", "--notebooks", str(notebooks)]
    done = subprocess.run(command, cwd=root, env=unthreaded_environment(OMP_NUM_THREADS="2"), capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads((tmp_path / "runs" / "user" / "artifacts" / "threads.json").read_text(encoding="utf-8"))
    assert seen["env"] == {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None}
    assert seen["pools"] == [2]  # OpenBLAS follows OMP_NUM_THREADS when its own variable is unset


def test_an_output_page_makes_its_folder_and_an_unwritable_place_is_said(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "page.html"
    cli.write_page(target, "<p>ok</p>")
    assert target.read_text(encoding="utf-8") == "<p>ok</p>"
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    with pytest.raises(MlwError, match=r"--output .*a-file/page.html: cannot write there"):
        cli.write_page(tmp_path / "a-file" / "page.html", "<p>no</p>")
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "x"
