"""Typed records for tests: the records a real smoke run wrote (tests/fixtures/records), with fields changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from mlworkflow import records

FIXTURES = Path(__file__).parent / "fixtures" / "records"
R = TypeVar("R", bound=BaseModel)


def content(kind: type[BaseModel]) -> dict[str, Any]:
    """The fixture record of a type as a plain dict."""
    value: dict[str, Any] = json.loads((FIXTURES / records.artifact_of(kind).name).read_text(encoding="utf-8"))
    return value


def record(kind: type[R], **changes: Any) -> R:
    """The fixture record of a type with some top-level fields replaced (and validated)."""
    return kind.model_validate({**content(kind), **changes})
