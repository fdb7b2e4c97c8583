"""`POST /invocations`: MLflow's scoring-server protocol (`dataframe_split`, `dataframe_records` or text/csv)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlworkflow.bundle.contract import Issue
from mlworkflow.service.bodies import JSON_TYPES, csv_text, read_json, require_type
from mlworkflow.service.problems import Problem, problem
from mlworkflow.service.scoring import score, score_csv
from mlworkflow.service.state import service_of


async def invocations(request: Request) -> Response:
    """MLflow scoring-server protocol: {"predictions": [...]} for a JSON or CSV payload."""
    service = service_of(request)
    request_id = uuid.uuid4().hex
    if require_type(request, (*JSON_TYPES, "text/csv")) == "text/csv":
        _, answers = await score_csv(service, await csv_text(request), request_id)
    else:
        answers = await score(service, invocation_records(await read_json(request)), request_id)
    return JSONResponse({"predictions": [a["prediction"] for a in answers]}, headers={"X-Request-ID": request_id})


def invocation_records(payload: Any) -> list[Any]:
    """MLflow's dataframe_split or dataframe_records payload as a list of records."""
    if not isinstance(payload, dict) or len(set(payload) & {"dataframe_split", "dataframe_records"}) != 1:
        raise problem(422, "shape", "the body must hold exactly one of 'dataframe_split' or 'dataframe_records'")
    unknown = sorted(set(payload) - {"dataframe_split", "dataframe_records", "params"})
    if unknown:
        raise problem(422, "unknown_field", f"unknown key '{unknown[0]}'", unknown[0])
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list):
            raise problem(422, "type", "dataframe_records must be a list of records", "dataframe_records")
        return records
    return split_records(payload["dataframe_split"])


def split_records(split: Any) -> list[Any]:
    """{"columns": [...], "data": [[...], ...]} as records."""
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list) or not isinstance(split.get("data"), list):
        raise problem(422, "shape", 'dataframe_split must be {"columns": [...], "data": [[...], ...]}', "dataframe_split")
    unknown = sorted(set(split) - {"columns", "data", "index"})
    if unknown:
        raise problem(422, "unknown_field", f"dataframe_split has an unknown key '{unknown[0]}'", "dataframe_split")
    if not isinstance(split.get("index", []), list):
        raise problem(422, "type", "dataframe_split.index must be a list", "dataframe_split")
    columns = split["columns"]
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise problem(422, "shape", "dataframe_split.columns must be distinct strings", "dataframe_split")
    records = []
    for row, values in enumerate(split["data"]):
        if not isinstance(values, list) or len(values) != len(columns):
            raise Problem(422, [Issue("shape", f"expected a list of {len(columns)} values", "dataframe_split", row)])
        records.append(dict(zip(columns, values, strict=True)))
    return records
