"""From records to logged answers: count limits, checks, the model call, one log row per prediction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from mlworkflow.bundle.predlog import now
from mlworkflow.bundle.registry import Version
from mlworkflow.service import batch
from mlworkflow.service.coalesce import predict_rows
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


async def score_csv(service: Service, text: str, request_id: str) -> tuple[list[int], list[dict[str, Any]]]:
    """Check and score CSV text; returns each row's line number and answer."""
    table = batch.parse_csv(text)
    batch.check_header(table.header, service.model.contract, ())
    check_count(service, len(table.rows))
    checked = await off_loop(len(table.rows), lambda: service.validator.text_rows(table.header, table.rows, table.lines))
    checked.raise_issues()
    answers = await predict_checked(service, checked.rows, checked.flags, request_id)
    return [table.lines[i] for i in checked.positions], answers


async def predict_checked(
    service: Service, rows: list[list[Any]], flags: list[list[str]], request_id: str
) -> list[dict[str, Any]]:
    """Predict checked rows and commit them to the log before answering."""
    if service.predictor.path(len(rows)) == "fast" and len(rows) <= INLINE_ROWS:
        outputs = await service.coalescer.predict(rows)
    else:
        outputs = await run_in_threadpool(predict_rows, service.predictor, rows)
    answers = service.predictor.records(outputs)
    created, names = now(), service.model.contract.names
    log_rows = []
    for index, (answer, row, row_flags) in enumerate(zip(answers, rows, flags, strict=True)):
        answer["id"], answer["flags"] = f"{request_id}-{index}", row_flags
        inputs = dict(zip(names, row, strict=True))
        log_rows.append(log_row(service.model.entry, answer, inputs, request_id, created, outputs.path))
    await service.writer.write(log_rows)
    return answers


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
