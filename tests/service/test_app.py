"""The app as a whole over real HTTP: bearer auth and its OpenAPI scheme, schemathesis against the service's own
OpenAPI schema, `/docs` rendered offline in a real browser, and the `serve` command that runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.service.app import create_app
from tests import servekit as kit

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import PageWatch

OPERATIONS = """() => [...document.querySelectorAll('.opblock-summary-path')].map(e => e.getAttribute('data-path'))"""


def test_bearer_token(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = create_app(tiny.model, kit.params(), sqlite_url(tmp_path / "log.sqlite"), token="s3cret")
    record = tiny.records(1)[0]
    with kit.running(app) as url, httpx2.Client(base_url=url) as http:
        assert http.get("/health").status_code == 200
        refused = http.post("/predict", json=record)
        wrong = http.post("/predict", json=record, headers={"authorization": "Bearer nope"})
        allowed = http.post("/predict", json=record, headers={"authorization": "Bearer s3cret"})
        schema = http.get("/openapi.json").json()
    assert refused.status_code == wrong.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert kit.detail(refused)["rule"] == "auth" and allowed.status_code == 200
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/predict"]["post"]["security"] == [{"bearer": []}]


def schemathesis(url: str, folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """schemathesis' CLI, bounded and seeded; it keeps its cache in `folder` (its working directory)."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json", "--max-examples", "25",
               "--seed", "7", "--workers", "1", "--phases", "examples,coverage,fuzzing", "--warnings", "off", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=folder)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(served: tuple[str, str], tmp_path: Path) -> None:
    everything = schemathesis(served[0], tmp_path, "--checks", "all", "--exclude-checks", "positive_data_acceptance")
    assert everything.returncode == 0, everything.stdout[-6000:]
    assert "5xx" not in everything.stdout.split("SUMMARY")[-1]
    # CSV bodies cannot be described by a JSON schema, so "valid data is accepted" is checked on JSON-only routes
    json_only = schemathesis(served[0], tmp_path, "--checks", "all", "--include-path", "/predict", "--include-path", "/feedback")
    assert json_only.returncode == 0, json_only.stdout[-6000:]


def test_serve_command_starts_answers_and_stops(tiny: kit.Tiny, tmp_path: Path) -> None:
    port = kit.free_port()
    env = {**os.environ, "MLW_API_TOKEN": "t0ken", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "serve", str(kit.ROOT / "params" / "smoke.yaml"),
               "--registry", str(tiny.registry.root), "--model", "tiny@champion", "--port", str(port),
               "--set", f"deploy.log_url={sqlite_url(tmp_path / 'cli.sqlite')}"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx2.get(f"{base}/health", timeout=2).status_code == 200
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.2)
        headers = {"authorization": "Bearer t0ken"}
        assert httpx2.post(f"{base}/predict", json=tiny.records(1)[0], headers=headers).status_code == 200
        assert httpx2.post(f"{base}/predict", json=tiny.records(1)[0]).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a graceful shutdown
    assert f"serving tiny@1 on http://127.0.0.1:{port}" in out and "bearer token required" in out
    assert PredictionLog(sqlite_url(tmp_path / "cli.sqlite")).count() == 1


def test_serve_command_names_a_missing_model(tiny: kit.Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    from mlworkflow.workflow import cli

    code = cli.main(["serve", str(kit.ROOT / "params" / "smoke.yaml"), "--registry", str(tiny.registry.root),
                     "--model", "tiny@challenger"])
    assert code == 2 and "no version or alias 'challenger'" in capsys.readouterr().err


def test_docs_render_every_operation_with_the_network_blocked(
    served: tuple[str, str], watched: tuple[Any, Page, PageWatch], tmp_path: Path,
    record_property: Any,
) -> None:
    _context, page, watch = watched  # every request but loopback is aborted
    assert httpx2.get(f"{served[0]}/openapi.json").json()["openapi"].startswith("3.1")  # Swagger UI 4 cannot show it
    page.goto(f"{served[0]}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    operations = set(page.evaluate(OPERATIONS))
    assert {"/health", "/live", "/model", "/predict", "/predict/csv", "/feedback", "/invocations"} <= operations
    page.screenshot(path=tmp_path / "docs.png", full_page=True)
    record_property("screenshot", str(tmp_path / "docs.png"))
    assert watch.problems() == {}
    assert "cdn" not in httpx2.get(f"{served[0]}/docs").text.lower()
