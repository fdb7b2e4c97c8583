"""The command line: `mlworkflow run`, `check`, `export`, `compare` (and the service's commands)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlworkflow.config import DEFAULT_PARAMS, NOTEBOOKS
from mlworkflow.errors import MlwError, ParamsError
from mlworkflow.params import STAGES, load_params


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
    run.add_argument("--run-id", default=None, help="name of the run folder (default: <name>-<timestamp>)")
    run.add_argument("--resume", metavar="RUN_ID", default=None, help="continue a run, skipping done stages")
    run.add_argument("--show-code", action="store_true", help="show code cells in the reports by default")
    run.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    check = commands.add_parser("check", help="validate a params file without running anything")
    _add_params_arguments(check)
    export = commands.add_parser("export", help="write one self-contained HTML file of a run's reports")
    export.add_argument("run_id", metavar="RUN", help="run id (a folder name under reports/)")
    export.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/ and reports/")
    export.add_argument("--output", type=Path, default=None, help="file to write (default reports/RUN.html)")
    compare = commands.add_parser("compare", help="compare runs: params that differ, metrics, key plots")
    compare.add_argument("run_ids", metavar="RUN", nargs="+", help="two or more run ids")
    compare.add_argument("--root", type=Path, default=Path.cwd(), help="folder holding runs/ and reports/")
    compare.add_argument("--output", type=Path, default=None, help="file to write (default reports/compare-….html)")
    _add_service_commands(commands)
    return parser


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


def command_check(args: argparse.Namespace) -> int:
    """Validate params and say so."""
    params = load_params(args.params, args.overrides)
    print(f"{args.params}: ok (run '{params.run.name}', stages {', '.join(STAGES)})")
    return 0


def command_run(args: argparse.Namespace) -> int:
    """Run the workflow; one line on failure."""
    from mlworkflow import runner

    params = load_params(args.params, args.overrides)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    request = runner.RunRequest(
        params=params,
        params_source=args.params,
        overrides=args.overrides,
        stages=stages,
        root=args.root,
        run_id=args.resume or args.run_id,
        resume=args.resume is not None,
        show_code=args.show_code,
        notebooks=args.notebooks,
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


def command_export(args: argparse.Namespace) -> int:
    """Bundle a run's reports into one HTML file."""
    from mlworkflow import export

    reports = args.root / "reports"
    target = args.output or reports / f"{args.run_id}.html"
    target.write_text(export.single_file(reports / args.run_id, f"{args.run_id} · mlworkflow"), encoding="utf-8")
    print(f"exported: {target}")
    return 0


def command_compare(args: argparse.Namespace) -> int:
    """Write a comparison page for two or more runs."""
    from mlworkflow import compare

    if len(args.run_ids) < 2:
        raise MlwError("compare needs at least two run ids")
    records = [compare.load_run(args.root, run_id) for run_id in args.run_ids]
    name = "-vs-".join(args.run_ids)[:180]
    target = args.output or args.root / "reports" / f"compare-{name}.html"
    target.write_text(compare.compare_page(records), encoding="utf-8")
    print(f"compared: {target}")
    return 0


def _load_model(args: argparse.Namespace) -> tuple[Any, Any, Path]:
    """The deploy params, the verified model the command names, and the registry folder."""
    from mlworkflow.registry import Registry

    params = load_params(args.params, args.overrides).deploy
    root = args.registry or Path(params.registry)
    ref = args.model or f"{params.name}@champion"
    model = Registry(root).load(ref, args.allow_version_mismatch or params.allow_version_mismatch)
    return params, model, root


def command_serve(args: argparse.Namespace) -> int:
    """Serve a registered model until interrupted."""
    from mlworkflow import serve

    params, model, root = _load_model(args)
    log_url = params.log_url or serve.default_log_url(root, model.entry.name)
    app = serve.create_app(model, params, log_url, serve.token_from_env())
    auth = "bearer token required" if serve.token_from_env() else f"no auth ({serve.TOKEN_ENV} unset)"
    print(f"serving {model.entry.ref} on http://{args.host}:{args.port} (docs: /docs; {auth})")
    serve.run(app, args.host, args.port, args.access_log)
    return 0


def command_predict(args: argparse.Namespace) -> int:
    """Score a CSV file; bad rows are listed by line number."""
    from mlworkflow import batch
    from mlworkflow.contract import ContractError
    from mlworkflow.predictor import Predictor

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
    from mlworkflow.registry import Registry

    entry, previous = Registry(args.registry).promote(args.name, args.version, args.alias)
    was = f" (was version {previous})" if previous and previous != entry.version else ""
    print(f"{entry.name}: {args.alias} → version {entry.version}{was}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 when a stage fails, 2 on bad params or usage."""
    args = build_parser().parse_args(argv)
    handlers = {
        "run": command_run, "check": command_check, "export": command_export, "compare": command_compare,
        "serve": command_serve, "predict": command_predict, "promote": command_promote,
    }
    try:
        return handlers[args.command](args)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MlwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
