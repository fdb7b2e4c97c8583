"""Refusals: the Problem error, its one JSON body, the exception handlers, and the guard (auth, body size).

Every refusal answers `{"detail": [{"row": 0, "field": "age", "rule": "type", "message": "..."}]}`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlworkflow.bundle.contract import ContractError, Issue
from mlworkflow.bundle.predlog import DuplicateFeedback, LogError, UnknownPrediction
from mlworkflow.errors import MlwError

OPEN_PATHS = frozenset({"/health", "/live", "/ping", "/openapi.json", "/docs"})
OPEN_PREFIXES = ("/docs/assets/",)  # Swagger UI's scripts and styles
LOG_UNAVAILABLE = "the prediction log cannot be written, so nothing is answered; the server's log says why"
SERVER_ERROR = "the server failed on this request; the server's log says why"
logger = logging.getLogger("mlworkflow.service")


def is_open(path: str) -> bool:
    """Whether a path answers without the bearer token (health, the schema, the docs)."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


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


def too_large(limit: int) -> Issue:
    """The body-size issue."""
    return Issue("max_body_bytes", f"the body exceeds the limit of {limit} bytes")


def handlers(max_body_bytes: int) -> dict[Any, Callable[[Request, Any], Awaitable[Response]]]:
    """Exception → response: every refusal as the shared JSON problem body."""

    async def on_problem(_request: Request, exc: Any) -> Response:
        return problem_response(exc.status, exc.issues, exc.headers)

    async def on_contract(_request: Request, exc: Any) -> Response:
        return problem_response(422, exc.issues)

    async def on_log(_request: Request, exc: Any) -> Response:
        logger.error("503: %s", exc)  # the cause names the log's path or URL: for the operator, not the caller
        return problem_response(503, [Issue("prediction_log", LOG_UNAVAILABLE)])

    async def on_feedback(_request: Request, exc: Any) -> Response:
        status, rule = (404, "unknown_prediction") if isinstance(exc, UnknownPrediction) else (409, "duplicate_feedback")
        return problem_response(status, [Issue(rule, str(exc), "id")])

    async def on_large(_request: Request, _exc: Any) -> Response:
        return problem_response(413, [too_large(max_body_bytes)])

    async def on_http(_request: Request, exc: Any) -> Response:
        return problem_response(exc.status_code, [Issue("http", str(exc.detail))], getattr(exc, "headers", None))

    async def on_error(_request: Request, _exc: Any) -> Response:
        return problem_response(500, [Issue("server_error", SERVER_ERROR)])  # uvicorn logs the traceback

    return {
        Problem: on_problem, ContractError: on_contract, LogError: on_log, UnknownPrediction: on_feedback,
        DuplicateFeedback: on_feedback, BodyTooLarge: on_large, HTTPException: on_http, Exception: on_error,
    }


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
        if self.token is not None and not is_open(path):
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
