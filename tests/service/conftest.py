"""The service's shared fixtures: one tiny model, served by a real uvicorn on loopback for every test here."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service.app import create_app
from tests import servekit as kit


@pytest.fixture(scope="package")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    """A tiny logistic model registered as tiny@1, shared by the tests of the service."""
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="package")
def served(tiny: kit.Tiny, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The tiny model served by uvicorn on loopback; yields (base URL, log URL)."""
    log_url = sqlite_url(tmp_path_factory.mktemp("log") / "predictions.sqlite")
    app = create_app(tiny.model, kit.params(max_rows=kit.MAX_ROWS, max_body_bytes=kit.MAX_BODY), log_url)
    with kit.running(app) as url:
        yield url, log_url


@pytest.fixture()
def client(served: tuple[str, str]) -> Iterator[httpx2.Client]:
    """An HTTP client of the served app."""
    with httpx2.Client(base_url=served[0], timeout=30) as http:
        yield http
