"""POST /predict and /predict/csv over real HTTP: JSON records and batches, CSV files, every kind of bad request, the flag policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from mlworkflow.bundle.contract import Validator, to_frame
from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.service.app import create_app
from tests import servekit as kit


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


def test_csv_upload_multipart_and_plain(client: httpx2.Client, tiny: kit.Tiny) -> None:
    records = tiny.records(4)
    text = kit.csv_text(records, tiny)
    upload = client.post("/predict/csv", files={"file": ("rows.csv", text.encode(), "text/csv")})
    plain = client.post("/predict/csv", content=text.encode(), headers={"content-type": "text/csv"})
    for response in (upload, plain):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        lines = response.text.strip().splitlines()
        assert lines[0] == "line,id,prediction,proba_<=50K,proba_>50K,flags" and len(lines) == 5
        assert [line.split(",")[0] for line in lines[1:]] == ["2", "3", "4", "5"]
    bad = client.post("/predict/csv", content=kit.csv_text([records[0], {**records[1], "sex": "Other"}], tiny).encode(),
                      headers={"content-type": "text/csv"})
    assert bad.status_code == 422
    assert (kit.detail(bad)["rule"], kit.detail(bad)["field"], kit.detail(bad)["line"]) == ("category", "sex", 3)
    missing = client.post("/predict/csv", files={"other": ("x.csv", b"a\n1\n", "text/csv")})
    assert missing.status_code == 422 and kit.detail(missing)["field"] == "file"


def bad_requests(tiny: kit.Tiny) -> list[tuple[str, dict[str, Any], int, str, str | None]]:
    """(name, request, status, rule, field) for every kind of bad input."""
    good = tiny.records(1)[0]
    raw = {"content-type": "application/json"}
    return [
        ("missing field", {"json": kit.record_with(tiny, age=...)}, 422, "required", "age"),
        ("unknown field", {"json": kit.record_with(tiny, colour="red")}, 422, "unknown_field", "colour"),
        ("wrong type", {"json": kit.record_with(tiny, age="forty")}, 422, "type", "age"),
        ("boolean for a number", {"json": kit.record_with(tiny, age=True)}, 422, "type", "age"),
        ("not an integer", {"json": kit.record_with(tiny, age=30.5)}, 422, "integer", "age"),
        ("NaN where never missing", {"content": json.dumps({**good, "fnlwgt": float("nan")}).encode(), "headers": raw},
         422, "nullable", "fnlwgt"),
        ("Infinity", {"content": json.dumps({**good, "age": float("inf")}).encode(), "headers": raw}, 422, "finite", "age"),
        ("huge integer", {"content": json.dumps({**good, "age": 0}).replace('"age": 0', '"age": 1' + "0" * 400).encode(),
                          "headers": raw}, 422, "finite", "age"),
        ("null where never missing", {"json": kit.record_with(tiny, sex=None)}, 422, "nullable", "sex"),
        ("unseen category", {"json": kit.record_with(tiny, sex="Other")}, 422, "category", "sex"),
        ("not JSON", {"content": b'{"age": 1', "headers": raw}, 400, "json", None),
        ("deeply nested JSON", {"content": b"[" * 200_000 + b"]" * 200_000, "headers": raw}, 413, "max_body_bytes", None),
        ("nested JSON under the limit", {"content": b"[" * 30_000 + b"]" * 30_000, "headers": raw}, 400, "json", None),
        ("not a record", {"content": b"3", "headers": raw}, 422, "type", None),
        ("a list of non-records", {"json": [1, 2]}, 422, "type", None),
        ("empty batch", {"json": []}, 422, "min_rows", None),
        ("too many rows", {"json": [good] * (kit.MAX_ROWS + 1)}, 422, "max_rows", None),
        ("body too large", {"content": b" " * (kit.MAX_BODY + 1), "headers": raw}, 413, "max_body_bytes", None),
        ("wrong content type", {"content": b"age=1", "headers": {"content-type": "text/plain"}}, 415, "content_type", None),
        ("no content type", {"content": json.dumps(good).encode()}, 415, "content_type", None),
    ]


def test_every_bad_request_is_a_4xx_naming_field_and_rule(client: httpx2.Client, tiny: kit.Tiny) -> None:
    for name, request, status, rule, field in bad_requests(tiny):
        response = client.post("/predict", **request)
        assert response.status_code == status, (name, response.text[:300])
        first = kit.detail(response)
        assert (first["rule"], first.get("field")) == (rule, field), name
        assert first["message"], name


def test_nan_means_missing_where_the_contract_allows(client: httpx2.Client, tiny: kit.Tiny) -> None:
    gaps = {"workclass": None, "native-country": None}
    with_null = client.post("/predict", json=kit.record_with(tiny, **gaps)).json()["predictions"][0]
    body = json.dumps(kit.record_with(tiny, **dict.fromkeys(gaps, float("nan")))).encode()  # bare NaN tokens
    with_nan = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert with_nan.status_code == 200
    assert with_nan.json()["predictions"][0]["probabilities"] == with_null["probabilities"]
    text = kit.csv_text([kit.record_with(tiny, **gaps)], tiny)
    for marker in ("NaN", "null"):
        cells = text.splitlines()[1].split(",")
        positions = [list(tiny.contract.names).index(name) for name in gaps]
        marked = ",".join(marker if i in positions else c for i, c in enumerate(cells))
        scored = client.post("/predict/csv", content=f"{text.splitlines()[0]}\n{marked}\n".encode(),
                             headers={"content-type": "text/csv"})
        assert scored.status_code == 200 and scored.text.splitlines()[1].split(",")[2] == with_null["prediction"], marker


def test_flag_policy_and_out_of_range_values_are_flagged(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = create_app(tiny.model, kit.params(unseen_categories="flag"), sqlite_url(tmp_path / "log.sqlite"))
    with kit.running(app) as url, httpx2.Client(base_url=url) as http:
        response = http.post("/predict", json=kit.record_with(tiny, sex="Other", age=150))
        schema = http.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert response.status_code == 200
    assert response.json()["predictions"][0]["flags"] == [
        "age: 150 is outside the training range 17 to 90", "sex: unseen category 'Other'"]
    assert schema["properties"]["sex"]["type"] == "string"
    logged = PredictionLog(sqlite_url(tmp_path / "log.sqlite")).frame()
    assert logged.iloc[0]["flags"] == response.json()["predictions"][0]["flags"]
