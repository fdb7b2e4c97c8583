"""Reading request bodies: media types, JSON, CSV text, each refusal with its status and rule."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import Request
from starlette.types import Message

from mlworkflow.service import bodies
from mlworkflow.service.problems import Problem


def request(body: bytes, content_type: str | None = None) -> Request:
    """A POST request with this body (and Content-Type, if given)."""
    headers = [(b"content-type", content_type.encode())] if content_type else []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}, receive)


def refusal(error: pytest.ExceptionInfo[Problem]) -> tuple[int, str]:
    """The status and rule of a refusal."""
    return error.value.status, error.value.issues[0].rule


def test_the_media_type_is_checked_without_its_parameters() -> None:
    assert bodies.media_type(request(b"", "Application/JSON; charset=utf-8")) == "application/json"
    assert bodies.require_type(request(b"", "text/csv"), bodies.CSV_TYPES) == "text/csv"
    with pytest.raises(Problem, match="Content-Type must be application/json, found 'none'") as error:
        bodies.require_type(request(b""), bodies.JSON_TYPES)
    assert refusal(error) == (415, "content_type")


def test_json_is_parsed_or_refused_with_a_400() -> None:
    assert asyncio.run(bodies.read_json(request(b'{"age": 3}'))) == {"age": 3}
    with pytest.raises(Problem, match="not valid JSON") as error:
        asyncio.run(bodies.read_json(request(b'{"age": ')))
    assert refusal(error) == (400, "json")


def test_csv_text_drops_a_byte_order_mark_and_refuses_other_encodings() -> None:
    assert asyncio.run(bodies.csv_text(request("\ufeffage\n3\n".encode(), "text/csv"))) == "age\n3\n"
    with pytest.raises(Problem, match="not UTF-8") as error:
        asyncio.run(bodies.csv_text(request("âge\n".encode("latin-1"), "text/csv")))
    assert refusal(error) == (400, "encoding")
    with pytest.raises(Problem) as error:
        asyncio.run(bodies.csv_text(request(b"age\n3\n", "application/json")))
    assert refusal(error) == (415, "content_type")
