"""GET /health (readiness), GET /live and GET /model over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx2
import sqlalchemy as sa

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service.app import create_app
from tests import servekit as kit


def test_health_and_model_info(client: httpx2.Client) -> None:
    ready = {"status": "ok", "model": "tiny", "version": "1", "checks": {"model": "loaded", "prediction_log": "writable"}}
    assert client.get("/health").json() == ready
    assert client.get("/live").json() == {"status": "alive", "model": "tiny", "version": "1"}
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["task"], info["threshold"]) == ("tiny", "1", "binary", 0.4)
    assert info["card"].startswith("# Model card") and info["fast_path"] == "on for up to 1,000 rows"
    assert [c["name"] for c in info["contract"]["columns"]][:2] == ["age", "fnlwgt"]
    assert info["aliases"] == ["champion"] and len(info["sha256"]) == 64


def test_health_is_not_ready_while_the_log_cannot_be_written(tiny: kit.Tiny, tmp_path: Path) -> None:
    log = tmp_path / "log.sqlite"
    with kit.running(create_app(tiny.model, kit.params(), sqlite_url(log))) as base, httpx2.Client(base_url=base) as http:
        assert http.get("/health").status_code == 200
        engine = sa.create_engine(sqlite_url(log))
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE feedback"))
            connection.execute(sa.text("DROP TABLE predictions"))
        engine.dispose()
        health, predicted, live = http.get("/health"), http.post("/predict", json=tiny.records(1)[0]), http.get("/live")
    assert (health.status_code, predicted.status_code, live.status_code) == (503, 503, 200)
    assert health.json()["status"] == "unavailable" and health.json()["checks"]["prediction_log"] == "cannot be written"
    assert str(tmp_path) not in health.text + predicted.text and "sqlite" not in health.text + predicted.text


def test_health_is_not_ready_when_the_log_writer_stopped(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = create_app(tiny.model, kit.params(), sqlite_url(tmp_path / "log.sqlite"))
    with kit.running(app) as base, httpx2.Client(base_url=base) as http:
        app.state.service.writer.stop()
        health, predicted = http.get("/health"), http.post("/predict", json=tiny.records(1)[0])
    assert (health.status_code, predicted.status_code) == (503, 503)
