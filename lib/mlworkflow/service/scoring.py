"""From records to logged answers: count limits, checks, the model call, one log row per prediction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from mlworkflow.bundle.contract import Checked
from mlworkflow.bundle.predlog import now
from mlworkflow.bundle.registry import Version
from mlworkflow.service import batch
from mlworkflow.service.bodies import INLINE_BYTES
from mlworkflow.service.coalesce import predict_rows
from mlworkflow.service.predictor import Outputs
from mlworkflow.service.problems import problem
from mlworkflow.service.state import Service

INLINE_ROWS = 64  # larger requests are checked and scored in a worker thread, not on the event loop


def check_count(service: Service, n_rows: int) -> None:
    """At least one row, at most max_rows."""
    if n_rows == 0:
        raise problem(422, "min_rows", "send at least one record")
    if n_rows > service.params.max_rows:
        raise problem(422, "max_rows", f"{n_rows} records exceed the limit of {service.params.max_rows} per request")


async def off_loop(n_rows: int, function: Callable[[], Any]) -> Any:
    """Run small work inline (it is fast), large work in a worker thread."""
    return function() if n_rows <= INLINE_ROWS else await run_in_threadpool(function)


async def score(service: Service, records: Sequence[Any], request_id: str) -> list[dict[str, Any]]:
    """Check records, predict, log every prediction; return one JSON object per record."""
    check_count(service, len(records))
    checked = await off_loop(len(records), lambda: service.validator.records(records))
    checked.raise_issues()
    return await predict_checked(service, checked.rows, checked.flags, request_id)


def check_csv(service: Service, text: str) -> tuple[batch.Table, Checked]:
    """Parse CSV text and check its header, its row count and its rows against the contract."""
    table = batch.parse_csv(text, batch.text_separator(text, service.model.contract.read))
    batch.check_header(table.header, service.model.contract, ())
    check_count(service, len(table.rows))
    checked = service.validator.text_rows(table.header, table.rows, table.lines)
    checked.raise_issues()
    return table, checked


async def score_csv(service: Service, text: str, request_id: str) -> tuple[list[int], list[dict[str, Any]]]:
    """Check and score CSV text (parsed in a worker thread unless it is short); each row's line and answer."""
    work = functools.partial(check_csv, service, text)
    table, checked = work() if len(text) <= INLINE_BYTES else await run_in_threadpool(work)
    answers = await predict_checked(service, checked.rows, checked.flags, request_id)
    return [table.lines[i] for i in checked.positions], answers


async def predict_checked(
    service: Service, rows: list[list[Any]], flags: list[list[str]], request_id: str
) -> list[dict[str, Any]]:
    """Predict checked rows (large requests in a worker thread) and commit them to the log before answering."""
    if service.predictor.path(len(rows)) == "fast" and len(rows) <= INLINE_ROWS:
        outputs = await service.coalescer.predict(rows)
        answers, log_rows = answer_rows(service, outputs, rows, flags, request_id)
    else:
        answers, log_rows = await run_in_threadpool(predict_answers, service, rows, flags, request_id)
    await service.writer.write(log_rows)
    return answers


def predict_answers(
    service: Service, rows: list[list[Any]], flags: list[list[str]], request_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Predict rows; their answers and log rows."""
    return answer_rows(service, predict_rows(service.predictor, rows), rows, flags, request_id)


def answer_rows(
    service: Service, outputs: Outputs, rows: list[list[Any]], flags: list[list[str]], request_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answers of predicted rows (with their ids and flags) and one log row each."""
    answers = service.predictor.records(outputs)
    created, names = now(), service.model.contract.names
    log_rows = []
    for index, (answer, row, row_flags) in enumerate(zip(answers, rows, flags, strict=True)):
        answer["id"], answer["flags"] = f"{request_id}-{index}", row_flags
        inputs = dict(zip(names, row, strict=True))
        log_rows.append(log_row(service.model.entry, answer, inputs, request_id, created, outputs.path))
    return answers, log_rows


def log_row(
    entry: Version, answer: Mapping[str, Any], inputs: dict[str, Any], request_id: str, created: Any, path: str
) -> dict[str, Any]:
    """One prediction as a row of the log."""
    return {
        "id": answer["id"], "request_id": request_id, "created_at": created,
        "model_name": entry.name, "model_version": entry.version,
        "inputs": inputs, "prediction": answer["prediction"],
        "scores": answer.get("probabilities", answer.get("scores")), "flags": answer["flags"], "path": path,
    }
