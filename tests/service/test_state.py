"""The service's state: built from a loaded bundle, found on the app of a request."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from fastapi import Request

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service import state
from tests import servekit as kit


def test_a_service_holds_the_model_its_checks_and_an_unstarted_log(tiny: kit.Tiny, tmp_path: Path) -> None:
    service = state.build(tiny.model, kit.params(max_rows=7), sqlite_url(tmp_path / "log.sqlite"), token="")
    assert service.ref == {"name": "tiny", "version": "1"} and service.token is None  # empty token: no auth
    assert service.params.max_rows == 7 and service.coalescer.predictor is service.predictor
    assert service.predictor.target.classes == ("<=50K", ">50K")
    service.log.close()


def test_a_request_finds_the_service_of_its_app(tiny: kit.Tiny, tmp_path: Path) -> None:
    service = state.build(tiny.model, kit.params(), sqlite_url(tmp_path / "log.sqlite"), token="t")
    app = SimpleNamespace(state=SimpleNamespace(service=service))
    assert state.service_of(Request({"type": "http", "app": app, "headers": []})) is service
    service.log.close()
