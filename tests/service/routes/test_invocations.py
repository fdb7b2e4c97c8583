"""MLflow's scoring protocol over real HTTP: /ping, /version, and POST /invocations in every body format."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import httpx2

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service.app import create_app
from tests import servekit as kit

JSON = {"content-type": "application/json"}


def test_ping_and_version_answer_as_mlflow_does(client: httpx2.Client) -> None:
    ping, answer = client.get("/ping"), client.get("/version")
    assert (ping.status_code, ping.text, ping.headers["content-type"]) == (200, "\n", "application/json")
    assert (answer.status_code, answer.text, answer.headers["content-type"]) == (200, version("mlworkflow"), "application/json")


def test_ping_is_open_and_version_needs_the_token(tiny: kit.Tiny, tmp_path: Path) -> None:
    app = create_app(tiny.model, kit.params(), sqlite_url(tmp_path / "log.sqlite"), token="s3cret")
    with kit.running(app) as url, httpx2.Client(base_url=url) as http:
        assert http.get("/ping").status_code == 200
        assert http.get("/version").status_code == 401
        assert http.get("/version", headers={"authorization": "Bearer s3cret"}).status_code == 200


def test_mlflow_invocations(client: httpx2.Client, tiny: kit.Tiny) -> None:
    records = tiny.records(3)
    names = list(tiny.contract.names)
    split = {"columns": names[::-1], "data": [[r[n] for n in names[::-1]] for r in records]}
    by_split = client.post("/invocations", json={"dataframe_split": split})
    by_records = client.post("/invocations", json={"dataframe_records": records})
    direct = client.post("/predict", json=records).json()["predictions"]
    assert by_split.status_code == by_records.status_code == 200
    assert by_split.json() == by_records.json() == {"predictions": [p["prediction"] for p in direct]}
    text = ",".join(names) + "\n" + ",".join(kit.csv_cells(records[0], tiny)) + "\n"
    by_csv = client.post("/invocations", content=text.encode(), headers={"content-type": "text/csv"})
    assert by_csv.json() == {"predictions": [direct[0]["prediction"]]}


def test_invocations_refusals(client: httpx2.Client, tiny: kit.Tiny) -> None:
    names = list(tiny.contract.names)
    cases = [
        ({"json": {}}, "shape"),
        ({"json": {"dataframe_split": {"columns": names, "data": [[1]]}}}, "shape"),
        ({"json": {"dataframe_split": {"columns": [1], "data": []}}}, "shape"),
        ({"json": {"dataframe_records": "x"}}, "type"),
        ({"json": {"dataframe_records": tiny.records(1), "extra": 1}}, "unknown_field"),
        ({"json": {"dataframe_records": [kit.record_with(tiny, age="x")]}}, "type"),
    ]
    for request, rule in cases:
        response = client.post("/invocations", **request)
        assert response.status_code == 422 and kit.detail(response)["rule"] == rule, request


def test_inputs_and_instances_take_records_or_columns(client: httpx2.Client, tiny: kit.Tiny) -> None:
    records = tiny.records(3)
    direct = [p["prediction"] for p in client.post("/predict", json=records).json()["predictions"]]
    columns = {name: [r[name] for r in records] for name in tiny.contract.names}
    for key in ("inputs", "instances"):
        for payload in (records, columns):
            response = client.post("/invocations", json={key: payload})
            assert response.status_code == 200 and response.json() == {"predictions": direct}, key


def test_inputs_and_instances_refusals(client: httpx2.Client, tiny: kit.Tiny) -> None:
    columns = {name: [value] for name, value in tiny.records(1)[0].items()}
    cases = [
        ({"inputs": "x"}, "shape", "inputs"),
        ({"instances": {**columns, "age": 39}}, "shape", "instances"),
        ({"inputs": {**columns, "age": [39, 40]}}, "shape", "inputs"),
        ({"inputs": [[1, 2]]}, "type", None),
        ({"inputs": tiny.records(1), "instances": tiny.records(1)}, "shape", None),
    ]
    for body, rule, field in cases:
        response = client.post("/invocations", json=body)
        assert response.status_code == 422, body
        assert (kit.detail(response)["rule"], kit.detail(response).get("field")) == (rule, field), body


def nan_split(tiny: kit.Tiny, **cells: float | None) -> bytes:
    """A dataframe_split body of one record with cells replaced, serialised as pandas and MLflow do (bare NaN)."""
    record = kit.record_with(tiny, **cells)
    names = list(tiny.contract.names)
    return json.dumps({"dataframe_split": {"index": [0], "columns": names, "data": [[record[n] for n in names]]}}).encode()


def test_nan_and_null_mean_missing_where_the_contract_allows(client: httpx2.Client, tiny: kit.Tiny) -> None:
    gaps = {"workclass": None, "occupation": None, "native-country": None}
    direct = client.post("/predict", json=kit.record_with(tiny, **gaps)).json()["predictions"][0]["prediction"]
    as_nan = nan_split(tiny, **dict.fromkeys(gaps, float("nan")))
    assert b"NaN" in as_nan
    assert client.post("/invocations", content=as_nan, headers=JSON).json() == {"predictions": [direct]}
    by_records = client.post("/invocations", content=json.dumps({"dataframe_records": [kit.record_with(
        tiny, **dict.fromkeys(gaps, float("nan")))]}).encode(), headers=JSON)
    by_null = client.post("/invocations", json={"instances": [kit.record_with(tiny, **gaps)]})
    assert by_records.json() == by_null.json() == {"predictions": [direct]}
    names = list(tiny.contract.names)
    for text in ("NaN", "null", ""):
        cells = ["" if c is None else str(c) for c in (kit.record_with(tiny, **gaps)[n] for n in names)]
        row = [text if n in gaps else cell for n, cell in zip(names, cells, strict=True)]
        body = ",".join(names) + "\n" + ",".join(row) + "\n"
        by_csv = client.post("/invocations", content=body.encode(), headers={"content-type": "text/csv"})
        assert by_csv.json() == {"predictions": [direct]}, text


def test_nan_where_never_missing_is_a_422_naming_the_field(client: httpx2.Client, tiny: kit.Tiny) -> None:
    for field in ("sex", "age"):
        response = client.post("/invocations", content=nan_split(tiny, **{field: float("nan")}), headers=JSON)
        assert response.status_code == 422, field
        assert (kit.detail(response)["rule"], kit.detail(response)["field"], kit.detail(response)["row"]) == (
            "nullable", field, 0)
    infinite = client.post("/invocations", content=nan_split(tiny, age=float("inf")), headers=JSON)
    assert infinite.status_code == 422 and (kit.detail(infinite)["rule"], kit.detail(infinite)["field"]) == ("finite", "age")
