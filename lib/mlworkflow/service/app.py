"""The prediction service: a FastAPI app serving one registry bundle, and its uvicorn launcher.

Routes: `GET /health`, `GET /model` (card, contract, version), `POST /predict` (one JSON record
or a list of them), `POST /predict/csv` (a CSV file, multipart upload or a text/csv body),
`POST /feedback` (the true label of an earlier prediction id), and MLflow's `GET /ping`, `GET /version`
and `POST /invocations` (`dataframe_split`, `dataframe_records`, `inputs`, `instances` or text/csv), so
MLflow's own scoring client works unchanged. Every prediction and feedback label is committed to the
prediction log before the response is sent.

Bad input always gets a 4xx whose JSON body lists the problems, each naming the field and the rule:
`{"detail": [{"row": 0, "field": "age", "rule": "type", "message": "..."}]}`. Bodies above
`max_body_bytes` get 413, other content types 415, malformed JSON 400, and records breaking the
contract (or more than `max_rows` of them) 422. When the environment variable MLW_API_TOKEN is set, every route
but `/health`, `/ping` and the docs needs `Authorization: Bearer <token>`.

This module wires the parts: routes (`service.routes`), refusals and the guard (`problems`), the OpenAPI
schemas (`schemas`), the per-app state (`state`); requests are scored in `scoring` and `coalesce`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import LoadedModel
from mlworkflow.layout import prediction_log
from mlworkflow.params import DeployParams
from mlworkflow.service import state
from mlworkflow.service.problems import Guard, handlers, is_open
from mlworkflow.service.routes.feedback import feedback
from mlworkflow.service.routes.info import health, live, model_info
from mlworkflow.service.routes.invocations import invocations, ping, version
from mlworkflow.service.routes.predict import predict, predict_csv
from mlworkflow.service.schemas import (
    FeedbackOut,
    HealthOut,
    InvocationsOut,
    PredictOut,
    body,
    errors,
    ref,
    request_schemas,
)
from mlworkflow.service.state import Service

TOKEN_ENV = "MLW_API_TOKEN"
DOCS_ASSETS = "/docs/assets"  # Swagger UI's scripts and styles (problems.OPEN_PREFIXES lets them through)
Route = tuple[str, str, Any, dict[int | str, dict[str, Any]], dict[str, Any] | None]
BARE_TEXT = frozenset({"/ping", "/version"})  # MLflow's answers: typed JSON but bare text, so no JSON body documented


def routes(token: bool) -> list[Route]:
    """(method, path, endpoint, OpenAPI responses, OpenAPI extra) of every route."""
    auth = (401,) if token else ()
    csv_schema = {"type": "string", "description": "CSV with a header naming every input column"}
    upload = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
    return [
        ("GET", "/health", health, {200: {"model": HealthOut}, 503: {"model": HealthOut}}, None),
        ("GET", "/live", live, {200: {"model": HealthOut}}, None),
        ("GET", "/model", model_info, {200: {"description": "card, contract, version"}, **errors(*auth)}, None),
        ("POST", "/predict", predict, {200: {"model": PredictOut}, **errors(*auth, 400, 413, 415, 422, 503)},
         body(("application/json", ref("PredictRequest")))),
        ("POST", "/predict/csv", predict_csv,
         {200: {"content": {"text/csv": {"schema": csv_schema}}, "description": "one line per row"},
          **errors(*auth, 400, 413, 415, 422, 503)},
         body(("text/csv", csv_schema), ("multipart/form-data", upload))),
        ("POST", "/feedback", feedback, {201: {"model": FeedbackOut}, **errors(*auth, 400, 404, 409, 413, 415, 422, 503)},
         body(("application/json", ref("FeedbackRequest")))),
        ("GET", "/ping", ping, {200: {"description": "a newline, as MLflow's scoring server answers"}}, None),
        ("GET", "/version", version, {200: {"description": "the serving software's version as bare text"},
                                      **errors(*auth)}, None),
        ("POST", "/invocations", invocations, {200: {"model": InvocationsOut}, **errors(*auth, 400, 413, 415, 422, 503)},
         body(("application/json", ref("InvocationsRequest")), ("text/csv", csv_schema))),
    ]


def add_routes(app: FastAPI, token: bool) -> None:
    """Register the routes with their OpenAPI descriptions."""
    for method, path, endpoint, responses, extra in routes(token):
        app.add_api_route(path, endpoint, methods=[method], responses=responses, openapi_extra=extra,
                          response_class=Response if path in BARE_TEXT else JSONResponse,
                          summary=(endpoint.__doc__ or "").strip().split("\n")[0])


def add_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI 5 (it renders OpenAPI 3.1) from the installed swagger-ui-bundle-v2, nothing from a CDN."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)), name="docs-assets")

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{app.title} - docs",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon-32x32.png",
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


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
                        operation["security"] = [] if is_open(path) else [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


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


def create_app(model: LoadedModel, params: DeployParams, log_url: str, token: str | None = None) -> FastAPI:
    """The service for one loaded bundle; the log writer starts with the app's lifespan."""
    service = state.build(model, params, log_url, token)
    app = FastAPI(title=f"mlworkflow: {model.entry.name}", version=model.entry.version,
                  description=f"Predictions of model {model.entry.ref}. {service.predictor.target.task} task.",
                  lifespan=lifespan_of(service), docs_url=None, redoc_url=None)
    app.state.service = service
    add_routes(app, token=service.token is not None)
    add_docs(app)
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
