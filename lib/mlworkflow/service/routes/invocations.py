"""MLflow's scoring-server protocol: `GET /ping`, `GET /version` and `POST /invocations`.

They answer as `mlflow.pyfunc.scoring_server` does, so MLflow's own `ScoringServerClient` works
unchanged: `/ping` is 200 with a newline, `/version` the serving software's version as bare text
(both typed application/json, as MLflow types them), and `/invocations` takes `dataframe_split`,
`dataframe_records`, `inputs` or `instances` (records, or an object of columns) in JSON, or text/csv.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlworkflow.bundle.contract import Issue
from mlworkflow.provenance import package_versions
from mlworkflow.service.bodies import JSON_TYPES, csv_text, read_json, require_type
from mlworkflow.service.problems import Problem, problem
from mlworkflow.service.scoring import score, score_csv
from mlworkflow.service.state import service_of

FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")
MLFLOW_MEDIA_TYPE = "application/json"  # what MLflow's /ping and /version say, although the bodies are not JSON


async def ping(_request: Request) -> Response:
    """MLflow's health check: 200 and a newline while the model is loaded."""
    return Response("\n", media_type=MLFLOW_MEDIA_TYPE)


async def version(_request: Request) -> Response:
    """The serving software's version, as bare text (MLflow's `/version`)."""
    return Response(serving_version(), media_type=MLFLOW_MEDIA_TYPE)


@functools.cache
def serving_version() -> str:
    """The installed mlworkflow's version (read once)."""
    return package_versions(["mlworkflow"]).get("mlworkflow", "unknown")


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
    """An MLflow JSON payload (one of FORMATS, and optionally `params`, ignored) as a list of records."""
    present = [key for key in FORMATS if isinstance(payload, dict) and key in payload]
    if len(present) != 1:
        raise problem(422, "shape", f"the body must hold exactly one of {', '.join(repr(k) for k in FORMATS)}")
    unknown = sorted(set(payload) - {*FORMATS, "params"})
    if unknown:
        raise problem(422, "unknown_field", f"unknown key '{unknown[0]}'", unknown[0])
    key = present[0]
    return READERS[key](payload[key], key)


def records_list(records: Any, key: str) -> list[Any]:
    """`dataframe_records`: a list of records."""
    if not isinstance(records, list):
        raise problem(422, "type", f"{key} must be a list of records", key)
    return records


def split_records(split: Any, key: str = "dataframe_split") -> list[Any]:
    """{"columns": [...], "data": [[...], ...]} as records."""
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list) or not isinstance(split.get("data"), list):
        raise problem(422, "shape", f'{key} must be {{"columns": [...], "data": [[...], ...]}}', key)
    unknown = sorted(set(split) - {"columns", "data", "index"})
    if unknown:
        raise problem(422, "unknown_field", f"{key} has an unknown key '{unknown[0]}'", key)
    if not isinstance(split.get("index", []), list):
        raise problem(422, "type", f"{key}.index must be a list", key)
    columns = split["columns"]
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise problem(422, "shape", f"{key}.columns must be distinct strings", key)
    records = []
    for row, values in enumerate(split["data"]):
        if not isinstance(values, list) or len(values) != len(columns):
            raise Problem(422, [Issue("shape", f"expected a list of {len(columns)} values", key, row)])
        records.append(dict(zip(columns, values, strict=True)))
    return records


def tensor_records(data: Any, key: str) -> list[Any]:
    """`inputs` / `instances` (TF-serving style): a list of records, or an object of column: list of values."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict) or not all(isinstance(values, list) for values in data.values()):
        raise problem(422, "shape", f"{key} must be a list of records or an object of column: list of values", key)
    lengths = {len(values) for values in data.values()}
    if len(lengths) > 1:
        raise problem(422, "shape", f"the columns of {key} must all have the same number of values", key)
    return [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]


READERS: dict[str, Callable[[Any, str], list[Any]]] = {
    "dataframe_split": split_records, "dataframe_records": records_list, "inputs": tensor_records,
    "instances": tensor_records,
}
