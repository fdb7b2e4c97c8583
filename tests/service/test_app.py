"""The service over real HTTP: a real uvicorn on a loopback port, every route, every kind of bad request,
schemathesis against the service's own OpenAPI schema, and a load test checking the prediction log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa

from mlworkflow.bundle.contract import Validator, to_frame
from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.service import app as serve
from mlworkflow.service.predictor import Predictor
from tests import servekit as kit

MAX_ROWS, MAX_BODY = 50, 64 * 1024
LOAD_REQUESTS, LOAD_CLIENTS = 5000, 16


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def served(tiny: kit.Tiny, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The tiny model served by uvicorn on loopback; yields (base URL, log URL)."""
    log_url = sqlite_url(tmp_path_factory.mktemp("log") / "predictions.sqlite")
    app = serve.create_app(tiny.model, kit.params(max_rows=MAX_ROWS, max_body_bytes=MAX_BODY), log_url)
    with kit.running(app) as url:
        yield url, log_url


@pytest.fixture()
def client(served: tuple[str, str]) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=served[0], timeout=30) as http:
        yield http


def detail(response: httpx2.Response) -> dict[str, Any]:
    """The first problem of a refusal."""
    first: dict[str, Any] = response.json()["detail"][0]
    return first


# --- every route ---------------------------------------------------------------------------------------


def test_health_and_model_info(client: httpx2.Client) -> None:
    assert client.get("/health").json() == {"status": "ok", "model": "tiny", "version": "1"}
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["task"], info["threshold"]) == ("tiny", "1", "binary", 0.4)
    assert info["card"].startswith("# Model card") and info["fast_path"] == "on for up to 1000 rows"
    assert [c["name"] for c in info["contract"]["columns"]][:2] == ["age", "fnlwgt"]
    assert info["aliases"] == ["champion"] and len(info["sha256"]) == 64


def test_predict_one_record_and_a_batch(client: httpx2.Client, tiny: kit.Tiny, served: tuple[str, str]) -> None:
    records = tiny.records(3)
    one = client.post("/predict", json=records[0])
    assert one.status_code == 200
    body = one.json()
    (prediction,) = body["predictions"]
    assert prediction["id"] == f"{body['request_id']}-0" and one.headers["x-request-id"] == body["request_id"]
    assert prediction["prediction"] == (">50K" if prediction["probabilities"][">50K"] >= 0.4 else "<=50K")
    many = client.post("/predict", json=records).json()["predictions"]
    rows = Validator(tiny.contract, "reject").records(records).rows
    expected = tiny.model.pipeline.predict_proba(to_frame(tiny.contract, rows))
    assert [p["probabilities"][">50K"] for p in many] == expected[:, 1].tolist()
    logged = PredictionLog(served[1]).frame()
    assert prediction["id"] in set(logged["id"])
    assert logged.set_index("id").loc[prediction["id"], "inputs"] == records[0]


def csv_text(records: list[dict[str, Any]], tiny: kit.Tiny) -> str:
    """Records as CSV text with a header."""
    return "\n".join([",".join(tiny.contract.names), *[",".join(csv_cells(r, tiny)) for r in records]]) + "\n"


def test_csv_upload_multipart_and_plain(client: httpx2.Client, tiny: kit.Tiny) -> None:
    records = tiny.records(4)
    text = csv_text(records, tiny)
    upload = client.post("/predict/csv", files={"file": ("rows.csv", text.encode(), "text/csv")})
    plain = client.post("/predict/csv", content=text.encode(), headers={"content-type": "text/csv"})
    for response in (upload, plain):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        lines = response.text.strip().splitlines()
        assert lines[0] == "line,id,prediction,proba_<=50K,proba_>50K,flags" and len(lines) == 5
        assert [line.split(",")[0] for line in lines[1:]] == ["2", "3", "4", "5"]
    bad = client.post("/predict/csv", content=csv_text([records[0], {**records[1], "sex": "Other"}], tiny).encode(),
                      headers={"content-type": "text/csv"})
    assert bad.status_code == 422
    assert (detail(bad)["rule"], detail(bad)["field"], detail(bad)["line"]) == ("category", "sex", 3)
    missing = client.post("/predict/csv", files={"other": ("x.csv", b"a\n1\n", "text/csv")})
    assert missing.status_code == 422 and detail(missing)["field"] == "file"


def csv_cells(record: dict[str, Any], tiny: kit.Tiny) -> list[str]:
    """A record as CSV cells (missing as empty)."""
    return ["" if record[n] is None else str(record[n]) for n in tiny.contract.names]


def test_mlflow_invocations(client: httpx2.Client, tiny: kit.Tiny) -> None:
    records = tiny.records(3)
    names = list(tiny.contract.names)
    split = {"columns": names[::-1], "data": [[r[n] for n in names[::-1]] for r in records]}
    by_split = client.post("/invocations", json={"dataframe_split": split})
    by_records = client.post("/invocations", json={"dataframe_records": records})
    direct = client.post("/predict", json=records).json()["predictions"]
    assert by_split.status_code == by_records.status_code == 200
    assert by_split.json() == by_records.json() == {"predictions": [p["prediction"] for p in direct]}
    text = ",".join(names) + "\n" + ",".join(csv_cells(records[0], tiny)) + "\n"
    by_csv = client.post("/invocations", content=text.encode(), headers={"content-type": "text/csv"})
    assert by_csv.json() == {"predictions": [direct[0]["prediction"]]}


def test_feedback(client: httpx2.Client, tiny: kit.Tiny, served: tuple[str, str]) -> None:
    prediction = client.post("/predict", json=tiny.records(1)[0]).json()["predictions"][0]
    first = client.post("/feedback", json={"id": prediction["id"], "label": ">50K"})
    assert first.status_code == 201 and first.json()["prediction_id"] == prediction["id"]
    again = client.post("/feedback", json={"id": prediction["id"], "label": "<=50K"})
    assert again.status_code == 409 and detail(again)["rule"] == "duplicate_feedback"
    unknown = client.post("/feedback", json={"id": "nope-0", "label": ">50K"})
    assert unknown.status_code == 404 and detail(unknown)["rule"] == "unknown_prediction"
    wrong = client.post("/feedback", json={"id": prediction["id"], "label": "rich"})
    assert wrong.status_code == 422 and (detail(wrong)["field"], detail(wrong)["rule"]) == ("label", "category")
    shape = client.post("/feedback", json={"id": prediction["id"]})
    assert shape.status_code == 422 and detail(shape)["rule"] == "shape"
    log = PredictionLog(served[1])
    assert log.frame("feedback").set_index("prediction_id").loc[prediction["id"], "label"] == ">50K"


def test_openapi_schema_comes_from_the_contract(client: httpx2.Client, tiny: kit.Tiny) -> None:
    schema = client.get("/openapi.json").json()
    record = schema["components"]["schemas"]["Record"]
    assert set(record["required"]) == set(tiny.contract.names) and record["additionalProperties"] is False
    assert record["properties"]["sex"]["enum"] == ["Female", "Male"]
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert {"200", "400", "413", "415", "422", "503"} <= set(schema["paths"]["/predict"]["post"]["responses"])


# --- every kind of bad request ------------------------------------------------------------------------------


def record_with(tiny: kit.Tiny, **changes: Any) -> dict[str, Any]:
    record = dict(tiny.records(1)[0])
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return record


def bad_requests(tiny: kit.Tiny) -> list[tuple[str, dict[str, Any], int, str, str | None]]:
    """(name, request, status, rule, field) for every kind of bad input."""
    good = tiny.records(1)[0]
    raw = {"content-type": "application/json"}
    return [
        ("missing field", {"json": record_with(tiny, age=...)}, 422, "required", "age"),
        ("unknown field", {"json": record_with(tiny, colour="red")}, 422, "unknown_field", "colour"),
        ("wrong type", {"json": record_with(tiny, age="forty")}, 422, "type", "age"),
        ("boolean for a number", {"json": record_with(tiny, age=True)}, 422, "type", "age"),
        ("not an integer", {"json": record_with(tiny, age=30.5)}, 422, "integer", "age"),
        ("NaN", {"content": json.dumps({**good, "fnlwgt": float("nan")}).encode(), "headers": raw}, 422, "finite", "fnlwgt"),
        ("Infinity", {"content": json.dumps({**good, "age": float("inf")}).encode(), "headers": raw}, 422, "finite", "age"),
        ("huge integer", {"content": json.dumps({**good, "age": 0}).replace('"age": 0', '"age": 1' + "0" * 400).encode(),
                          "headers": raw}, 422, "finite", "age"),
        ("null where never missing", {"json": record_with(tiny, sex=None)}, 422, "nullable", "sex"),
        ("unseen category", {"json": record_with(tiny, sex="Other")}, 422, "category", "sex"),
        ("not JSON", {"content": b'{"age": 1', "headers": raw}, 400, "json", None),
        ("deeply nested JSON", {"content": b"[" * 200_000 + b"]" * 200_000, "headers": raw}, 413, "max_body_bytes", None),
        ("nested JSON under the limit", {"content": b"[" * 30_000 + b"]" * 30_000, "headers": raw}, 400, "json", None),
        ("not a record", {"content": b"3", "headers": raw}, 422, "type", None),
        ("a list of non-records", {"json": [1, 2]}, 422, "type", None),
        ("empty batch", {"json": []}, 422, "min_rows", None),
        ("too many rows", {"json": [good] * (MAX_ROWS + 1)}, 422, "max_rows", None),
        ("body too large", {"content": b" " * (MAX_BODY + 1), "headers": raw}, 413, "max_body_bytes", None),
        ("wrong content type", {"content": b"age=1", "headers": {"content-type": "text/plain"}}, 415, "content_type", None),
        ("no content type", {"content": json.dumps(good).encode()}, 415, "content_type", None),
    ]


def test_every_bad_request_is_a_4xx_naming_field_and_rule(client: httpx2.Client, tiny: kit.Tiny) -> None:
    for name, request, status, rule, field in bad_requests(tiny):
        response = client.post("/predict", **request)
        assert response.status_code == status, (name, response.text[:300])
        first = detail(response)
        assert (first["rule"], first.get("field")) == (rule, field), name
        assert first["message"], name


def test_invocations_refusals(client: httpx2.Client, tiny: kit.Tiny) -> None:
    names = list(tiny.contract.names)
    cases = [
        ({"json": {}}, "shape"),
        ({"json": {"dataframe_split": {"columns": names, "data": [[1]]}}}, "shape"),
        ({"json": {"dataframe_split": {"columns": [1], "data": []}}}, "shape"),
        ({"json": {"dataframe_records": "x"}}, "type"),
        ({"json": {"dataframe_records": tiny.records(1), "extra": 1}}, "unknown_field"),
        ({"json": {"dataframe_records": [record_with(tiny, age="x")]}}, "type"),
    ]
    for request, rule in cases:
        response = client.post("/invocations", **request)
        assert response.status_code == 422 and detail(response)["rule"] == rule, request


def test_wrong_methods_and_routes_answer_in_the_same_shape(client: httpx2.Client) -> None:
    assert client.get("/predict").status_code == 405
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and detail(missing)["rule"] == "http"


def test_a_chunked_body_over_the_limit_is_refused(served: tuple[str, str]) -> None:
    port = int(served[0].rsplit(":", 1)[1])
    chunk = b"x" * 16384
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(MAX_BODY // len(chunk) + 2):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413") and b'"rule":"max_body_bytes"' in answer


def test_flag_policy_and_out_of_range_values_are_flagged(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = serve.create_app(tiny.model, kit.params(unseen_categories="flag"), sqlite_url(tmp_path / "log.sqlite"))
    with kit.running(app) as url, httpx2.Client(base_url=url) as http:
        response = http.post("/predict", json=record_with(tiny, sex="Other", age=150))
        schema = http.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert response.status_code == 200
    assert response.json()["predictions"][0]["flags"] == [
        "age: 150 is outside the training range 17 to 90", "sex: unseen category 'Other'"]
    assert schema["properties"]["sex"]["type"] == "string"
    logged = PredictionLog(sqlite_url(tmp_path / "log.sqlite")).frame()
    assert logged.iloc[0]["flags"] == response.json()["predictions"][0]["flags"]


def test_bearer_token(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = serve.create_app(tiny.model, kit.params(), sqlite_url(tmp_path / "log.sqlite"), token="s3cret")
    record = tiny.records(1)[0]
    with kit.running(app) as url, httpx2.Client(base_url=url) as http:
        assert http.get("/health").status_code == 200
        refused = http.post("/predict", json=record)
        wrong = http.post("/predict", json=record, headers={"authorization": "Bearer nope"})
        allowed = http.post("/predict", json=record, headers={"authorization": "Bearer s3cret"})
        schema = http.get("/openapi.json").json()
    assert refused.status_code == wrong.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert detail(refused)["rule"] == "auth" and allowed.status_code == 200
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/predict"]["post"]["security"] == [{"bearer": []}]


def test_an_unwritable_log_is_a_503_not_a_500(tiny: kit.Tiny, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "log.sqlite")
    app = serve.create_app(tiny.model, kit.params(), url)
    with kit.running(app) as base, httpx2.Client(base_url=base) as http:
        assert http.post("/predict", json=tiny.records(1)[0]).status_code == 200
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE feedback"))
            connection.execute(sa.text("DROP TABLE predictions"))
        engine.dispose()
        failed = http.post("/predict", json=tiny.records(1)[0])
    assert failed.status_code == 503 and detail(failed)["rule"] == "prediction_log"


# --- schemathesis -------------------------------------------------------------------------------------------


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


# --- load ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    """A gradient-boosting model: its small requests share model calls under load."""
    return kit.tiny_model(tmp_path_factory.mktemp("forest"), family="hist_gradient_boosting", rows=400)


def test_load_every_request_answered_and_logged_once(forest: kit.Tiny, log_url: str) -> None:
    records = forest.records(200)
    predictor = Predictor(forest.model.pipeline, forest.model.metadata, forest.contract, 32)
    rows = Validator(forest.contract, "reject").records(records).rows
    alone = [predictor.predict([row]).scores[0].tolist() for row in rows]  # type: ignore[index]
    bodies = [json.dumps(records[i % len(records)]).encode() for i in range(LOAD_REQUESTS)]
    app = serve.create_app(forest.model, kit.params(), log_url)
    with kit.running(app) as url:
        answers = asyncio.run(kit.post_many(url, "/predict", bodies, LOAD_CLIENTS))
    assert len(answers) == LOAD_REQUESTS and {status for _, status, _ in answers} == {200}
    ids = set()
    for index, _, body in answers:
        (prediction,) = body["predictions"]
        ids.add(prediction["id"])
        assert list(prediction["probabilities"].values()) == alone[index % len(records)]  # exact, even when batched
    log = PredictionLog(log_url)
    assert log.count() == LOAD_REQUESTS == len(ids)
    assert set(log.frame()["id"]) == ids
    log.close()


# --- the command ----------------------------------------------------------------------------------------------


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
