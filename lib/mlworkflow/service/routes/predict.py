"""`POST /predict` (one JSON record or a list of them) and `POST /predict/csv` (a CSV file)."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlworkflow.service import batch
from mlworkflow.service.bodies import JSON_TYPES, csv_text, read_json, require_type
from mlworkflow.service.problems import problem
from mlworkflow.service.scoring import score, score_csv
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
    return JSONResponse({"request_id": request_id, "model": service.ref, "predictions": answers},
                        headers={"X-Request-ID": request_id})


async def predict_csv(request: Request) -> Response:
    """Score a CSV file; answer a CSV with line, id, prediction, class probabilities and flags."""
    service = service_of(request)
    text = await csv_text(request)
    request_id = uuid.uuid4().hex
    lines, answers = await score_csv(service, text, request_id)
    frame = batch.answers_frame(lines, answers, service.predictor.labelling)
    return Response(frame.to_csv(index=False), media_type="text/csv", headers={"X-Request-ID": request_id})
