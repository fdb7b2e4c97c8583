"""POST /feedback over real HTTP: recorded once, unknown ids, wrong labels."""

from __future__ import annotations

import httpx2

from mlworkflow.bundle.predlog import PredictionLog
from tests import servekit as kit


def test_feedback(client: httpx2.Client, tiny: kit.Tiny, served: tuple[str, str]) -> None:
    prediction = client.post("/predict", json=tiny.records(1)[0]).json()["predictions"][0]
    first = client.post("/feedback", json={"id": prediction["id"], "label": ">50K"})
    assert first.status_code == 201 and first.json()["prediction_id"] == prediction["id"]
    again = client.post("/feedback", json={"id": prediction["id"], "label": "<=50K"})
    assert again.status_code == 409 and kit.detail(again)["rule"] == "duplicate_feedback"
    unknown = client.post("/feedback", json={"id": "nope-0", "label": ">50K"})
    assert unknown.status_code == 404 and kit.detail(unknown)["rule"] == "unknown_prediction"
    wrong = client.post("/feedback", json={"id": prediction["id"], "label": "rich"})
    assert wrong.status_code == 422 and (kit.detail(wrong)["field"], kit.detail(wrong)["rule"]) == ("label", "category")
    shape = client.post("/feedback", json={"id": prediction["id"]})
    assert shape.status_code == 422 and kit.detail(shape)["rule"] == "shape"
    log = PredictionLog(served[1])
    assert log.frame("feedback").set_index("prediction_id").loc[prediction["id"], "label"] == ">50K"
