"""The OpenAPI document: request schemas generated from the model's contract."""

from __future__ import annotations

import httpx2

from tests import servekit as kit


def test_openapi_schema_comes_from_the_contract(client: httpx2.Client, tiny: kit.Tiny) -> None:
    schema = client.get("/openapi.json").json()
    record = schema["components"]["schemas"]["Record"]
    assert set(record["required"]) == set(tiny.contract.names) and record["additionalProperties"] is False
    assert record["properties"]["sex"]["enum"] == ["Female", "Male"]
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert {"200", "400", "413", "415", "422", "503"} <= set(schema["paths"]["/predict"]["post"]["responses"])


def test_invocations_and_feedback_bodies_follow_the_contract_and_the_task(client: httpx2.Client, tiny: kit.Tiny) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    split = schemas["InvocationsRequest"]["oneOf"][0]["properties"]["dataframe_split"]
    assert split["properties"]["columns"]["const"] == list(tiny.contract.names)
    assert split["properties"]["data"]["maxItems"] == kit.MAX_ROWS
    assert schemas["FeedbackRequest"]["properties"]["label"] == {"enum": ["<=50K", ">50K"]}
    assert schemas["HealthOut"]["required"] == ["status", "model", "version"]
