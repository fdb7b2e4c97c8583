"""The command line: `mlworkflow run`, `check`, `export`, `compare`, the service's commands, `monitor`, `retrain`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from mlworkflow import config, io, layout
from mlworkflow.config import DEFAULT_PARAMS, NOTEBOOKS
from mlworkflow.core import parallel
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue
from mlworkflow.params import STAGES, load_params
from mlworkflow.records import MonitorRecord
from mlworkflow.workflow import preflight


def _add_params_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("params", nargs="?", default=str(DEFAULT_PARAMS), help="params YAML file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one params value (repeatable; VALUE is read as YAML)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="mlworkflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the stage notebooks and render HTML reports")
    _add_params_arguments(run)
    run.add_argument("--stages", default="", help=f"comma-separated subset of {','.join(STAGES)}")
    run.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/ and reports/")
    which = run.add_mutually_exclusive_group()
    which.add_argument("--run-id", default=None, help="name of a new run folder (default: <name>-<timestamp>)")
    which.add_argument("--resume", metavar="RUN_ID", default=None, help="continue a run, skipping done stages")
    run.add_argument("--show-code", action="store_true", help="show code cells in the reports by default")
    run.add_argument("--force", nargs="?", const=",".join(STAGES), default="", metavar="STAGES",
                     help="run these stages (comma-separated; all when none is given) even when the cache holds them")
    run.add_argument("--cluster", default=None, metavar="tcp://HOST:PORT",
                     help="fit on this dask.distributed scheduler's workers (same as --set run.cluster=ADDRESS)")
    run.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    check = commands.add_parser("check", help="validate a params file without running anything")
    _add_params_arguments(check)
    export = commands.add_parser("export", help="write one self-contained HTML file of a run's reports")
    export.add_argument("run_id", metavar="RUN", help="run id (a folder name under reports/)")
    export.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/ and reports/")
    export.add_argument("--output", type=Path, default=None, help="file to write (default reports/RUN.html)")
    compare = commands.add_parser("compare", help="compare runs: params that differ, metrics, key plots")
    compare.add_argument("run_ids", metavar="RUN", nargs="+",
                         help="two or more run ids, or a sweep (its id, or its folder sweeps/SWEEP): its variants' runs")
    compare.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/ and reports/")
    compare.add_argument("--output", type=Path, default=None, help="file to write (default reports/compare-….html)")
    _add_sweep_command(commands)
    _add_service_commands(commands)
    _add_monitor_commands(commands)
    return parser


def _add_sweep_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`sweep`: a run per combination of varied params, in parallel, and a leaderboard."""
    sweep = commands.add_parser("sweep", help="run every combination of varied params; write a leaderboard")
    _add_params_arguments(sweep)
    sweep.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                       help="a params key and its values, read as YAML (repeatable; replaces the file's sweep.vary of that key)")
    sweep.add_argument("--parallel", type=int, default=None,
                       help="variants at a time (default: sweep.parallel, else as many as the cores)")
    sweep.add_argument("--stages", default="", help="comma-separated stages of each variant (default data … evaluate)")
    sweep.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/, reports/ and sweeps/")
    sweep.add_argument("--cluster", default=None, metavar="tcp://HOST:PORT",
                       help="run each variant as a task of this dask.distributed scheduler (same as --set run.cluster=ADDRESS)")


def _add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`serve`, `predict` and `promote`: the registry's models in use."""
    registry_help = "model registry folder (default: params deploy.registry, relative to the current folder)"
    allow_help = "load a bundle built with another scikit-learn version"
    serve = commands.add_parser("serve", help="serve a registered model over HTTP (FastAPI + uvicorn)")
    _add_params_arguments(serve)
    serve.add_argument("--model", default=None, help="NAME@ALIAS or NAME@VERSION (default: deploy.name@champion)")
    serve.add_argument("--registry", type=Path, default=None, help=registry_help)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--access-log", action="store_true", help="log every request (off: the prediction log has them)")
    serve.add_argument("--allow-version-mismatch", action="store_true", help=allow_help)
    predict = commands.add_parser("predict", help="score a CSV file with a registered model")
    _add_params_arguments(predict)
    predict.add_argument("--model", required=True, help="NAME@ALIAS, NAME@VERSION or NAME (= NAME@champion)")
    predict.add_argument("--input", type=Path, required=True, help="CSV file (.csv or .csv.gz) with a header")
    predict.add_argument("--output", type=Path, required=True, help="predictions CSV to write")
    predict.add_argument("--on-error", choices=["stop", "skip"], default="stop",
                         help="bad rows stop the job (default) or are skipped and reported")
    predict.add_argument("--passthrough", action="append", default=[], metavar="COLUMN",
                         help="copy this input column to the output unchecked (repeatable)")
    predict.add_argument("--errors", type=Path, default=None, help="also write every bad row's problems to this CSV")
    predict.add_argument("--registry", type=Path, default=None, help=registry_help)
    predict.add_argument("--allow-version-mismatch", action="store_true", help=allow_help)
    promote = commands.add_parser("promote", help="point an alias (champion, challenger) at a registered version")
    promote.add_argument("name", help="model name")
    promote.add_argument("version", help="version number (or an alias, to copy it)")
    promote.add_argument("--alias", required=True, choices=["champion", "challenger"], help="the alias to set")
    promote.add_argument("--registry", type=Path, default=Path("models"), help="model registry folder (default models)")


def _add_monitor_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`monitor` and `retrain`: watching the deployed model, and the champion/challenger loop."""
    root_help = "folder holding runs/, reports/ and a relative registry (default: the current folder)"
    registry_help = "model registry folder (default: monitor.registry, else deploy.registry, under --root)"
    monitor = commands.add_parser(
        "monitor", help="drift, performance and a verdict for the deployed model (exit 3: RETRAIN)"
    )
    _add_params_arguments(monitor)
    source = monitor.add_mutually_exclusive_group()
    source.add_argument("--current", type=Path, default=None, metavar="FILE",
                        help="a CSV or Parquet batch of current records (with the target column: realized metrics)")
    source.add_argument("--log", nargs="?", const="", default=None, metavar="URL",
                        help="read the prediction log (no URL: deploy.log_url, else <registry>/<name>/predictions.sqlite)")
    monitor.add_argument("--since", default=None, help="start of the log window, ISO time (UTC unless a zone is given)")
    monitor.add_argument("--until", default=None, help="end of the log window (exclusive), ISO time")
    monitor.add_argument("--model", default=None, help="NAME@ALIAS or NAME@VERSION (default: deploy.name@champion)")
    monitor.add_argument("--registry", type=Path, default=None, help=registry_help)
    monitor.add_argument("--root", type=Path, default=Path.cwd(), help=root_help)
    monitor.add_argument("--run-id", default=None, help="name of the run folder (default: <name>-monitor-<timestamp>)")
    retrain = commands.add_parser(
        "retrain", help="retrain on old + new labelled data; promote the challenger only if it beats the champion"
    )
    _add_params_arguments(retrain)
    retrain.add_argument("--with", dest="new_data", type=Path, required=True, metavar="NEW_DATA",
                         help="CSV or Parquet file of new labelled records (the old data's columns)")
    retrain.add_argument("--registry", type=Path, default=None, help="model registry folder (default: deploy.registry)")
    retrain.add_argument("--root", type=Path, default=Path.cwd(), help=root_help)
    retrain.add_argument("--run-id", default=None, help="name of the run folder (default: <name>-retrain-<timestamp>)")


def shown_path(path: str) -> str:
    """A params path as reports show it: relative to the current folder when it lies inside it."""
    resolved, here = Path(path).resolve(), Path.cwd().resolve()
    return str(resolved.relative_to(here)) if resolved.is_relative_to(here) else path


def command_check(args: argparse.Namespace) -> int:
    """Validate params and say so."""
    params = load_params(args.params, args.overrides)
    preflight.check_columns(params, str(args.params))
    preflight.check_cluster(params, str(args.params))
    print(f"{args.params}: ok (run '{params.run.name}', stages {', '.join(STAGES)})")
    if params.sweep.vary:
        from mlworkflow.workflow import sweep

        variants = sweep.expand(sweep.checked_vary(params.sweep.vary, {}, str(args.params)))
        sweep.validated(str(args.params), args.overrides, variants)
        print(f"{args.params}: sweep ok ({len(variants)} variants)")
    return 0


def checked_run_ids(args: argparse.Namespace) -> None:
    """Every run id the command line names is one folder name (the run-name rule), before anything runs."""
    positional = args.command in ("export", "compare")
    for option in ("run_id", "resume"):
        if getattr(args, option, None) is not None:
            layout.check_run_id(getattr(args, option), "RUN" if positional else f"--{option.replace('_', '-')}")
    for run_id in getattr(args, "run_ids", None) or ():
        if not Path(run_id, "sweep.json").is_file():  # a sweep's folder, which compare takes too
            layout.check_run_id(run_id, "RUN")


def new_run_id_free(args: argparse.Namespace) -> None:
    """A `--run-id` for a new run must not be an existing run's (only `--resume` continues one)."""
    if args.run_id is not None and layout.is_taken(args.root.resolve(), args.run_id):
        issue = ParamsIssue("--run-id", f"an id no run under {args.root} has", f"'{args.run_id}', an existing run's id")
        raise ParamsError("command line", [issue])


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a run stopped by `kill` still stops its kernel and records its state."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def cluster_override(args: argparse.Namespace) -> list[str]:
    """`--cluster ADDRESS` as the override it stands for, so the address is validated with the params."""
    return [f"run.cluster={args.cluster}"] if args.cluster else []


def fit_where(cluster: str | None) -> None:
    """Tell the kernel, which inherits this environment, where its fits run (MLW_CLUSTER, none for local)."""
    os.environ.pop(parallel.CLUSTER_VARIABLE, None)
    os.environ.update(parallel.kernel_environ(cluster))


def command_run(args: argparse.Namespace) -> int:
    """Run the workflow; one line on failure."""
    from mlworkflow.workflow import runner

    new_run_id_free(args)
    params = load_params(args.params, [*args.overrides, *cluster_override(args)])
    preflight.check_columns(params, str(args.params))
    preflight.check_cluster(params, str(args.params))
    fit_where(params.run.cluster)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    forced = [s.strip() for s in args.force.split(",") if s.strip()]
    runner.select_stages(forced, "--force")
    request = runner.RunRequest(
        params=params,
        params_source=shown_path(args.params),
        overrides=args.overrides,
        stages=stages,
        root=args.root,
        run_id=args.resume or args.run_id,
        resume=args.resume is not None,
        show_code=args.show_code,
        notebooks=args.notebooks,
        force=forced,
    )
    runner.select_stages(stages)
    stream = sys.stderr if sys.stderr.isatty() else None
    echo = (lambda line: print(f"\x1b[2K{line}", flush=True)) if sys.stdout.isatty() else print
    result = runner.run(request, echo=echo, progress=_progress(), stream=stream)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    print(f"done: {result.index}")
    return 0


def _progress() -> Callable[[str], None]:
    """Live cell progress on a terminal; nothing when output goes to a file or pipe."""
    if not sys.stdout.isatty():
        return lambda _message: None
    return lambda message: print(f"\x1b[2K  {message}", end="\r", flush=True)


def write_page(target: Path, text: str) -> None:
    """Write an --output page, making its folder; a place that cannot be written is said, not a traceback."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MlwError(f"--output {target}: cannot write there ({exc.strerror})") from exc


def command_export(args: argparse.Namespace) -> int:
    """Bundle a run's reports into one HTML file."""
    from mlworkflow.workflow import export

    target = args.output or layout.export_file(args.root, args.run_id)
    folder = layout.RunLayout(args.root, args.run_id).reports
    write_page(target, export.single_file(folder, f"{args.run_id} · mlworkflow"))
    print(f"exported: {target}")
    return 0


def command_compare(args: argparse.Namespace) -> int:
    """Write a comparison page for two or more runs."""
    from mlworkflow.workflow import compare

    root, run_ids = compare.expand(args.root, args.run_ids)
    if len(run_ids) < 2:
        raise MlwError("compare needs at least two runs (run ids, or a sweep with two finished variants)")
    records = [compare.load_run(root, run_id) for run_id in run_ids]
    target = args.output or layout.compare_file(root, [Path(name).name for name in args.run_ids])
    write_page(target, compare.compare_page(records, compare.scores_of(root, records)))
    print(f"compared: {target}")
    return 0


def command_sweep(args: argparse.Namespace) -> int:
    """Run every variant of a sweep, then write its leaderboard; exit 1 when a variant failed."""
    from mlworkflow.core import parallel
    from mlworkflow.workflow import leaderboard, runner, sweep

    if args.parallel is not None and args.parallel < 1:
        raise ParamsError("command line", [ParamsIssue("--parallel", "a number of variants ≥ 1", str(args.parallel))])
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    overrides = [*args.overrides, *cluster_override(args)]
    request = sweep.SweepRequest(str(args.params), shown_path(args.params), overrides, args.vary, args.root,
                                 parallel.cpu_budget(os.environ), stages, args.parallel)
    planned = sweep.plan(request)
    record = planned.record
    print(f"sweep {record.sweep_id}: {len(record.variants)} variants, {record.parallel} at a time, "
          f"{record.cpus} core(s) each", flush=True)
    final = sweep.execute(planned, echo=lambda line: print(line, flush=True))
    runner.write_runs_listing(planned.sweep.root)  # once more, now that every variant's run wrote its own
    print(f"leaderboard: {leaderboard.write(planned.sweep)}")
    failed = [v.run_id for v in final.variants if v.status != "ok"]
    if failed:
        print(f"error: variant(s) {', '.join(failed)} did not finish (see the leaderboard)", file=sys.stderr)
    return 1 if failed else 0


def _load_model(args: argparse.Namespace) -> tuple[Any, Any, Path]:
    """The deploy params, the verified model the command names, and the registry folder."""
    from mlworkflow.bundle.registry import Registry

    params = load_params(args.params, args.overrides).deploy
    root = args.registry or Path(params.registry)
    ref = args.model or f"{params.name}@champion"
    model = Registry(root).load(ref, args.allow_version_mismatch or params.allow_version_mismatch)
    return params, model, root


def command_serve(args: argparse.Namespace) -> int:
    """Serve a registered model until interrupted."""
    from mlworkflow.service import app as service_app

    params, model, root = _load_model(args)
    log_url = params.log_url or service_app.default_log_url(root, model.entry.name)
    app = service_app.create_app(model, params, log_url, service_app.token_from_env())
    auth = "bearer token required" if service_app.token_from_env() else f"no auth ({service_app.TOKEN_ENV} unset)"
    print(f"serving {model.entry.ref} on http://{args.host}:{args.port} (docs: /docs; {auth})", flush=True)
    try:
        service_app.run(app, args.host, args.port, args.access_log)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        print("stopped")
    return 0


def command_predict(args: argparse.Namespace) -> int:
    """Score a CSV file; bad rows are listed by line number."""
    from mlworkflow.bundle.contract import ContractError
    from mlworkflow.service import batch
    from mlworkflow.service.predictor import Predictor

    params, model, _root = _load_model(args)
    predictor = Predictor(model.pipeline, model.metadata, model.contract, fast_path_rows=0)
    try:
        result = batch.score_file(predictor, args.input, args.output, params.unseen_categories,
                                  args.on_error, args.passthrough)
    except ContractError as exc:
        for issue in exc.issues:
            print(f"error: {args.input}: {issue.message}", file=sys.stderr)
        print(f"error: {args.input}: bad rows stop the job (--on-error skip scores the others); nothing written",
              file=sys.stderr)
        return 2
    for issue in result.issues[:20]:
        print(f"skipped: {args.input}: {issue.message}", file=sys.stderr)
    if args.errors is not None:
        batch.issues_frame(result.issues).to_csv(args.errors, index=False)
    skipped = f"; {len(result.bad_lines)} bad row(s) skipped" if result.issues else ""
    print(f"scored {result.scored} of {result.rows} rows with {model.entry.ref} → {args.output}{skipped}")
    return 0


def command_promote(args: argparse.Namespace) -> int:
    """Point an alias at a version."""
    from mlworkflow.bundle.registry import Registry

    entry, previous = Registry(args.registry).promote(args.name, args.version, args.alias)
    was = f" (was version {previous})" if previous and previous != entry.version else ""
    print(f"{entry.name}: {args.alias} → version {entry.version}{was}")
    return 0


def _monitor_overrides(args: argparse.Namespace) -> list[str]:
    """`--set` overrides for the monitor section from the command's options (values quoted as YAML strings)."""
    import json

    from mlworkflow.service.app import default_log_url

    params = load_params(args.params, args.overrides)
    configured = params.monitor.registry or params.deploy.registry
    registry = args.registry.resolve() if args.registry else layout.registry_in(args.root.resolve(), configured)
    model = args.model or params.monitor.model or f"{params.deploy.name}@champion"
    values: dict[str, str | None] = {"registry": str(registry), "model": model}
    if args.current is not None:
        values |= {"current": str(args.current.resolve()), "log_url": None}
    if args.log is not None:
        url = args.log or params.monitor.log_url or params.deploy.log_url or default_log_url(registry, model.split("@")[0])
        values |= {"log_url": url, "current": None}
    values |= {key: getattr(args, key) for key in ("since", "until") if getattr(args, key) is not None}
    return [f"monitor.{key}={'null' if value is None else json.dumps(value)}" for key, value in values.items()]


def command_monitor(args: argparse.Namespace) -> int:
    """Run the monitor stage in a run of its own; print the verdict; exit 3 on RETRAIN."""
    from mlworkflow.workflow import runner

    new_run_id_free(args)
    overrides = [*args.overrides, *_monitor_overrides(args)]
    params = load_params(args.params, overrides)
    preflight.check_log(params, str(args.params))
    root = args.root.resolve()
    run_id = args.run_id or layout.monitor_run_id(params.run.name, root)
    request = runner.RunRequest(params, args.params, overrides, ["monitor"], root, run_id)
    result = runner.run(request, echo=print, progress=_progress())
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    content = io.Artifacts(result.layout.artifacts).read(MonitorRecord)
    print(f"verdict: {content.verdict}")
    for reason in content.reasons:
        print(f"  - {reason}")
    print(f"report: {result.index}")
    return 3 if content.verdict == "RETRAIN" else 0


def command_retrain(args: argparse.Namespace) -> int:
    """Retrain on old + new data, gate the challenger, report; exit 3 when it fails the gate."""
    from mlworkflow.workflow import retrain

    new_run_id_free(args)
    request = retrain.Request(args.params, args.new_data, args.overrides, args.root, args.run_id, args.registry)
    outcome = retrain.retrain(request, echo=print)
    if outcome.run.error:
        print(f"error: {outcome.run.error}", file=sys.stderr)
        return 1
    if outcome.table is not None:
        print(retrain.display(outcome.table).to_string())
    for reason in outcome.gate.reasons if outcome.gate else ():
        print(f"  - {reason}")
    print(retrain.decision_text(outcome))
    print(f"report: {outcome.report}")
    return 0 if outcome.gate is not None and outcome.gate.passed else 3


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 when a stage fails, 2 on bad params or usage.

    `monitor` exits 3 when its verdict is RETRAIN (0 for OK and WARN); `retrain` exits 3 when the
    challenger fails the gate (0 when it passed, promoted or not).
    """
    args = build_parser().parse_args(argv)
    config.skip_unused_grammars()  # before papermill and nbconvert load nbformat
    user_environment = dict(os.environ)
    os.environ.update(config.thread_caps(user_environment))  # kernels, workers and libraries loaded later
    config.cap_loaded_pools(user_environment)  # libraries this process has loaded already
    if args.command in ("run", "monitor", "retrain", "sweep"):
        stop_on_sigterm()
    handlers = {
        "run": command_run, "check": command_check, "export": command_export, "compare": command_compare,
        "sweep": command_sweep,
        "serve": command_serve, "predict": command_predict, "promote": command_promote,
        "monitor": command_monitor, "retrain": command_retrain,
    }
    try:
        checked_run_ids(args)
        return handlers[args.command](args)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MlwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
