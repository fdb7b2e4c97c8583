"""Checks of params against the data that are cheap enough to run before any kernel starts.

The formulas of `preprocess.features` and `data.target_expression` must name columns of the data: when
the source is a file, its header is read (no rows) and every unknown column is a ParamsError naming the
key and the position in the formula. A SQL source is checked when stage `data` or `preprocess` starts.
A `run.cluster` address must answer as a Dask scheduler with a worker within `run.cluster_timeout_s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlworkflow import io
from mlworkflow.core import expressions, parallel
from mlworkflow.errors import ParamsError, ParamsIssue, did_you_mean
from mlworkflow.params import Params


def column_issues(params: Params, header: Sequence[str]) -> list[ParamsIssue]:
    """Each formula's columns against the header: unknown ones, the target, and the target formula's inputs."""
    data, issues = params.data, []
    target_reads: tuple[str, ...] = ()
    if data.target_expression is not None:
        parsed = expressions.parse(data.target_expression)
        target_reads = parsed.columns
        issues += unknown(parsed, "data.target_expression", header)
    for name, formula in params.preprocess.features.items():
        parsed = expressions.parse(formula)
        key = f"preprocess.features.{name}"
        for column in parsed.columns:
            if column == data.target or column in target_reads:
                why = "the target" if column == data.target else "an input of data.target_expression"
                found = f"'{column}' at position {parsed.column_position(column)}, {why}"
                issues.append(ParamsIssue(key, "a formula of feature columns (a model never sees the target)", found))
        issues += unknown(parsed, key, header)
        if name in header:
            issues.append(ParamsIssue(key, "a name that is not a column of the data", f"'{name}', a column"))
    return issues


def unknown(parsed: expressions.Expression, key: str, header: Sequence[str]) -> list[ParamsIssue]:
    """Issues for the columns a formula reads that the data does not have."""
    columns = list(header)
    return [
        ParamsIssue(
            key, "columns of the data", f"'{column}' at position {parsed.column_position(column)} of {parsed.text!r}",
            did_you_mean(column, columns),
        )
        for column in parsed.columns if column not in columns
    ]


def check_columns(params: Params, source: str) -> None:
    """Raise one ParamsError for every formula column the data's file lacks (nothing to read for SQL sources)."""
    if params.data.path is None or not (params.preprocess.features or params.data.target_expression):
        return
    issues = column_issues(params, io.read_header(Path(params.data.path), params.data.read))  # its separator, encoding
    if issues:
        raise ParamsError(source, issues)


def check_cluster(params: Params, source: str) -> None:
    """Raise a ParamsError when `run.cluster` is set and no Dask scheduler with a worker answers there in time."""
    address, timeout_s = params.run.cluster, params.run.cluster_timeout_s
    if address is None:
        return
    problem = parallel.unreachable(address, timeout_s)
    if problem is not None:
        expected = f"a Dask scheduler with at least one worker, answering within {timeout_s:g} s (run.cluster_timeout_s)"
        raise ParamsError(source, [ParamsIssue("run.cluster", expected, problem)])


def check_log(params: Params, source: str) -> None:
    """Raise a ParamsError when monitoring reads a SQLite prediction log file that does not exist: said before any
    kernel starts, not as a failed monitor stage."""
    from mlworkflow.stages import monitor_sources  # pandas, SQLAlchemy: only monitoring needs them

    url = params.monitor.log_url
    if url is not None and monitor_sources.missing_log(url):
        expected = "an existing prediction log (the service writes it once it has answered a request)"
        raise ParamsError(source, [ParamsIssue("monitor.log_url", expected, f"no file at {url}")])
