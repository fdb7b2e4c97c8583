"""Presentation for stage `deploy`: the card as notebook sections, the bundle's checks, the service trials, the log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mlworkflow.bundle.contract import Column, Contract, seen_text
from mlworkflow.bundle.predlog import PredictionLog
from mlworkflow.bundle.registry import LoadedModel, Version
from mlworkflow.records import DeployRecord
from mlworkflow.stages.deploy import Trial, number
from mlworkflow.views import labels

HOLDS = {"integer": "whole number", "number": "number", "boolean": "yes/no", "string": "category"}


def demoted(card: str) -> str:
    """The card with every heading one level down, to sit inside a notebook's sections."""
    return "\n".join(f"#{line}" if line.startswith("#") else line for line in card.splitlines()) + "\n"


def holds(column: Column) -> str:
    """What an input column holds, in words: 'whole number', 'category', 'text', 'date and time'."""
    if column.free_text:
        return "text"
    return "date and time" if column.timestamp else HOLDS.get(column.kind, labels.readable(column.kind))


def bound(value: float) -> str:
    """One end of a range seen in training, exact for whole numbers and with thousands separators: '972,354'."""
    return f"{int(value):,}" if float(value).is_integer() else labels.number(value)


def seen(column: Column) -> str:
    """What training saw in a column: a numeric range with separators, else the contract's own words."""
    numeric = column.kind in ("integer", "number") and not column.timestamp
    if numeric and column.minimum is not None and column.maximum is not None:
        return f"{bound(column.minimum)} to {bound(column.maximum)}"
    return seen_text(column)


def contract_view(contract: Contract) -> pd.DataFrame:
    """The input contract as a reader reads it: per column what it holds, whether it may be missing, what was seen."""
    rows = [{"column": c.name, "holds": holds(c), "may be missing": c.nullable, "seen in training": seen(c)}
            for c in contract.columns]
    return pd.DataFrame(rows).set_index("column")


def bundle_table(entry: Version, loaded: LoadedModel) -> pd.DataFrame:
    """The registered bundle and the checks its loading passed (nothing run-specific: no hashes, no times)."""
    rows = {
        "files": ", ".join(sorted(entry.files)),
        "aliases": ", ".join(entry.aliases) or "none",
        "SHA-256 of every file": "matches the registry",
        "scikit-learn": f"built with the version installed here ({entry.packages.get('scikit-learn')})",
        "skops types": "only types on the registry's trusted list",
        "inputs in the contract": len(loaded.contract.columns),
    }
    return pd.Series(rows, name="bundle").to_frame()


def stable_headline(content: DeployRecord) -> pd.DataFrame:
    """The headline without what changes from run to run (version, hash), for the notebook."""
    shown = {k: v for k, v in content.headline.items() if k not in ("model", "sha256")}
    return pd.Series(shown, name="value").to_frame()


def answer_text(response: Any) -> str:
    """A response in a few words, without ids or times (so the notebook's outputs are stable)."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/csv"):
        lines = response.text.strip().splitlines()
        return f"CSV, {len(lines) - 1} rows: {lines[0]}"
    body = response.json()
    if response.status_code >= 400:
        first = body["detail"][0]
        more = f" (+{len(body['detail']) - 1} more)" if len(body["detail"]) > 1 else ""
        return f"{first['rule']}: {first['message']}{more}"
    if "predictions" in body and isinstance(body["predictions"][0], dict):
        return "; ".join(prediction_text(p) for p in body["predictions"])
    if "predictions" in body:
        return "predictions: " + ", ".join(map(str, body["predictions"]))
    shown = {k: v for k, v in body.items() if k not in ("version", "feedback_id", "prediction_id", "model")}
    return "; ".join(f"{k} {field_text(v)}" for k, v in shown.items()) or "recorded"


def field_text(value: Any) -> str:
    """A response field in words: a mapping as 'name value' pairs ('model loaded, prediction_log writable')."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {field_text(v)}" for k, v in value.items())
    return str(value)


def prediction_text(prediction: Mapping[str, Any]) -> str:
    """One prediction: the label and its probability (or the value), and any flags."""
    scores = prediction.get("probabilities") or prediction.get("scores") or {}
    label = prediction["prediction"]
    score = f" ({scores[label]:.3f})" if label in scores else ""
    flags = f" [{len(prediction['flags'])} flag(s)]" if prediction["flags"] else ""
    value = number(label, 4) if isinstance(label, float) else label
    return f"{value}{score}{flags}"


def service_table(answers: Sequence[tuple[Trial, Any]]) -> pd.DataFrame:
    """The trials sent to the service: the route, the status and the answer in a few words."""
    rows = [{"request": trial.label, "route": f"{trial.method} {trial.path}", "status": response.status_code,
             "answer": answer_text(response)} for trial, response in answers]
    return pd.DataFrame(rows).set_index("request")


def log_table(url: str) -> pd.DataFrame:
    """What the prediction log holds: rows per route path and prediction, and the feedback count."""
    log = PredictionLog(url)
    try:
        frame, feedback = log.frame(), log.count("feedback")
    finally:
        log.close()
    frame["prediction"] = frame["prediction"].astype(str)
    table = frame.groupby(["path", "prediction"]).size().rename("rows").to_frame()
    table.loc[("feedback", "labels recorded"), "rows"] = feedback
    return table.astype(int)

