"""Reading request bodies: the media type (415 otherwise), JSON (400 when malformed), CSV text."""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from mlworkflow.service.problems import problem

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "multipart/form-data")
INLINE_BYTES = 16_384  # longer bodies are parsed and checked in a worker thread, so the event loop stays free


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
    """The body parsed as JSON (in a worker thread unless it is short), or 400 saying where it is malformed."""
    body = await request.body()
    return parse_json(body) if len(body) <= INLINE_BYTES else await run_in_threadpool(parse_json, body)


def parse_json(body: bytes) -> Any:
    """JSON bytes parsed, or 400 saying where they are malformed."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise problem(400, "json", f"the body is not valid JSON: {exc}") from None


async def csv_text(request: Request, encoding: str = "utf-8") -> str:
    """The CSV text of a text/csv body or of the multipart field 'file', in the model's encoding (data.read)."""
    if require_type(request, CSV_TYPES) == "text/csv":
        data = await request.body()
    else:
        form = await request.form(max_files=1, max_fields=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise problem(422, "required", "upload the CSV as the multipart file field 'file'", "file")
        data = await upload.read()
    utf8 = codecs.lookup(encoding).name == "utf-8"
    try:
        return data.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as exc:
        raise problem(400, "encoding", f"the CSV is not {'UTF-8' if utf8 else encoding} text: {exc}") from None
