"""The command line: `mlworkflow run`, `mlworkflow check`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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
    return parser


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
    result = runner.run(request, echo=print, progress=_progress())
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 when a stage fails, 2 on bad params or usage."""
    args = build_parser().parse_args(argv)
    handlers = {"run": command_run, "check": command_check}
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
