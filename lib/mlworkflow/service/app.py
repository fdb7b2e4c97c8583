"""The prediction service: a FastAPI app serving one registry bundle, and its uvicorn launcher.

Routes: `GET /health`, `GET /model` (card, contract, version), `POST /predict` (one JSON record
or a list of them), `POST /predict/csv` (a CSV file, multipart upload or a text/csv body),
`POST /feedback` (the true label of an earlier prediction id), and MLflow's `POST /invocations`
(`dataframe_split`, `dataframe_records` or text/csv), so MLflow clients work unchanged. Every
prediction and feedback label is committed to the prediction log before the response is sent.

Bad input always gets a 4xx whose JSON body lists the problems, each naming the field and the rule:
`{"detail": [{"row": 0, "field": "age", "rule": "type", "message": "..."}]}`. Bodies above
`max_body_bytes` get 413, other content types 415, malformed JSON 400, and records breaking the
contract (or more than `max_rows` of them) 422. When the environment variable MLW_API_TOKEN is set, every route
but `/health` and the docs needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlworkflow.bundle.contract import ContractError, Issue, Validator, record_model
from mlworkflow.bundle.predlog import (
    DuplicateFeedback,
    LogError,
    LogWriter,
    PredictionLog,
    UnknownPrediction,
    now,
    sqlite_url,
)
from mlworkflow.bundle.registry import LoadedModel
from mlworkflow.errors import MlwError
from mlworkflow.layout import prediction_log
from mlworkflow.params import DeployParams
from mlworkflow.service import batch
from mlworkflow.service.predictor import Outputs, Predictor

TOKEN_ENV = "MLW_API_TOKEN"
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "multipart/form-data")
INLINE_ROWS = 64  # larger requests are checked and scored in a worker thread, not on the event loop


# --- errors -------------------------------------------------------------------------------------------


class Problem(MlwError):
    """A request the service refuses: HTTP status and the issues to report."""

    def __init__(self, status: int, issues: Sequence[Issue], headers: Mapping[str, str] | None = None) -> None:
        self.status, self.issues, self.headers = status, tuple(issues), dict(headers or {})
        super().__init__("; ".join(issue.message for issue in self.issues))


def problem(status: int, rule: str, reason: str, field: str | None = None) -> Problem:
    """A Problem with one issue."""
    return Problem(status, [Issue(rule, reason, field)])


def problem_response(status: int, issues: Sequence[Issue], headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON error body every refusal shares."""
    return JSONResponse({"detail": [issue.to_json() for issue in issues]}, status_code=status, headers=dict(headers or {}))


class BodyTooLarge(MlwError):
    """The request body grew past max_body_bytes while it was read."""


# --- response models (for the OpenAPI schema) -----------------------------------------------------------


class IssueOut(BaseModel):
    """One problem with a request."""

    row: int | None = None
    line: int | None = None
    field: str | None = None
    rule: str
    message: str


class ProblemOut(BaseModel):
    """Every 4xx/5xx body: the list of problems."""

    detail: list[IssueOut]


class ModelRef(BaseModel):
    """Which model answered."""

    name: str
    version: str


class RowPrediction(BaseModel):
    """One record's prediction: id (for feedback), label or value, class scores, flags."""

    id: str
    prediction: str | float
    probabilities: dict[str, float] | None = None
    scores: dict[str, float] | None = None
    flags: list[str]


class PredictOut(BaseModel):
    """The answer to /predict."""

    request_id: str
    model: ModelRef
    predictions: list[RowPrediction]


class InvocationsOut(BaseModel):
    """MLflow's scoring-server answer."""

    predictions: list[str | float]


class FeedbackOut(BaseModel):
    """A recorded feedback label."""

    feedback_id: int
    prediction_id: str


class HealthOut(BaseModel):
    """Liveness and the model being served."""

    status: str
    model: str
    version: str


# --- the service --------------------------------------------------------------------------------------


@dataclass
class Service:
    """Everything a request needs: the model, its checks, the log, the limits."""

    model: LoadedModel
    params: DeployParams
    predictor: Predictor
    validator: Validator
    log: PredictionLog
    writer: LogWriter
    token: str | None
    coalescer: Coalescer

    @property
    def ref(self) -> dict[str, str]:
        """The served model's name and version."""
        return {"name": self.model.entry.name, "version": self.model.entry.version}


def service_of(request: Request) -> Service:
    """The app's Service."""
    service: Service = request.app.state.service
    return service


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_type(request: Request, allowed: Sequence[str]) -> str:
    """The media type, or 415 naming the accepted ones."""
    found = media_type(request)
    if found not in allowed:
        raise problem(415, "content_type", f"Content-Type must be {' or '.join(allowed)}, found '{found or 'none'}'")
    return found


async def read_json(request: Request) -> Any:
    """The body parsed as JSON, or 400 saying where it is malformed."""
    body = await request.body()
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise problem(400, "json", f"the body is not valid JSON: {exc}") from None


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
        log_rows.append(log_row(service, answer, dict(zip(names, row, strict=True)), request_id, created, outputs.path))
    await service.writer.write(log_rows)
    return answers


def predict_rows(predictor: Predictor, rows: list[list[Any]]) -> Outputs:
    """Predict, turning a model that cannot score valid-looking input into a 422 (never a 500)."""
    try:
        return predictor.predict(rows)
    except ValueError as exc:
        raise problem(422, "model_input", f"the model cannot score these records: {exc}") from None


class Coalescer:
    """Small requests waiting at the same moment share one model call (row-wise models only).

    A request queues its rows and the first one schedules a flush on the event loop; requests that
    arrive before the loop gets to it join the same call. The model scores every row on its own
    (`Predictor.row_wise`), so each request gets exactly the numbers it would get alone. If the joint
    call fails, each request is scored alone, so one bad request cannot fail the others.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.pending: list[tuple[list[list[Any]], asyncio.Future[Outputs]]] = []

    async def predict(self, rows: list[list[Any]]) -> Outputs:
        """Predictions for one request's rows."""
        if not self.predictor.row_wise:
            return predict_rows(self.predictor, rows)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self.pending.append((rows, future))
        if len(self.pending) == 1:
            loop.call_soon(self.flush)
        return await future

    def flush(self) -> None:
        """Score everything queued in one call and hand each request its part."""
        batch, self.pending = self.pending, []
        try:
            results = self.predictor.predict_each([rows for rows, _ in batch])
            for (_, future), outputs in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(outputs)
        except ValueError:
            self.alone(batch)
        finally:  # an unexpected error still answers every waiting request (as a server error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("the model call failed"))

    def alone(self, batch: Sequence[tuple[list[list[Any]], asyncio.Future[Outputs]]]) -> None:
        """Score each request by itself (after a joint call failed)."""
        for rows, future in batch:
            if future.done():
                continue
            try:
                future.set_result(predict_rows(self.predictor, rows))
            except Problem as exc:
                future.set_exception(exc)


def log_row(
    service: Service, answer: Mapping[str, Any], inputs: dict[str, Any], request_id: str, created: Any, path: str
) -> dict[str, Any]:
    """One prediction as a row of the log."""
    return {
        "id": answer["id"], "request_id": request_id, "created_at": created,
        "model_name": service.model.entry.name, "model_version": service.model.entry.version,
        "inputs": inputs, "prediction": answer["prediction"],
        "scores": answer.get("probabilities", answer.get("scores")), "flags": answer["flags"], "path": path,
    }


# --- routes -------------------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    """Liveness, and which model is served."""
    service = service_of(request)
    return JSONResponse({"status": "ok", "model": service.model.entry.name, "version": service.model.entry.version})


async def model_info(request: Request) -> Response:
    """The model card, the input contract, the version and how it was built."""
    service = service_of(request)
    entry, target = service.model.entry, service.predictor.target
    return JSONResponse({
        **service.ref, "sha256": entry.sha256, "aliases": list(entry.aliases), "registered": entry.created,
        "packages": entry.packages, "task": target.task, "classes": list(target.classes),
        "positive_class": target.positive, "threshold": target.threshold,
        "unseen_categories": service.params.unseen_categories, "fast_path": service.predictor.fast_note,
        "metrics": service.model.metadata.get("metrics", {}),
        "contract": service.model.contract.model_dump(mode="json"), "card": service.model.card,
    })


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


async def csv_text(request: Request) -> str:
    """The CSV text of a text/csv body or of the multipart field 'file'."""
    if require_type(request, CSV_TYPES) == "text/csv":
        data = await request.body()
    else:
        form = await request.form(max_files=1, max_fields=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise problem(422, "required", "upload the CSV as the multipart file field 'file'", "file")
        data = await upload.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise problem(400, "encoding", f"the CSV is not UTF-8 text: {exc}") from None


async def score_csv(service: Service, text: str, request_id: str) -> tuple[list[int], list[dict[str, Any]]]:
    """Check and score CSV text; returns each row's line number and answer."""
    table = batch.parse_csv(text)
    batch.check_header(table.header, service.model.contract, ())
    check_count(service, len(table.rows))
    checked = await off_loop(len(table.rows), lambda: service.validator.text_rows(table.header, table.rows, table.lines))
    checked.raise_issues()
    answers = await predict_checked(service, checked.rows, checked.flags, request_id)
    return [table.lines[i] for i in checked.positions], answers


async def predict_csv(request: Request) -> Response:
    """Score a CSV file; answer a CSV with line, id, prediction, class probabilities and flags."""
    service = service_of(request)
    text = await csv_text(request)
    request_id = uuid.uuid4().hex
    lines, answers = await score_csv(service, text, request_id)
    frame = batch.answers_frame(lines, answers, service.predictor.target)
    return Response(frame.to_csv(index=False), media_type="text/csv", headers={"X-Request-ID": request_id})


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


async def invocations(request: Request) -> Response:
    """MLflow scoring-server protocol: {"predictions": [...]} for a JSON or CSV payload."""
    service = service_of(request)
    request_id = uuid.uuid4().hex
    if require_type(request, (*JSON_TYPES, "text/csv")) == "text/csv":
        _, answers = await score_csv(service, await csv_text(request), request_id)
    else:
        answers = await score(service, invocation_records(await read_json(request)), request_id)
    return JSONResponse({"predictions": [a["prediction"] for a in answers]}, headers={"X-Request-ID": request_id})


# --- the guard: auth and body size ----------------------------------------------------------------------


class Guard:
    """Pure ASGI middleware: bearer-token check, and the body-size limit (header and stream)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, token: str | None) -> None:
        self.app, self.max_body_bytes, self.token = app, max_body_bytes, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self.counted(receive), send)

    def refusal(self, path: str, headers: Mapping[str, str]) -> Response | None:
        """A 401 or 413 answer, if the request must be refused before its body is read."""
        if self.token is not None and path not in OPEN_PATHS:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
                issue = Issue("auth", "send the header 'Authorization: Bearer <token>' with the service's token")
                return problem_response(401, [issue], {"WWW-Authenticate": "Bearer"})
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            return problem_response(400, [Issue("content_length", f"Content-Length must be a number, found {length!r:.20}")])
        if length is not None and int(length) > self.max_body_bytes:
            return problem_response(413, [too_large(self.max_body_bytes)])
        return None

    def counted(self, receive: Receive) -> Receive:
        """`receive` that raises BodyTooLarge once the body passes the limit (bodies without Content-Length)."""
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(f"body over {self.max_body_bytes} bytes")
            return message

        return wrapped


def too_large(limit: int) -> Issue:
    """The body-size issue."""
    return Issue("max_body_bytes", f"the body exceeds the limit of {limit} bytes")


# --- the app ------------------------------------------------------------------------------------------------


def handlers(max_body_bytes: int) -> dict[Any, Callable[[Request, Any], Awaitable[Response]]]:
    """Exception → response: every refusal as the shared JSON problem body."""

    async def on_problem(_request: Request, exc: Any) -> Response:
        return problem_response(exc.status, exc.issues, exc.headers)

    async def on_contract(_request: Request, exc: Any) -> Response:
        return problem_response(422, exc.issues)

    async def on_log(_request: Request, exc: Any) -> Response:
        return problem_response(503, [Issue("prediction_log", str(exc))])

    async def on_feedback(_request: Request, exc: Any) -> Response:
        status, rule = (404, "unknown_prediction") if isinstance(exc, UnknownPrediction) else (409, "duplicate_feedback")
        return problem_response(status, [Issue(rule, str(exc), "id")])

    async def on_large(_request: Request, _exc: Any) -> Response:
        return problem_response(413, [too_large(max_body_bytes)])

    async def on_http(_request: Request, exc: Any) -> Response:
        return problem_response(exc.status_code, [Issue("http", str(exc.detail))], getattr(exc, "headers", None))

    return {
        Problem: on_problem, ContractError: on_contract, LogError: on_log, UnknownPrediction: on_feedback,
        DuplicateFeedback: on_feedback, BodyTooLarge: on_large, HTTPException: on_http,
    }


def lifespan_of(service: Service) -> Callable[[FastAPI], Any]:
    """Start the log writer with the app; on shutdown, commit what is queued and close the log."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.writer.start()
        try:
            yield
        finally:
            service.writer.stop()
            service.log.close()

    return lifespan


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for refusals."""
    return {status: {"model": ProblemOut, "description": "refused: see detail"} for status in statuses}


def body(*schemas: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """An OpenAPI requestBody from (media type, schema) pairs."""
    return {"requestBody": {"required": True, "content": {media: {"schema": schema} for media, schema in schemas}}}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def add_routes(app: FastAPI, token: bool) -> None:
    """Register the routes with their OpenAPI descriptions."""
    auth = (401,) if token else ()
    csv_schema = {"type": "string", "description": "CSV with a header naming every input column"}
    upload = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
    routes: list[tuple[str, str, Any, dict[int | str, dict[str, Any]], dict[str, Any] | None]] = [
        ("GET", "/health", health, {200: {"model": HealthOut}}, None),
        ("GET", "/model", model_info, {200: {"description": "card, contract, version"}, **errors(*auth)}, None),
        ("POST", "/predict", predict, {200: {"model": PredictOut}, **errors(*auth, 400, 413, 415, 422, 503)},
         body(("application/json", ref("PredictRequest")))),
        ("POST", "/predict/csv", predict_csv,
         {200: {"content": {"text/csv": {"schema": csv_schema}}, "description": "one line per row"},
          **errors(*auth, 400, 413, 415, 422, 503)},
         body(("text/csv", csv_schema), ("multipart/form-data", upload))),
        ("POST", "/feedback", feedback, {201: {"model": FeedbackOut}, **errors(*auth, 400, 404, 409, 413, 415, 422, 503)},
         body(("application/json", ref("FeedbackRequest")))),
        ("POST", "/invocations", invocations, {200: {"model": InvocationsOut}, **errors(*auth, 400, 413, 415, 422, 503)},
         body(("application/json", ref("InvocationsRequest")), ("text/csv", csv_schema))),
    ]
    for method, path, endpoint, responses, extra in routes:
        app.add_api_route(path, endpoint, methods=[method], responses=responses, openapi_extra=extra,
                          summary=(endpoint.__doc__ or "").strip().split("\n")[0])


def request_schemas(service: Service) -> dict[str, Any]:
    """Component schemas of the request bodies, generated from the contract's pydantic model."""
    record = record_model(service.model.contract, service.params.unseen_categories)
    schemas: dict[str, Any] = {"Record": record.model_json_schema(ref_template="#/components/schemas/{model}")}
    batch_schema = {"type": "array", "items": ref("Record"), "minItems": 1, "maxItems": service.params.max_rows}
    schemas["PredictRequest"] = {"anyOf": [ref("Record"), batch_schema], "title": "PredictRequest"}
    properties = schemas["Record"]["properties"]
    names = list(service.model.contract.names)
    split = {
        "type": "object", "additionalProperties": False, "required": ["columns", "data"],
        "properties": {
            "columns": {"const": names},
            "index": {"type": "array", "description": "row labels (pandas' split orient); ignored"},
            "data": {"type": "array", "minItems": 1, "maxItems": service.params.max_rows, "items": {
                "type": "array", "prefixItems": [properties[n] for n in names], "items": False,
                "minItems": len(names), "maxItems": len(names)}},
        },
    }
    schemas["InvocationsRequest"] = {"title": "InvocationsRequest", "oneOf": [
        {"type": "object", "properties": {"dataframe_split": split}, "required": ["dataframe_split"], "additionalProperties": False},
        {"type": "object", "properties": {"dataframe_records": batch_schema}, "required": ["dataframe_records"],
         "additionalProperties": False},
    ]}
    schemas["FeedbackRequest"] = feedback_schema(service)
    return schemas


def feedback_schema(service: Service) -> dict[str, Any]:
    """The feedback body: a prediction id and a label of the model's task."""
    target = service.predictor.target
    label = {"type": "number"} if target.task == "regression" else {"enum": list(target.classes)}
    return {"title": "FeedbackRequest", "type": "object", "additionalProperties": False, "required": ["id", "label"],
            "properties": {"id": {"type": "string", "minLength": 1}, "label": label}}


def openapi_of(app: FastAPI, service: Service) -> Callable[[], dict[str, Any]]:
    """The app's openapi(): FastAPI's document plus the request schemas and the bearer scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(request_schemas(service))
            if service.token is not None:
                components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
                for path, operations in document["paths"].items():
                    for operation in operations.values():
                        operation["security"] = [] if path in OPEN_PATHS else [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def create_app(model: LoadedModel, params: DeployParams, log_url: str, token: str | None = None) -> FastAPI:
    """The service for one loaded bundle; the log writer starts with the app's lifespan."""
    predictor = Predictor(model.pipeline, model.metadata, model.contract, params.fast_path_rows)
    log = PredictionLog(log_url)
    service = Service(model, params, predictor, Validator(model.contract, params.unseen_categories), log,
                      LogWriter(log), token or None, Coalescer(predictor))
    app = FastAPI(title=f"mlworkflow: {model.entry.name}", version=model.entry.version,
                  description=f"Predictions of model {model.entry.ref}. {predictor.target.task} task.",
                  lifespan=lifespan_of(service))
    app.state.service = service
    add_routes(app, token=service.token is not None)
    for exception, handler in handlers(params.max_body_bytes).items():
        app.add_exception_handler(exception, handler)
    app.add_middleware(Guard, max_body_bytes=params.max_body_bytes, token=service.token)
    app.openapi = openapi_of(app, service)  # type: ignore[method-assign]
    return app


def token_from_env() -> str | None:
    """The bearer token from MLW_API_TOKEN (unset or empty: no auth)."""
    return os.environ.get(TOKEN_ENV) or None


def run(app: FastAPI, host: str, port: int, access_log: bool = False) -> None:
    """Serve the app with uvicorn until interrupted."""
    import uvicorn

    gc.collect()
    gc.freeze()  # the loaded model's objects leave the collector's view: no long full collections mid-request
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")


def default_log_url(registry: Path, name: str) -> str:
    """The default prediction log: a SQLite file in the model's registry folder (see `layout.prediction_log`)."""
    return sqlite_url(prediction_log(registry, name))
