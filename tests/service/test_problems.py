"""Refusals: the guard's answers before a body is read, and over real HTTP unknown routes and methods, a chunked
body over the limit, an unwritable log."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx2
import sqlalchemy as sa
from fastapi import Request

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service.app import create_app
from mlworkflow.service.problems import Guard, handlers, is_open, problem, problem_response
from tests import servekit as kit


def refused(guard: Guard, path: str, **headers: str) -> tuple[int, str] | None:
    """The status and rule with which the guard refuses a request, or None."""
    answer = guard.refusal(path, headers)
    return None if answer is None else (answer.status_code, json.loads(answer.body)["detail"][0]["rule"])


def test_the_guard_refuses_before_the_body_is_read() -> None:
    guard = Guard(app=None, max_body_bytes=10, token="s3cret")  # type: ignore[arg-type]
    assert refused(guard, "/health", **{"content-length": "3"}) is None
    assert refused(guard, "/predict") == (401, "auth")
    assert refused(guard, "/predict", authorization="Basic s3cret") == (401, "auth")
    allowed = {"authorization": "Bearer s3cret"}
    assert refused(guard, "/predict", **allowed, **{"content-length": "11"}) == (413, "max_body_bytes")
    assert refused(guard, "/predict", **allowed, **{"content-length": "x1"}) == (400, "content_length")
    assert refused(guard, "/predict", **allowed, **{"content-length": "10"}) is None


def test_every_refusal_has_the_same_body() -> None:
    error = problem(422, "type", "expected a number", "age")
    assert (error.status, str(error)) == (422, "field 'age': expected a number")
    answer = problem_response(error.status, error.issues, {"X-Why": "test"})
    assert json.loads(answer.body) == {"detail": [error.issues[0].to_json()]} and answer.headers["x-why"] == "test"


def test_wrong_methods_and_routes_answer_in_the_same_shape(client: httpx2.Client) -> None:
    assert client.get("/predict").status_code == 405
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and kit.detail(missing)["rule"] == "http"


def test_a_chunked_body_over_the_limit_is_refused(served: tuple[str, str]) -> None:
    port = int(served[0].rsplit(":", 1)[1])
    chunk = b"x" * 16384
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(kit.MAX_BODY // len(chunk) + 2):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413") and b'"rule":"max_body_bytes"' in answer


def test_an_unwritable_log_is_a_503_not_a_500(tiny: kit.Tiny, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "log.sqlite")
    app = create_app(tiny.model, kit.params(), url)
    with kit.running(app) as base, httpx2.Client(base_url=base) as http:
        assert http.post("/predict", json=tiny.records(1)[0]).status_code == 200
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE feedback"))
            connection.execute(sa.text("DROP TABLE predictions"))
        engine.dispose()
        failed = http.post("/predict", json=tiny.records(1)[0])
    assert failed.status_code == 503 and kit.detail(failed)["rule"] == "prediction_log"
    assert str(tmp_path) not in failed.text and "sqlite" not in failed.text  # the cause goes to the server's log


def test_an_unexpected_error_is_a_500_in_the_same_shape_that_reveals_nothing() -> None:
    handler = handlers(1024)[Exception]
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
    answer = asyncio.run(handler(request, RuntimeError("cannot open /srv/secret/model.skops")))
    assert answer.status_code == 500 and json.loads(answer.body)["detail"][0]["rule"] == "server_error"
    assert b"/srv" not in answer.body


def test_health_and_the_docs_need_no_token() -> None:
    assert all(is_open(path) for path in ("/health", "/live", "/docs", "/openapi.json", "/docs/assets/swagger-ui.css"))
    assert not any(is_open(path) for path in ("/predict", "/model", "/docs/../predict", "/redoc"))
