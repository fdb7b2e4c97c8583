"""Parameter sweeps: every combination of the varied params' values, each a run of its own, run in parallel.

`mlworkflow sweep PARAMS --vary train.search=optuna,halving --vary select.top_k=1,2` (or a `sweep:` section
in the file) validates every variant's params before any kernel starts, then runs them `parallel` at a
time, each with its share of the cores (`MLW_CPUS`) and the native thread pools capped. Stages before the
first varied section are the same for every variant: the first variant runs them alone, and the others
find them in the stage cache. `sweeps/<sweep>/sweep.json` records each variant's run, status and time.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlworkflow import config
from mlworkflow.core import parallel, yamlfile
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue, did_you_mean
from mlworkflow.layout import check_run_id, is_taken
from mlworkflow.params import STAGES, Params, SweepParams, load_params
from mlworkflow.workflow import preflight, runner
from mlworkflow.workflow.sweepstate import Status, SweepLayout, SweepRecord, VariantEntry, claim, write_record

DEFAULT_STAGES = STAGES[: STAGES.index("evaluate") + 1]  # a sweep compares models: it deploys none by default
Echo = Callable[[str], None]


# --- the variants ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One combination of the varied values: its label and the `--set` overrides that make it."""

    values: dict[str, Any]

    @property
    def label(self) -> str:
        """`key=value, key=value`, as the console and the leaderboard name it."""
        return ", ".join(f"{key}={yaml_text(value)}" for key, value in self.values.items())

    @property
    def sets(self) -> tuple[str, ...]:
        """The variant as `--set` overrides."""
        return tuple(f"{key}={yaml_text(value)}" for key, value in self.values.items())


def yaml_text(value: Any) -> str:
    """A value as YAML text that reads back as itself: a bare word when it does, else JSON (which YAML reads)."""
    if isinstance(value, str) and value and _read_back(value) == value:
        return value
    return json.dumps(value)


def _read_back(text: str) -> Any:
    """What YAML reads from text (None when it is not YAML)."""
    try:
        return yamlfile.loads(text)
    except yaml.YAMLError:  # DuplicateKeyError is one
        return None


def parse_vary(items: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """`--vary KEY=V1,V2,…` options: each key once, its values read as one YAML flow list."""
    vary: dict[str, tuple[Any, ...]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ParamsError("command line", [ParamsIssue("--vary", "KEY=VALUE,VALUE,… e.g. train.search=optuna,halving", repr(item))])
        if key in vary:
            raise ParamsError("command line", [ParamsIssue(f"--vary {key}", "each key once", "it twice")])
        vary[key] = flow_values(key, text)
    return vary


def flow_values(key: str, text: str) -> tuple[Any, ...]:
    """`optuna,halving` or `[1,2],[1,3]` as a tuple of values (YAML flow sequence items)."""
    values = _read_back(f"[{text}]")
    if not isinstance(values, list) or not values:
        raise ParamsError("command line", [ParamsIssue(f"--vary {key}", "values as a YAML flow list, e.g. 1,2 or a,b", repr(text))])
    return tuple(values)


def schema_issue(key: str, where: str) -> ParamsIssue | None:
    """Why a varied key is not a params key (`section.key`, or deeper within a mapping-valued key), or None."""
    model: type[BaseModel] = Params
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = [name for name in model.model_fields if name != "sweep"]
        if part not in fields:
            path = ".".join(parts[: depth + 1])
            return ParamsIssue(f"{where} {path}", f"a params key: one of {', '.join(fields)}", "an unknown key", did_you_mean(part, fields))
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        deeper = typing.get_origin(annotation) is dict
        if depth < len(parts) - 1 and not deeper:
            return ParamsIssue(f"{where} {key}", f"a params key ('{'.'.join(parts[: depth + 1])}' holds a value, not keys)", "a key below it")
        return None
    return ParamsIssue(f"{where} {key}", "a key of a section, e.g. train.search", "a whole section")


def checked_vary(file_vary: Mapping[str, tuple[Any, ...]], cli_vary: Mapping[str, tuple[Any, ...]], source: str) -> dict[str, tuple[Any, ...]]:
    """The varied keys: the file's `sweep.vary`, each `--vary` key replacing the file's; every key in the schema."""
    vary = {**file_vary, **cli_vary}
    issues = []
    for key, values in vary.items():
        issue = schema_issue(key, "--vary" if key in cli_vary else "sweep.vary") or values_issue(key, values, cli_vary)
        issues += [issue] if issue is not None else []
    if not vary:
        issues.append(ParamsIssue("--vary", "at least one varied key (--vary KEY=V1,V2 or sweep.vary in the file)", "none"))
    if issues:
        raise ParamsError(source, issues)
    return vary


def values_issue(key: str, values: Sequence[Any], cli_vary: Mapping[str, Any]) -> ParamsIssue | None:
    """Why a key's values break the `sweep.vary` rules (at least one, each once, a key that may vary), or None."""
    try:
        SweepParams.model_validate({"vary": {key: values}})
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        return ParamsIssue(f"{'--vary' if key in cli_vary else 'sweep.vary'} {key}", message, repr(list(values)))
    return None


def expand(vary: Mapping[str, Sequence[Any]]) -> list[Variant]:
    """Every combination of the values, in the order given (the last key varying fastest)."""
    keys = list(vary)
    return [Variant(dict(zip(keys, combo, strict=True))) for combo in itertools.product(*vary.values())]


def validated(params_file: str, overrides: Sequence[str], variants: Sequence[Variant]) -> list[Params]:
    """Every variant's params, validated before any kernel starts; an error names the variant and the key."""
    checked = []
    for number, variant in enumerate(variants, start=1):
        source = f"{params_file} (variant {number} of {len(variants)}: {variant.label})"
        try:
            params = load_params(params_file, [*overrides, *variant.sets])
            preflight.check_columns(params, source)
        except ParamsError as exc:
            raise ParamsError(source, [_said_of_vary(issue, variant) for issue in exc.issues]) from None
        checked.append(params)
    return checked


def _said_of_vary(issue: ParamsIssue, variant: Variant) -> ParamsIssue:
    """An issue of a varied key says `--vary` set it, not `--set`."""
    if issue.key not in variant.values:
        return issue
    return replace(issue, found=issue.found.replace("(set by --set)", "(set by --vary)"))


def shared_stages(vary: Mapping[str, Any], stages: Sequence[str]) -> list[str]:
    """The stages before the first varied section: the same in every variant (none when run.seed varies)."""
    sections = {key.split(".")[0] for key in vary}
    if "run" in sections:
        return []
    first = min(STAGES.index(section) for section in sections)
    return [s for s in stages if STAGES.index(s) < first]


# --- running the variants -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantTask:
    """What running one variant needs, as plain data (picklable: a process pool or a cluster can take it)."""

    params_file: str
    params_source: str
    overrides: tuple[str, ...]
    stages: tuple[str, ...]
    root: str
    run_id: str
    label: str
    cpus: int
    resume: bool = False


@dataclass(frozen=True)
class VariantOutcome:
    """How one variant's run ended."""

    run_id: str
    status: Status
    seconds: float
    error: str = ""


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (None: unset) environment variables for a block (the kernel a run starts inherits them), then restore them."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set(name, value)
        yield
    finally:
        for name, value in before.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def run_variant(task: VariantTask) -> VariantOutcome:
    """Run one variant as a run of its own, with its share of the cores and the native pools capped."""
    began = time.perf_counter()
    params = load_params(task.params_file, task.overrides)
    where = {parallel.CLUSTER_VARIABLE: None, **parallel.kernel_environ(params.run.cluster)}  # as `mlworkflow run`
    with environment({parallel.CPUS_VARIABLE: str(task.cpus), **where, **config.thread_caps(os.environ)}):
        request = runner.RunRequest(params, task.params_source, task.overrides, task.stages, Path(task.root),
                                    task.run_id, task.resume)
        try:
            result = runner.run(request, echo=lambda line: print(f"[{task.run_id}] {line}", flush=True))
        except MlwError as exc:
            return VariantOutcome(task.run_id, "failed", time.perf_counter() - began, str(exc))
    error = str(result.error) if result.error else ""
    return VariantOutcome(task.run_id, "failed" if error else "ok", time.perf_counter() - began, error)


Execute = Callable[[VariantTask], VariantOutcome]


def run_tasks(execute: Execute, tasks: Sequence[VariantTask], at_once: int,
              done: Callable[[VariantOutcome], None]) -> None:
    """Run the tasks `at_once` at a time (fresh processes: each run has its own kernel); `done` hears each."""
    if at_once == 1 or len(tasks) == 1:
        for task in tasks:
            done(execute(task))
        return
    context = multiprocessing.get_context("spawn")  # no threads or kernels inherited half-way through
    with ProcessPoolExecutor(min(at_once, len(tasks)), context, initializer=stop_on_sigterm) as pool:
        futures = [pool.submit(execute, task) for task in tasks]
        try:
            for future in as_completed(futures):
                done(future.result())
        except SystemExit:  # the sweep was stopped (SIGTERM): stop the variants' runs as well
            for future in futures:
                future.cancel()
            for worker in multiprocessing.active_children():
                worker.terminate()
            raise


def stop_on_sigterm() -> None:
    """In a variant's process: SIGTERM stops its run as it stops `mlworkflow run` (kernel shut down, state kept)."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def cluster_of(tasks: Sequence[VariantTask]) -> str | None:
    """The Dask scheduler the variants' params name (`run.cluster`), or None to run them on this machine."""
    return load_params(tasks[0].params_file, tasks[0].overrides).run.cluster if tasks else None


def variant_command(task: VariantTask) -> list[str]:
    """`mlworkflow run` of one variant, as a cluster worker's process runs it."""
    which = ("--resume", task.run_id) if task.resume else ("--run-id", task.run_id)
    sets = [part for item in task.overrides for part in ("--set", item)]
    return [sys.executable, "-m", "mlworkflow.workflow.cli", "run", str(Path(task.params_file).resolve()), *sets,
            "--stages", ",".join(task.stages), "--root", task.root, *which]


def run_variant_on_worker(task: VariantTask) -> VariantOutcome:
    """One variant as a cluster task: `mlworkflow run` in a process of its own on the worker's machine (a worker's
    process may not fork a pool), the worker's thread handed back meanwhile (secede) so its fits can use it."""
    from distributed import secede

    secede()  # type: ignore[no-untyped-call]
    began = time.perf_counter()
    env = {**os.environ, parallel.CPUS_VARIABLE: str(task.cpus)}
    done = subprocess.run(variant_command(task), env=env, capture_output=True, text=True, check=False)
    lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
    error = "" if done.returncode == 0 else lines[-1].removeprefix("error: ")
    return VariantOutcome(task.run_id, "failed" if error else "ok", time.perf_counter() - began, error)


def run_on_cluster(address: str, tasks: Sequence[VariantTask], at_once: int,
                   done: Callable[[VariantOutcome], None]) -> None:
    """Submit the variants to the Dask scheduler at `address` as tasks, `at_once` in flight; `done` hears each."""
    from distributed import as_completed as finished

    client, waiting = parallel.client(address), list(tasks)

    def submit(task: VariantTask) -> Any:
        return client.submit(run_variant_on_worker, task, key=f"variant-{task.run_id}", pure=False)

    first = [submit(waiting.pop(0)) for _ in range(min(at_once, len(waiting)))]
    flying: Any = finished(first, loop=client.loop)  # type: ignore[no-untyped-call]  # our client is no default one
    for future in flying:
        done(future.result())
        if waiting:
            flying.add(submit(waiting.pop(0)))


@dataclass(frozen=True)
class SweepRequest:
    """Everything `mlworkflow sweep` was asked to do."""

    params_file: str
    params_source: str
    overrides: Sequence[str]
    vary: Sequence[str]
    root: Path
    cores: int
    stages: Sequence[str] = ()
    parallel: int | None = None


@dataclass(frozen=True)
class Plan:
    """A validated sweep: its variants' tasks, what they share, and how many run at once."""

    sweep: SweepLayout
    record: SweepRecord
    tasks: list[VariantTask]


def plan(request: SweepRequest) -> Plan:
    """Validate every variant and claim the sweep's id; nothing is written when a variant's params are bad."""
    base = load_params(request.params_file, request.overrides)
    vary = checked_vary(base.sweep.vary, parse_vary(request.vary), request.params_file)
    variants = expand(vary)
    checked = validated(request.params_file, request.overrides, variants)
    for address in dict.fromkeys(p.run.cluster for p in checked if p.run.cluster is not None):
        preflight.check_cluster(next(p for p in checked if p.run.cluster == address), request.params_file)
    stages = runner.select_stages(request.stages or DEFAULT_STAGES)
    at_once = min(request.parallel or base.sweep.parallel or request.cores, len(variants))
    sweep = claim(request.root.resolve(), base.run.name)
    record = SweepRecord(
        sweep_id=sweep.sweep_id, params_source=request.params_source, overrides=list(request.overrides),
        keys=list(vary), stages=stages, parallel=at_once, cpus=max(1, request.cores // at_once),
        shared=shared_stages(vary, stages), created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        variants=[VariantEntry(label=v.label, values=v.values, sets=list(v.sets), run_id=f"{sweep.sweep_id}-{n}")
                  for n, v in enumerate(variants, start=1)],
    )
    taken = [v.run_id for v in record.variants if is_taken(sweep.root, check_run_id(v.run_id))]
    if taken:
        sweep.folder.rmdir()
        raise MlwError(f"runs {', '.join(taken)} exist already under {sweep.root}")
    return Plan(sweep, record, [task_of(request, record, entry) for entry in record.variants])


def task_of(request: SweepRequest, record: SweepRecord, entry: VariantEntry) -> VariantTask:
    """The plain-data task of one variant."""
    return VariantTask(request.params_file, request.params_source, (*request.overrides, *entry.sets),
                       tuple(record.stages), str(request.root.resolve()), entry.run_id, entry.label, record.cpus)


def execute(planned: Plan, echo: Echo = print, run: Execute = run_variant) -> SweepRecord:
    """Run every variant; the shared stages first, alone; sweep.json follows each variant's end."""
    record, tasks = planned.record, list(planned.tasks)
    write_record(planned.sweep, record)
    for entry in record.variants:
        echo(f"variant {entry.run_id}: {entry.label}")
    spent: dict[str, float] = {}
    if record.shared and record.parallel > 1 and record.shared != record.stages:
        echo(f"shared stages {', '.join(record.shared)}: run once, by {tasks[0].run_id}")
        first = run(replace(tasks[0], stages=tuple(record.shared), cpus=record.cpus * record.parallel))
        if first.status != "ok":
            return finish(planned, record, [first], stopped=True)
        spent[first.run_id] = first.seconds
        tasks[0] = replace(tasks[0], resume=True)
    outcomes: list[VariantOutcome] = []

    def done(outcome: VariantOutcome) -> None:
        outcome = replace(outcome, seconds=outcome.seconds + spent.get(outcome.run_id, 0.0))
        outcomes.append(outcome)
        echo(f"variant {outcome.run_id} {outcome.status} in {outcome.seconds:.1f} s")
        write_record(planned.sweep, updated(record, outcomes))

    cluster = cluster_of(tasks) if run is run_variant else None
    if cluster is not None:  # each variant a task of the run's Dask cluster (its fits too)
        echo(f"variants: tasks of the Dask cluster at {cluster}")
        run_on_cluster(cluster, tasks, record.parallel, done)
    else:
        run_tasks(run, tasks, record.parallel, done)
    return finish(planned, record, outcomes)


def updated(record: SweepRecord, outcomes: Sequence[VariantOutcome], rest: Status = "pending") -> SweepRecord:
    """The record with the outcomes known so far; the other variants get `rest`."""
    known = {o.run_id: o for o in outcomes}
    entries = [
        entry.model_copy(update={"status": known[entry.run_id].status, "seconds": round(known[entry.run_id].seconds, 2),
                                 "error": known[entry.run_id].error})
        if entry.run_id in known else entry.model_copy(update={"status": rest})
        for entry in record.variants
    ]
    return record.model_copy(update={"variants": entries})


def finish(planned: Plan, record: SweepRecord, outcomes: Sequence[VariantOutcome], stopped: bool = False) -> SweepRecord:
    """The final record, written: variants a failed shared stage stopped are `not run`."""
    final = updated(record, outcomes, "not run" if stopped else "pending")
    write_record(planned.sweep, final)
    return final
