"""`POST /predict` (one JSON record or a list of them) and `POST /predict/csv` (a CSV file)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mlworkflow.service import batch
from mlworkflow.service.bodies import JSON_TYPES, csv_text, read_json, require_type
from mlworkflow.service.predictor import Labelling
from mlworkflow.service.problems import problem
from mlworkflow.service.scoring import INLINE_ROWS, score, score_csv
from mlworkflow.service.state import service_of


async def predict(request: Request) -> Response:
    """Predict one record (a JSON object) or a batch (a JSON array of objects)."""
    service = service_of(request)
    require_type(request, JSON_TYPES)
    payload = await read_json(request)
    single = isinstance(payload, dict)
    if not single and not isinstance(payload, list):
        raise problem(422, "type", "the body must be a record (object) or a list of records (array)")
    request_id = uuid.uuid4().hex
    answers = await score(service, [payload] if single else payload, request_id)
    answer = functools.partial(JSONResponse, {"request_id": request_id, "model": service.ref, "predictions": answers},
                               headers={"X-Request-ID": request_id})
    return answer() if len(answers) <= INLINE_ROWS else await run_in_threadpool(answer)  # rendered off the loop


async def predict_csv(request: Request) -> Response:
    """Score a CSV file; answer a CSV with line, id, prediction, class probabilities and flags."""
    service = service_of(request)
    text = await csv_text(request, service.model.contract.read.encoding)
    request_id = uuid.uuid4().hex
    lines, answers = await score_csv(service, text, request_id)
    render = functools.partial(csv_answer, lines, answers, service.predictor.labelling)
    text = render() if len(answers) <= INLINE_ROWS else await run_in_threadpool(render)
    return Response(text, media_type="text/csv", headers={"X-Request-ID": request_id})


def csv_answer(lines: Sequence[int], answers: Sequence[Mapping[str, Any]], labelling: Labelling) -> str:
    """The CSV text of the answers."""
    return batch.answers_frame(lines, answers, labelling).to_csv(index=False)
