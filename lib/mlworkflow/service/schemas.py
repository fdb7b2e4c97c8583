"""The OpenAPI schemas: response models, and request bodies generated from the model's input contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mlworkflow.bundle.contract import record_model
from mlworkflow.service.state import Service


class IssueOut(BaseModel):
    """One problem with a request."""

    row: int | None = None
    line: int | None = None
    field: str | None = None
    rule: str
    message: str


class ProblemOut(BaseModel):
    """Every 4xx/5xx body: the list of problems."""

    detail: list[IssueOut]


class ModelRef(BaseModel):
    """Which model answered."""

    name: str
    version: str


class RowPrediction(BaseModel):
    """One record's prediction: id (for feedback), label or value, class scores, flags."""

    id: str
    prediction: str | float
    probabilities: dict[str, float] | None = None
    scores: dict[str, float] | None = None
    flags: list[str]


class PredictOut(BaseModel):
    """The answer to /predict."""

    request_id: str
    model: ModelRef
    predictions: list[RowPrediction]


class InvocationsOut(BaseModel):
    """MLflow's scoring-server answer."""

    predictions: list[str | float]


class FeedbackOut(BaseModel):
    """A recorded feedback label."""

    feedback_id: int
    prediction_id: str


class HealthOut(BaseModel):
    """Readiness (or liveness), the model being served, and each check's outcome (readiness only)."""

    status: str
    model: str
    version: str
    checks: dict[str, str] = Field(default_factory=dict)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for refusals."""
    return {status: {"model": ProblemOut, "description": "refused: see detail"} for status in statuses}


def body(*schemas: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """An OpenAPI requestBody from (media type, schema) pairs."""
    return {"requestBody": {"required": True, "content": {media: {"schema": schema} for media, schema in schemas}}}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def request_schemas(service: Service) -> dict[str, Any]:
    """Component schemas of the request bodies, generated from the contract's pydantic model."""
    record = record_model(service.model.contract, service.params.unseen_categories)
    schemas: dict[str, Any] = {"Record": record.model_json_schema(ref_template="#/components/schemas/{model}")}
    batch_schema = {"type": "array", "items": ref("Record"), "minItems": 1, "maxItems": service.params.max_rows}
    schemas["PredictRequest"] = {"anyOf": [ref("Record"), batch_schema], "title": "PredictRequest"}
    schemas["InvocationsRequest"] = invocations_schema(service, schemas["Record"]["properties"], batch_schema)
    schemas["FeedbackRequest"] = feedback_schema(service)
    return schemas


def invocations_schema(service: Service, properties: dict[str, Any], batch_schema: dict[str, Any]) -> dict[str, Any]:
    """MLflow's body: `dataframe_split` (columns in the contract's order), `dataframe_records`, `inputs` or `instances`."""
    names = list(service.model.contract.names)
    split = {
        "type": "object", "additionalProperties": False, "required": ["columns", "data"],
        "properties": {
            "columns": {"const": names},
            "index": {"type": "array", "description": "row labels (pandas' split orient); ignored"},
            "data": {"type": "array", "minItems": 1, "maxItems": service.params.max_rows, "items": {
                "type": "array", "prefixItems": [properties[n] for n in names], "items": False,
                "minItems": len(names), "maxItems": len(names)}},
        },
    }
    columnar = {"type": "object", "additionalProperties": False, "required": names,
                "properties": {n: {"type": "array", "items": properties[n]} for n in names}}
    tensor = {"oneOf": [batch_schema, columnar], "description": "records, or an object of column: list of values"}
    formats = {"dataframe_split": split, "dataframe_records": batch_schema, "inputs": tensor, "instances": tensor}
    return {"title": "InvocationsRequest", "oneOf": [
        {"type": "object", "properties": {key: schema}, "required": [key], "additionalProperties": False}
        for key, schema in formats.items()
    ]}


def feedback_schema(service: Service) -> dict[str, Any]:
    """The feedback body: a prediction id and a label of the model's task."""
    target = service.predictor.target
    label = {"type": "number"} if target.task == "regression" else {"enum": list(target.classes)}
    return {"title": "FeedbackRequest", "type": "object", "additionalProperties": False, "required": ["id", "label"],
            "properties": {"id": {"type": "string", "minLength": 1}, "label": label}}
