"""POST /invocations (MLflow's scoring protocol) over real HTTP."""

from __future__ import annotations

import httpx2

from tests import servekit as kit


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
