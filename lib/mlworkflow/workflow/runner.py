"""The runner: execute stage notebooks with papermill in one process, render each to HTML."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from mlworkflow import config, io, provenance
from mlworkflow.config import NOTEBOOKS, PROJECT_ROOT
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue, StageError, did_you_mean
from mlworkflow.layout import RunLayout, check_run_id, is_taken, new_run_id, runs_listing
from mlworkflow.params import STAGES, Params, stage_parameters
from mlworkflow.records import (
    STAGE_RECORDS,
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    RetrainRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.workflow import report, runstate

Echo = Callable[[str], None]
KERNEL = "python3"
SOCKETS_PREFIX = "mlw-kernel-"  # + the runner's pid: a folder left by a killed run can be told from a live one
CLAIM_ATTEMPTS = 100  # generated ids: another run may take the same second's id first
RESET_CODE = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n"


@dataclass
class RunRequest:
    """Everything `mlworkflow run` was asked to do."""

    params: Params
    params_source: str
    overrides: Sequence[str] = ()
    stages: Sequence[str] = ()
    root: Path = field(default_factory=Path.cwd)
    run_id: str | None = None
    resume: bool = False
    show_code: bool = False
    notebooks: Path = NOTEBOOKS


@dataclass
class RunResult:
    """What a run produced."""

    layout: RunLayout
    stages: list[report.StageReport]
    error: StageError | None = None

    @property
    def index(self) -> Path:
        """The run's summary page."""
        return self.layout.index


def notebook_for(stage: str, folder: Path) -> Path:
    """The notebook of a stage: `NN_<stage>.ipynb` in the notebooks folder."""
    found = sorted(folder.glob(f"[0-9][0-9]_{stage}.ipynb"))
    if len(found) != 1:
        raise MlwError(
            f"stage '{stage}': expected one notebook NN_{stage}.ipynb in {folder}, found {len(found)}"
        )
    return found[0]


def select_stages(requested: Sequence[str]) -> list[str]:
    """Validate `--stages` names and return them in run order (all stages when empty)."""
    for name in requested:
        if name not in STAGES:
            issue = ParamsIssue(
                "--stages", f"one of {', '.join(STAGES)}", repr(name), did_you_mean(name, STAGES)
            )
            raise ParamsError("command line", [issue])
    return [s for s in STAGES if not requested or s in requested]


class KernelSession:
    """One kernel shared by every stage of a run; its namespace is reset between stages."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.km: Any = None
        self.kc: Any = None
        self.sockets: Path | None = None

    def start(self) -> float:
        """Start the kernel (native thread pools capped, see config.thread_caps); return the seconds it took."""
        from jupyter_client import AsyncKernelManager, BlockingKernelClient
        from jupyter_client.utils import run_sync

        began = time.perf_counter()
        remove_stale_sockets(Path(tempfile.gettempdir()))
        self.sockets = Path(tempfile.mkdtemp(prefix=f"{SOCKETS_PREFIX}{os.getpid()}-"))
        self.km = AsyncKernelManager(kernel_name=KERNEL, transport="ipc", ip=str(self.sockets / "kernel"))
        env = {**os.environ, **config.thread_caps(os.environ)}
        run_sync(self.km.start_kernel)(cwd=str(self.cwd), env=env)
        self.kc = BlockingKernelClient(parent=self.km)  # "alive" asks the process: a slow start is no heartbeat miss
        self.kc.load_connection_info(self.km.get_connection_info())
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        return time.perf_counter() - began

    def reset(self) -> float:
        """Clear variables left by the previous stage (imported modules stay cached)."""
        began = time.perf_counter()
        self.kc.execute_interactive(RESET_CODE, timeout=60, store_history=False, output_hook=lambda _m: None)
        return time.perf_counter() - began

    def stop(self) -> None:
        """Shut the kernel down and remove its sockets' folder."""
        from jupyter_client.utils import run_sync

        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            if self.sockets is not None:
                shutil.rmtree(self.sockets, ignore_errors=True)
                self.sockets = None


def remove_stale_sockets(folder: Path) -> list[Path]:
    """Remove kernel socket folders of this user left by runners that no longer exist (killed with -9)."""
    import psutil

    removed = []
    for path in folder.glob(f"{SOCKETS_PREFIX}*-*"):
        pid = path.name.removeprefix(SOCKETS_PREFIX).split("-")[0]
        mine = path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid()
        if mine and pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def plan_stages(request: RunRequest, layout: RunLayout) -> list[str]:
    """The stages to execute: the requested ones; with --resume, those not yet done."""
    chosen = select_stages(request.stages)
    if not request.resume:
        return chosen
    done = load_state(layout).done
    hashes = section_hashes(request.params)
    first_stale = next((s for s in STAGES if done.get(s) != hashes[s]), None)
    if first_stale is None:
        return [s for s in chosen if s in request.stages]
    return [s for s in chosen if STAGES.index(s) >= STAGES.index(first_stale)]


def section_hashes(params: Params) -> dict[str, str]:
    """A stable fingerprint of each stage's params (plus the run seed)."""
    import hashlib

    def digest(stage: str) -> str:
        payload = json.dumps({"seed": params.run.seed, stage: getattr(params, stage).model_dump(mode="json")})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    return {stage: digest(stage) for stage in STAGES}


def load_state(layout: RunLayout) -> runstate.RunState:
    """The run's state file: which stages completed with which params."""
    path = layout.state_file
    if not path.is_file():
        raise MlwError(f"cannot resume run '{layout.run_id}': {path} not found")
    return runstate.read(path)


def done_stages(layout: RunLayout) -> dict[str, str]:
    """Stages this run completed so far (empty for a fresh run)."""
    return dict(load_state(layout).done) if layout.state_file.is_file() else {}


def state_of(layout: RunLayout, done: dict[str, str], request: RunRequest, status: runstate.Status) -> runstate.RunState:
    """The run's state: done stages, status, how it was asked for, its process, the command that resumes it."""
    return runstate.RunState(
        done=dict(done), status=status, params_source=request.params_source, overrides=list(request.overrides),
        owner=runstate.this_process(), resume=resume_command(request, layout.run_id),
    )


def save_state(layout: RunLayout, done: dict[str, str], request: RunRequest, status: runstate.Status = "running") -> None:
    """Record completed stages (so `--resume` can skip them) and the run's status."""
    runstate.write(layout.state_file, state_of(layout, done, request, status))


def open_run(request: RunRequest, root: Path) -> RunLayout:
    """The run's layout, its state claimed: a fresh id is taken by no other run; a resumed run is not running."""
    if request.resume:
        layout = RunLayout(root, check_run_id(str(request.run_id), "--resume"))
        state = load_state(layout)
        if runstate.status_of(state) == "running" and state.owner is not None:
            owner = state.owner
            unsure = "" if runstate.is_alive(owner) else (
                f"; this host cannot tell whether it still runs: if it does not, set 'status' to 'failed' in {layout.state_file}"
            )
            raise MlwError(f"run '{layout.run_id}' is still running (process {owner.pid} on {owner.host}){unsure}")
        return layout
    for stage in select_stages(request.stages):
        notebook_for(stage, request.notebooks)  # fail before claiming an id or creating anything
    if request.run_id is not None:
        return claimed(request, RunLayout(root, check_run_id(request.run_id)))
    for _attempt in range(CLAIM_ATTEMPTS):
        candidate = RunLayout(root, new_run_id(request.params.run.name, root))
        if not is_taken(root, candidate.run_id) and claim(request, candidate):
            return candidate
    raise MlwError(f"no free run id for '{request.params.run.name}' under {root} after {CLAIM_ATTEMPTS} attempts")


def claimed(request: RunRequest, layout: RunLayout) -> RunLayout:
    """The layout of an id the user chose, refused when a run already has it."""
    if is_taken(layout.root, layout.run_id) or not claim(request, layout):
        raise ParamsError("command line", [ParamsIssue(
            "--run-id", f"an id no run under {layout.root} has (or --resume {layout.run_id} to continue it)",
            f"'{layout.run_id}', the id of an existing run",
        )])
    return layout


def claim(request: RunRequest, layout: RunLayout) -> bool:
    """Create the run's state file atomically; False when another run created it first."""
    return runstate.claim(layout.state_file, state_of(layout, {}, request, "running"))


def resume_command(request: RunRequest, run_id: str) -> str:
    """The command line that resumes a failed run."""
    sets = "".join(f" --set {o}" for o in request.overrides)
    root = "" if request.root.resolve() == Path.cwd().resolve() else f" --root {request.root}"
    return f"mlworkflow run {request.params_source}{sets}{root} --resume {run_id}"


def run_info(request: RunRequest, layout: RunLayout) -> report.RunInfo:
    """What every page of the run states about it."""
    data = io.Artifacts(layout.artifacts).find(DataRecord)
    sha = data.sha256 if data is not None else ""
    return report.RunInfo(
        run_id=layout.run_id,
        params_source=request.params_source,
        params_yaml=yaml.safe_dump(request.params.model_dump(mode="json"), sort_keys=False),
        data_sha256=sha or "not yet computed",
        commit=provenance.git_commit(PROJECT_ROOT),
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=provenance.package_versions(report.PACKAGES),
    )


def execute_stage(
    session: KernelSession,
    source: Path,
    target: Path,
    parameters: dict[str, Any],
    progress: Echo,
    stream: TextIO | None = None,
) -> tuple[float, StageError | None]:
    """Execute one notebook in the shared kernel; return its time and the error, if any."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    target.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    counter = CellCounter(source, progress)
    try:
        pm.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            kernel_name=KERNEL,
            km=session.km,
            progress_bar=False,
            cwd=str(source.parent),
            on_cell_executed=counter,
            stderr_file=stream,  # live progress of long searches (they write it to stderr)
        )
    except PapermillExecutionError as exc:
        error = StageError("", exc.cell_index, exc.ename, first_line(exc.evalue), "", "")
        return time.perf_counter() - began, error
    except (CellTimeoutError, DeadKernelError) as exc:
        error = StageError("", counter.done, type(exc).__name__, first_line(str(exc)), "", "")
        return time.perf_counter() - began, error
    return time.perf_counter() - began, None


def first_line(text: str) -> str:
    """The first non-empty line of a message, for one-line summaries."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


class CellCounter:
    """nbclient hook: report progress through a notebook's code cells."""

    def __init__(self, notebook: Path, progress: Echo) -> None:
        import nbformat

        cells = nbformat.read(notebook, as_version=4).cells
        self.total = sum(1 for c in cells if c.cell_type == "code") + 1  # + injected parameters
        self.done = 0
        self.progress = progress
        self.began = time.perf_counter()

    def __call__(self, **_kwargs: Any) -> None:
        self.done += 1
        self.progress(f"cell {self.done}/{self.total} · {time.perf_counter() - self.began:.0f} s")


def read_records(layout: RunLayout) -> report.RunRecords:
    """The records the run's stages (and a retrain) have written so far."""
    store = io.Artifacts(layout.artifacts)
    return report.RunRecords(
        store.find(DataRecord), store.find(SelectRecord), store.find(TrainRecord), store.find(EvaluateRecord),
        store.find(MonitorRecord), store.find(RetrainRecord),
    )


def read_headline(layout: RunLayout, stage: str) -> dict[str, Any]:
    """The `headline` of the record a stage wrote, or nothing when it has not run."""
    found = io.Artifacts(layout.artifacts).find(STAGE_RECORDS[stage])
    return dict(found.headline) if found is not None else {}


def render(
    request: RunRequest, layout: RunLayout, stage: str, executed: Path, error: StageError | None
) -> tuple[str, float]:
    """Render an executed notebook; return its report file name and the seconds it took."""
    began = time.perf_counter()
    name = f"{executed.stem}.html"
    parameters = stage_parameters(request.params, stage, layout.artifacts, request.params_source)
    section = yaml.safe_dump(parameters, sort_keys=False)
    message = f"{error.ename}: {error.evalue} (cell {error.cell})" if error else ""
    info = run_info(request, layout)
    header = report.stage_header(info, stage, section, "failed" if error else "ok", message)
    report.render_stage(executed, layout.reports / name, header, request.show_code)
    return name, time.perf_counter() - began


def run_stage(
    request: RunRequest,
    layout: RunLayout,
    session: KernelSession,
    stage: str,
    progress: Echo,
    stream: TextIO | None = None,
) -> tuple[report.StageReport, StageError | None]:
    """Execute and render one stage; a failure becomes a StageError carrying the report and resume command."""
    source = notebook_for(stage, request.notebooks)
    executed = layout.executed / source.name
    parameters = stage_parameters(request.params, stage, layout.artifacts, request.params_source)
    execute_s, error = execute_stage(session, source, executed, parameters, progress, stream)
    name, render_s = render(request, layout, stage, executed, error)
    message = f"{error.ename}: {error.evalue}" if error else ""
    summary = report.StageReport(
        stage,
        "failed" if error else "ok",
        name,
        read_headline(layout, stage),
        0.0,
        execute_s,
        render_s,
        message,
    )
    if error:
        where, resume = str(layout.reports / name), resume_command(request, layout.run_id)
        error = StageError(stage, error.cell, error.ename, error.evalue, where, resume)
    return summary, error


def run(
    request: RunRequest, echo: Echo = print, progress: Echo | None = None, stream: TextIO | None = None
) -> RunResult:
    """Execute the planned stages in one kernel, render each, write the index; stop at the first failure.

    `echo` gets a line per stage, `progress` the cell count and elapsed time, `stream` the kernel's stderr.
    """
    root = request.root.resolve()
    layout = open_run(request, root)
    planned = plan_stages(request, layout)
    for stage in planned:
        notebook_for(stage, request.notebooks)
    done, hashes = start_run(request, layout), section_hashes(request.params)
    result = RunResult(layout, [])
    session = KernelSession(request.notebooks)
    echo(f"run {layout.run_id}: {len(planned)} stage(s) → {result.index}")
    status: runstate.Status = "failed"  # unless every stage ran: also on Ctrl-C and SIGTERM (cli)
    try:
        for position, stage in enumerate(planned, start=1):
            echo(f"[{position}/{len(planned)}] {stage} …")
            kernel_s = session.start() if position == 1 else session.reset()
            summary, result.error = run_stage(request, layout, session, stage, progress or _quiet, stream)
            summary = dataclasses.replace(summary, kernel_s=kernel_s)
            result.stages.append(summary)
            echo(
                f"[{position}/{len(planned)}] {stage} {summary.status} in {summary.total_s:.1f} s → {summary.report}"
            )
            if result.error:
                break
            done[stage] = hashes[stage]
            save_state(layout, done, request)
        status = "failed" if result.error else "ok"
    finally:
        session.stop()
        save_state(layout, done, request, status)
        write_run_index(request, layout, result)
        write_runs_listing(root)
    return result


def start_run(request: RunRequest, layout: RunLayout) -> dict[str, str]:
    """Write the run's params, its state (running, this process) and pages; return the stages already done."""
    done = done_stages(layout) if request.resume else {}
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    params_json = json.dumps(request.params.model_dump(mode="json"), indent=2, allow_nan=True)
    layout.params_file.write_text(params_json + "\n", encoding="utf-8")
    save_state(layout, done, request)
    write_run_index(request, layout, RunResult(layout, []))  # a run killed mid-stage still has its page and row
    write_runs_listing(layout.root)
    return done


def write_run_index(request: RunRequest, layout: RunLayout, result: RunResult) -> None:
    """Write the index with every stage: executed ones with figures, the rest as not run."""
    shown = {s.stage for s in result.stages}
    rows = list(result.stages)
    for stage in STAGES:
        if stage not in shown:
            pages = sorted(layout.reports.glob(f"[0-9][0-9]_{stage}.html"))
            status = "ok (earlier)" if stage in done_stages(layout) else "not run"
            link = pages[0].name if pages and status != "not run" else ""
            rows.append(report.StageReport(stage, status, link, read_headline(layout, stage), 0.0, 0.0, 0.0))
    rows.sort(key=lambda s: STAGES.index(s.stage))
    failure = str(result.error) if result.error else ""
    summary = report.summarize(read_records(layout))
    notice = run_notice(load_state(layout)) if layout.state_file.is_file() and not failure else None
    report.write_index(layout.index, run_info(request, layout), rows, failure, summary, notice)


def run_notice(state: runstate.RunState) -> report.Notice | None:
    """What the index says of a run that has not finished: in progress, interrupted, or stopped."""
    status = runstate.status_of(state)
    if status == "running" and state.owner is not None:
        owner, began = state.owner, datetime.fromtimestamp(state.owner.started, UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = (f"In progress: process {owner.pid} on {owner.host}, started {began}. If that process is gone, "
                "the run was interrupted; resume it with:")
        return report.Notice("running", text, state.resume)
    if status == runstate.INTERRUPTED:
        return interrupted_notice(state.resume)
    if status == "failed" and len(state.done) < len(STAGES):
        return report.Notice("stopped", "Stopped before its stages finished; resume it with:", state.resume)
    return None


def interrupted_notice(resume: str) -> report.Notice:
    """The notice of a run whose process is gone while its state still said running (killed mid-stage)."""
    text = "Interrupted: the process running this run is gone (killed mid-stage). Resume it with:"
    return report.Notice(runstate.INTERRUPTED, text, resume)


def write_runs_listing(root: Path) -> Path:
    """reports/index.html: every run under root, newest first; an interrupted run's index says so."""
    from mlworkflow.workflow import compare

    target = runs_listing(root)
    records = []
    for run_id in compare.list_runs(root):
        try:
            record = compare.load_run(root, run_id)
        except MlwError as exc:  # one unreadable run must not hide the others
            record = compare.RunRecord(run_id, {}, "unreadable", note=str(exc))
        if record.status == runstate.INTERRUPTED:
            report.mark_notice(RunLayout(root, run_id).index, interrupted_notice(record.resume))
        records.append(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(compare.listing_page(records), encoding="utf-8")
    return target


def _quiet(_message: str) -> None:
    return None
