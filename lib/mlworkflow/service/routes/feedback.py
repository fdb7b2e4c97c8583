"""`POST /feedback`: the true label of an earlier prediction, checked against the model's task and logged."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mlworkflow.service.bodies import JSON_TYPES, read_json, require_type
from mlworkflow.service.problems import problem
from mlworkflow.service.state import Service, service_of


async def feedback(request: Request) -> Response:
    """Record the true label of an earlier prediction."""
    service = service_of(request)
    require_type(request, JSON_TYPES)
    prediction_id, label = feedback_fields(await read_json(request), service)
    request_id = uuid.uuid4().hex
    feedback_id = await run_in_threadpool(service.log.add_feedback, prediction_id, label, request_id)
    return JSONResponse({"feedback_id": feedback_id, "prediction_id": prediction_id}, status_code=201)


def feedback_fields(payload: Any, service: Service) -> tuple[str, Any]:
    """The prediction id and the label of a feedback body, checked against the model's task."""
    if not isinstance(payload, dict) or set(payload) != {"id", "label"}:
        raise problem(422, "shape", 'the body must be {"id": "<prediction id>", "label": <true label>}')
    prediction_id, label = payload["id"], payload["label"]
    if not isinstance(prediction_id, str) or not prediction_id:
        raise problem(422, "type", "expected the prediction's id (a string)", "id")
    target = service.predictor.target
    if target.task == "regression":
        if isinstance(label, bool) or not isinstance(label, int | float) or label != label or abs(label) == float("inf"):
            raise problem(422, "type", "expected a finite number", "label")
        return prediction_id, float(label)
    if label not in target.classes:
        raise problem(422, "category", f"expected one of the classes {list(target.classes)}, found {label!r:.60}", "label")
    return prediction_id, label
