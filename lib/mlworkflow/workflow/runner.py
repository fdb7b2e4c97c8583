"""The runner: execute stage notebooks with papermill in one process, render each to HTML."""

from __future__ import annotations

import dataclasses
import functools
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
    CATALOGUE,
    STAGE_RECORDS,
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    PreprocessRecord,
    RetrainRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views.summary import RunRecords
from mlworkflow.workflow import cache, report, runstate

Echo = Callable[[str], None]
KERNEL = "python3"
SOCKETS_PREFIX = "mlw-kernel-"  # + the runner's pid: a folder left by a killed run can be told from a live one
CLAIM_ATTEMPTS = 100  # generated ids: another run may take the same second's id first
NOT_INPUTS = frozenset(entry.name for entry in CATALOGUE if entry.kind == "log")  # a trial's log: no stage reads it
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
    force: Sequence[str] = ()  # stages that run whatever their cache key (`--force`)
    lib: Path = cache.LIB  # the package whose modules' sources enter the keys (a copy, in tests)

    @functools.cached_property
    def params_yaml(self) -> str:
        """The params as every page of the run shows them (dumped once: YAML's emitter is slow)."""
        return yaml.safe_dump(self.params.model_dump(mode="json"), sort_keys=False)


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


def select_stages(requested: Sequence[str], option: str = "--stages") -> list[str]:
    """Validate `--stages` (or `--force`) names and return them in run order (all stages when empty)."""
    for name in requested:
        if name not in STAGES:
            issue = ParamsIssue(option, f"one of {', '.join(STAGES)}", repr(name), did_you_mean(name, STAGES))
            raise ParamsError("command line", [issue])
    return [s for s in STAGES if not requested or s in requested]


@dataclass
class Ledger:
    """What a run knows of its stages: each done one's cache key, files (with SHA-256) and reason."""

    done: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    ran: set[str] = field(default_factory=set)

    def inputs(self, stage: str) -> dict[str, str]:
        """The files the stages before `stage` left in the artifact folder (logs aside), with their SHA-256."""
        earlier = STAGES[: STAGES.index(stage)]
        return {name: sha for s in earlier for name, sha in self.outputs.get(s, {}).items() if name not in NOT_INPUTS}

    def upstream_ran(self, stage: str) -> bool:
        """Whether a stage before `stage` was executed in this run."""
        return any(s in self.ran for s in STAGES[: STAGES.index(stage)])

    def keep(self, stage: str, digest: str, outputs: dict[str, str], reason: str) -> None:
        """Record a stage done: its key, its files and why it ran or was reused."""
        self.done[stage], self.outputs[stage], self.reasons[stage] = digest, dict(outputs), reason


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
        """Shut the kernel down and remove its sockets' folder (nothing to do, nor to import, when none started)."""
        if self.km is None and self.kc is None and self.sockets is None:
            return
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


def load_state(layout: RunLayout) -> runstate.RunState:
    """The run's state file: which stages completed with which params."""
    path = layout.state_file
    if not path.is_file():
        raise MlwError(f"cannot resume run '{layout.run_id}': {path} not found")
    return runstate.read(path)


def ledger_of(layout: RunLayout) -> Ledger:
    """The ledger a resumed run starts from (a stage an older runner recorded without files: its catalogued ones)."""
    state = load_state(layout)
    outputs = {stage: state.outputs.get(stage) or catalogued(layout, stage) for stage in state.done}
    return Ledger(dict(state.done), outputs, dict(state.reasons))


def catalogued(layout: RunLayout, stage: str) -> dict[str, str]:
    """The catalogue's files of a stage present in the run's artifact folder, with their SHA-256."""
    paths = [layout.artifacts / entry.name for entry in CATALOGUE if entry.stage == stage]
    return {path.name: cache.file_sha256(path) for path in paths if path.is_file()}


def state_of(layout: RunLayout, ledger: Ledger, request: RunRequest, status: runstate.Status) -> runstate.RunState:
    """The run's state: done stages, status, how it was asked for, its process, the command that resumes it."""
    return runstate.RunState(
        done=dict(ledger.done), outputs=dict(ledger.outputs), reasons=dict(ledger.reasons), status=status,
        params_source=request.params_source, overrides=list(request.overrides), stages=list(request.stages),
        owner=runstate.this_process(), resume=resume_command(request, layout.run_id),
    )


def save_state(layout: RunLayout, ledger: Ledger, request: RunRequest, status: runstate.Status = "running") -> None:
    """Record completed stages (their keys and files, for `--resume`) and the run's status."""
    runstate.write(layout.state_file, state_of(layout, ledger, request, status))


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
    return runstate.claim(layout.state_file, state_of(layout, Ledger(), request, "running"))


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
        params_yaml=request.params_yaml,
        data_sha256=sha or "not yet computed",
        commit=project_commit(),
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=dict(page_versions()),
    )


@functools.cache
def project_commit() -> str:
    """The project's git commit as the pages state it, asked of git once per process (the code a run imported)."""
    return provenance.git_commit(PROJECT_ROOT)


@functools.cache
def page_versions() -> dict[str, str]:
    """The package versions the pages state, read once per process (like the cache keys' distributions)."""
    return provenance.package_versions(report.PACKAGES)


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


def read_records(layout: RunLayout) -> RunRecords:
    """The records the run's stages (and a retrain) have written so far."""
    store = io.Artifacts(layout.artifacts)
    return RunRecords(
        store.find(DataRecord), store.find(SelectRecord), store.find(TrainRecord), store.find(EvaluateRecord),
        store.find(MonitorRecord), store.find(RetrainRecord), store.find(PreprocessRecord),
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
    """Reuse or execute the planned stages (one kernel, started only if a stage runs), write the index; stop at
    the first failure.

    `echo` gets a line per stage (ran and why, or reused from which run), `progress` the cell count and elapsed
    time, `stream` the kernel's stderr.
    """
    root = request.root.resolve()
    layout = open_run(request, root)
    planned = select_stages(request.stages)
    select_stages(request.force, "--force")
    for stage in planned:
        notebook_for(stage, request.notebooks)
    ledger, result = start_run(request, layout), RunResult(layout, [])
    session, store = KernelSession(request.notebooks), cache.Store(root)
    store.load_imports()
    echo(f"run {layout.run_id}: {len(planned)} stage(s) → {result.index}")
    status: runstate.Status = "failed"  # unless every stage ran: also on Ctrl-C and SIGTERM (cli)
    try:
        for position, stage in enumerate(planned, start=1):
            step = Step(request, layout, session, store, ledger, f"[{position}/{len(planned)}]")
            summary, result.error = one_stage(step, stage, echo, progress or _quiet, stream)
            result.stages.append(summary)
            if result.error:
                break
            save_state(layout, ledger, request)
        status = "failed" if result.error else "ok"
    finally:
        session.stop()
        store.save_imports()
        save_state(layout, ledger, request, status)
        write_run_index(request, layout, result)
        write_runs_listing(root)
    return result


@dataclass(frozen=True)
class Step:
    """What one stage of a run works with: the request, the run, the kernel, the cache and the ledger."""

    request: RunRequest
    layout: RunLayout
    session: KernelSession
    store: cache.Store
    ledger: Ledger
    tag: str  # "[3/7]" in the console lines


def decide(step: Step, key: cache.Key) -> cache.Decision:
    """Reuse the stage stored under its key, or run it (forced, never reused, or something changed)."""
    blocked = cache.never_reused(key.stage, step.request.params)
    if blocked:
        return cache.Decision(None, blocked)
    forced, upstream = key.stage in step.request.force, step.ledger.upstream_ran(key.stage)
    return step.store.decide(key, forced, upstream)


def one_stage(
    step: Step, stage: str, echo: Echo, progress: Echo, stream: TextIO | None
) -> tuple[report.StageReport, StageError | None]:
    """Reuse a stage stored under its key, else execute it (and store it when it succeeds); echo which and why."""
    source = notebook_for(stage, step.request.notebooks)
    request = step.request
    key = cache.stage_key(stage, request.params, source, step.ledger.inputs(stage), step.layout.root, request.lib)
    decision = decide(step, key)
    if decision.entry is not None:
        summary = reuse_stage(step, decision.entry)
        echo(f"{step.tag} {stage} {decision.reason} → {summary.report}")
        return summary, None
    echo(f"{step.tag} {stage} … ({decision.reason})")
    summary, error = execute_and_keep(step, key, decision.reason, progress, stream)
    verb = "failed" if error else "ran"
    echo(f"{step.tag} {stage} {verb} in {summary.total_s:.1f} s ({decision.reason}) → {summary.report}")
    return summary, error


def reuse_stage(step: Step, entry: cache.Entry) -> report.StageReport:
    """Link a stored stage's artifacts, executed notebook and report into the run; its summary row."""
    began, layout = time.perf_counter(), step.layout
    step.store.restore(entry, layout.artifacts, layout.executed, layout.reports)
    reason = f"reused from {entry.run_id}"
    step.ledger.keep(entry.stage, entry.digest, entry.outputs, reason)
    linked = time.perf_counter() - began
    return report.StageReport(entry.stage, "reused", entry.report, read_headline(layout, entry.stage), 0.0, linked, 0.0,
                              reason=reason)


def execute_and_keep(
    step: Step, key: cache.Key, reason: str, progress: Echo, stream: TextIO | None
) -> tuple[report.StageReport, StageError | None]:
    """Execute a stage on its inputs alone; when it succeeds, record its new files and store it."""
    layout, ledger, stage = step.layout, step.ledger, key.stage
    earlier = {name for s in STAGES[: STAGES.index(stage)] for name in ledger.outputs.get(s, {})}
    for name in set(cache.snapshot(layout.artifacts)) - earlier:
        (layout.artifacts / name).unlink()  # left by an earlier attempt: written anew, never into a stored file
    before = cache.snapshot(layout.artifacts)
    kernel_s = step.session.start() if step.session.km is None else step.session.reset()
    summary, error = run_stage(step.request, layout, step.session, stage, progress, stream)
    summary = dataclasses.replace(summary, kernel_s=kernel_s, reason=f"ran: {reason}")
    ledger.ran.add(stage)
    if error is None:
        outputs = cache.written(before, cache.snapshot(layout.artifacts))
        ledger.keep(stage, key.digest, {n: cache.file_sha256(layout.artifacts / n) for n in outputs}, f"ran: {reason}")
        if not cache.never_reused(stage, step.request.params):
            executed = layout.executed / notebook_for(stage, step.request.notebooks).name
            step.store.save(key, layout.run_id, layout.artifacts, outputs, executed, layout.reports / summary.report)
    return summary, error


def start_run(request: RunRequest, layout: RunLayout) -> Ledger:
    """Write the run's params, its state (running, this process) and pages; return what is already done."""
    ledger = ledger_of(layout) if request.resume else Ledger()
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    params_json = json.dumps(request.params.model_dump(mode="json"), indent=2, allow_nan=True)
    layout.params_file.write_text(params_json + "\n", encoding="utf-8")
    save_state(layout, ledger, request)
    write_run_index(request, layout, RunResult(layout, []))  # a run killed mid-stage still has its page and row
    write_runs_listing(layout.root)
    return ledger


def listed_stages(request: RunRequest) -> tuple[str, ...]:
    """The stages a run's index lists: a monitor run (`mlworkflow monitor`) its own only, any other run every stage."""
    return ("monitor",) if list(request.stages) == ["monitor"] else tuple(STAGES)


def write_run_index(request: RunRequest, layout: RunLayout, result: RunResult) -> None:
    """Write the index with every stage it lists: executed ones with figures, the rest as not run."""
    shown = {s.stage for s in result.stages}
    rows = list(result.stages)
    state = load_state(layout) if layout.state_file.is_file() else runstate.RunState()
    for stage in listed_stages(request):
        if stage not in shown:
            pages = sorted(layout.reports.glob(f"[0-9][0-9]_{stage}.html"))
            status = "ok (earlier)" if stage in state.done else "not run"
            link = pages[0].name if pages and status != "not run" else ""
            reason = state.reasons.get(stage, "")
            rows.append(report.StageReport(stage, status, link, read_headline(layout, stage), 0.0, 0.0, 0.0, reason=reason))
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
            record = compare.load_run(root, run_id, plots=False)
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
