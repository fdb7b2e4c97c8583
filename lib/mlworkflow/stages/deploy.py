"""Stage `deploy`: package the trained pipeline as a registry bundle, and try the service on it.

A bundle holds the skops model (never a pickle), `metadata.json` (task, classes, the decision
threshold, the metrics with their intervals, per-group results), `contract.json` (the input
contract learned from the training split) and `card.md` (the model card: data, intended use,
metrics, groups, limitations). The registry records its SHA-256 and the package versions; the
notebook then loads it back through the registry's checks and exercises the service in-process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlworkflow import io
from mlworkflow.bundle.contract import Contract, Validator, as_sent, learn_contract
from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import (
    CARD_FILE,
    CONTRACT_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Registry,
    Version,
)
from mlworkflow.core import names
from mlworkflow.errors import ArtifactError
from mlworkflow.params import DeployParams
from mlworkflow.records import (
    DEMO_LOG,
    MODEL,
    BundleMetadata,
    BundleMetric,
    DataRecord,
    DeployRecord,
    EvaluateRecord,
    PreprocessRecord,
    ReadReport,
    TrainRecord,
)

SHOWN_METRICS = 9
ALL_ROWS = "(all)"  # evaluate's group of every test row


# --- the bundle's parts ---------------------------------------------------------------------------------


def learn(train: pd.DataFrame, preprocessed: PreprocessRecord, reading: ReadReport | None = None) -> Contract:
    """The input contract from the training split and preprocess.json (numeric, categorical, markers, text,
    timestamps), with the reader options the data stage used (data.json's `reading`)."""
    return learn_contract(train, list(preprocessed.numeric), list(preprocessed.categorical), preprocessed.missing_markers,
                          text=list(preprocessed.text), datetime=list(preprocessed.datetime),
                          read=None if reading is None else reading.options)


def metric_rows(evaluation: EvaluateRecord) -> list[dict[str, Any]]:
    """The test metrics with their intervals and the baseline, deciding metric first."""
    names = sorted(evaluation.metrics, key=lambda name: (name != evaluation.metric, name))
    baseline = {name: interval.value for name, interval in evaluation.baseline.items()}
    return [{"metric": name, **evaluation.metrics[name].model_dump(), "baseline": baseline.get(name)} for name in names]


def metadata(name: str, preprocessed: PreprocessRecord, trained: TrainRecord, evaluation: EvaluateRecord) -> BundleMetadata:
    """metadata.json: what the model predicts, how it decides, how well it did."""
    return BundleMetadata(
        name=name, target=preprocessed.target, task=preprocessed.task, classes=list(preprocessed.classes),
        positive_class=preprocessed.positive_class, threshold=evaluation.threshold,
        threshold_rule=evaluation.threshold_rule, family=trained.family, best_params=trained.best_params,
        metric=evaluation.metric, groups=list(evaluation.groups),
        metrics={row["metric"]: BundleMetric(value=row["value"], low=row["low"], high=row["high"], baseline=row["baseline"])
                 for row in metric_rows(evaluation)},
    )


def read_model(store: io.Artifacts) -> bytes:
    """The trained pipeline's skops bytes (copied into the bundle unchanged)."""
    path = store.path(MODEL)
    if not path.is_file():
        raise ArtifactError(str(path), MODEL.stage)
    return path.read_bytes()


def bundle_files(model: bytes, meta: BundleMetadata, contract: Contract, card: str) -> dict[str, bytes]:
    """The bundle's files as bytes."""
    return {
        MODEL_FILE: model,
        METADATA_FILE: (json.dumps(meta.model_dump(), indent=2, sort_keys=True, default=str) + "\n").encode(),
        CONTRACT_FILE: (contract.model_dump_json(indent=2) + "\n").encode(),
        CARD_FILE: card.encode(),
    }


def source(data: DataRecord, artifacts: Path) -> dict[str, Any]:
    """Where the bundle came from: the run's artifact folder and the data's SHA-256."""
    return {"artifacts": str(Path(artifacts).resolve()), "data_sha256": data.sha256, "rows": data.rows}


# --- the model card --------------------------------------------------------------------------------------


def number(value: Any, digits: int = 3) -> str:
    """A number for a table cell ('–' when absent)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def card_header(meta: BundleMetadata) -> list[str]:
    """Title and one line on what the model does."""
    task, target = meta.task, meta.target
    what = f"{task} classification of `{target}`" if task != "regression" else f"regression of `{target}`"
    positive = f", positive class `{meta.positive_class}`" if meta.positive_class else ""
    threshold = meta.threshold
    rule = names.threshold_rule_label(meta.threshold_rule or "")
    decision = f" Decision threshold {threshold:.3f} ({rule})." if threshold is not None else ""
    return [f"# Model card: {meta.name}", "", f"**What it does:** {what}{positive}, with a {names.family_label(meta.family)} "
            f"pipeline (preprocessing and model, fitted together).{decision}"]


def card_data(data: DataRecord, preprocessed: PreprocessRecord, contract: Contract) -> list[str]:
    """Where the data came from and how it was split."""
    rows = preprocessed.rows
    sampled = f" (a sample of {data.source_rows:,})" if data.source_rows != data.rows else ""
    return [
        "## Data", "",
        f"- Source: `{Path(data.source).name}`, SHA-256 `{data.sha256[:16]}…`, {data.rows:,} rows{sampled}.",
        f"- Split: {rows.train:,} training rows, {rows.test:,} test rows ({preprocessed.split.method}).",
        f"- Inputs: {len(contract.columns)} columns ({sum(c.kind != 'string' for c in contract.columns)} numeric, "
        f"{sum(c.kind == 'string' for c in contract.columns)} categorical); the input contract lists each one.",
    ]


def card_metrics(meta: BundleMetadata) -> list[str]:
    """The test metrics with bootstrap intervals and the baseline."""
    rows = [
        [f"**{names.metric_label(name)}**" if name == meta.metric else names.metric_label(name), number(m.value),
         f"[{number(m.low)}, {number(m.high)}]",
         number(m.baseline)]
        for name, m in list(meta.metrics.items())[:SHOWN_METRICS]
    ]
    return ["## Metrics (test split, bootstrap intervals)", "", markdown_table(["metric", "value", "interval", "baseline"], rows)]


def card_groups(meta: BundleMetadata) -> list[str]:
    """Per-group results as evaluate reported them."""
    groups = meta.groups
    if not groups:
        return ["## Results per group", "", "No group columns were evaluated (`evaluate.group_columns`)."]
    if "verdict" in (groups[0].model_extra or {}):  # judged with intervals (evaluate's fairness table)
        return ["## Results per group", "", *judged_groups(meta)]
    # the metric columns vary with the task: the first group row's, in its order
    keys = [k for k in (groups[0].model_extra or {}) if k != "gap"][:4]
    rows = [[*_group_cells(g.column, g.group), g.n, *[number((g.model_extra or {}).get(k)) for k in keys],
             names.in_words(g.flag)] for g in groups]
    return ["## Results per group", "", markdown_table(["column", "group", "rows", *map(names.metric_label, keys), "flag"], rows)]


def _group_cells(column: str, group: str) -> tuple[str, str]:
    """A group's column and value; the row of every test row reads 'all test rows'."""
    return ("all test rows", "") if group == ALL_ROWS else (column, group)


RATES = ("selection_rate", "base_rate")  # shares of a group's rows: read as percentages


def share(value: Any) -> str:
    """A share as a percentage with one decimal ('–' when absent)."""
    return f"{value:.1%}" if isinstance(value, float) and math.isfinite(value) else "–"


def _with_interval(extra: Mapping[str, Any], name: str) -> str:
    shown = share if name in RATES else number
    return f"{shown(extra.get(name))} [{shown(extra.get(f'{name}_low'))}, {shown(extra.get(f'{name}_high'))}]"


def judged_groups(meta: BundleMetadata) -> list[str]:
    """The groups judged with intervals: rows, the deciding metric, selection and base rates, the verdict."""
    shown = [n for n in (meta.metric, "selection_rate", "base_rate") if n in (meta.groups[0].model_extra or {})]
    rows = [[*_group_cells(g.column, g.group), g.n, *[_with_interval(g.model_extra or {}, n) for n in shown],
             (g.model_extra or {}).get("verdict") or "the whole test split"] for g in meta.groups]
    note = "A gap is flagged only when its whole bootstrap interval lies beyond the tolerance."
    header = ["column", "group", "rows", *map(names.metric_label, shown), "verdict"]
    return [markdown_table(header, rows), "", note]


def computed_limitations(meta: BundleMetadata, preprocessed: PreprocessRecord) -> list[str]:
    """Limitations that follow from the evaluation: flagged groups (and what was flagged), small groups, training size."""
    flagged = [f"{g.column} = {g.group}: {names.in_words(g.flag)}" for g in meta.groups if g.flag and "too few" not in g.flag]
    small = [f"{g.column} = {g.group}" for g in meta.groups if "too few" in g.flag]
    notes = []
    if flagged:
        notes.append(f"The model differs by group beyond the tolerance for {'; '.join(flagged)}.")
    if small:
        notes.append(f"Too few test rows to judge: {', '.join(small)}.")
    notes.append(f"Learned from {preprocessed.rows.train:,} rows; inputs unlike them are "
                 "flagged (numbers outside the training range) or refused (unseen categories, by policy).")
    return notes


def model_card(
    meta: BundleMetadata, data: DataRecord, preprocessed: PreprocessRecord, contract: Contract, params: DeployParams
) -> str:
    """The model card (Markdown): what, data, intended use, metrics, groups, limitations."""
    limitations = [*params.limitations, *computed_limitations(meta, preprocessed)]
    parts = [
        *card_header(meta), "", "## Intended use", "", params.intended_use, "",
        *card_data(data, preprocessed, contract), "", *card_metrics(meta), "", *card_groups(meta), "",
        "## Limitations", "", *[f"- {note}" for note in limitations],
    ]
    return "\n".join(parts) + "\n"


# --- registering ------------------------------------------------------------------------------------------


def register(registry: Registry, params: DeployParams, files: Mapping[str, bytes], origin: Mapping[str, Any]) -> Version:
    """Register the bundle and give it the params' alias; returns its entry (aliases included)."""
    entry = registry.register(params.name, files, origin)
    if params.alias is not None:
        entry, _previous = registry.promote(params.name, entry.version, params.alias)
    return entry


def record(entry: Version, registry: Registry, loaded_note: str, contract: Contract) -> DeployRecord:
    """deploy.json: the registered version, where, and the headline."""
    return DeployRecord(
        name=entry.name, version=entry.version, ref=entry.ref, sha256=entry.sha256,
        aliases=list(entry.aliases), registry=str(registry.root.resolve()), packages=entry.packages,
        fast_path=loaded_note, inputs=len(contract.columns),
        headline={
            "model": entry.ref, "aliases": ", ".join(entry.aliases) or "none", "inputs": f"{len(contract.columns)} columns",
            "fast path": loaded_note.split(":")[0], "sha256": entry.sha256[:12],
        },
    )


# --- trying the service in-process ---------------------------------------------------------------------------


def demo_log_url(store: io.Artifacts) -> str:
    """A fresh SQLite prediction log in the artifact folder, for the notebook's trial requests."""
    path = store.path(DEMO_LOG)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    return sqlite_url(path)


def json_value(value: Any) -> Any:
    """A frame cell as a JSON value: NaN as None, NumPy scalars as Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def valid_records(frame: pd.DataFrame, contract: Contract, n: int) -> list[dict[str, Any]]:
    """The first n rows of a frame that satisfy the contract, as JSON records."""
    columns = frame[list(contract.names)].to_dict("records")
    records = [{c.name: as_sent(c, json_value(row[c.name])) for c in contract.columns} for row in columns]
    checked = Validator(contract, "reject").records(records[: max(50, 5 * n)])
    return [records[i] for i in checked.positions[:n]]


@dataclass(frozen=True)
class Trial:
    """One request to try: a label, the method and path, and the body."""

    label: str
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None


def csv_bytes(records: Sequence[Mapping[str, Any]]) -> bytes:
    """Records as CSV bytes (missing values as empty fields)."""
    return pd.DataFrame(list(records)).to_csv(index=False).encode()


def trials(records: Sequence[Mapping[str, Any]], contract: Contract, max_body_bytes: int) -> list[Trial]:
    """Valid and invalid requests covering every route and every kind of refusal."""
    good, first = dict(records[0]), contract.names[0]
    numeric = next((c.name for c in contract.columns if c.kind != "string"), first)
    text = next((c.name for c in contract.columns if c.kind == "string"), first)
    split = {"columns": list(contract.names), "data": [[r[n] for n in contract.names] for r in records[:2]]}
    return [
        Trial("health", "GET", "/health"),
        Trial("one record", "POST", "/predict", json=good),
        Trial("a batch of 3", "POST", "/predict", json=list(records[:3])),
        Trial("missing field", "POST", "/predict", json={k: v for k, v in good.items() if k != numeric}),
        Trial("unknown field", "POST", "/predict", json={**good, "colour": "blue"}),
        Trial("wrong type", "POST", "/predict", json={**good, numeric: "forty"}),
        Trial("NaN", "POST", "/predict", content=json.dumps({**good, numeric: float("nan")}).encode(),
              headers={"content-type": "application/json"}),
        Trial("unseen category", "POST", "/predict", json={**good, text: "never-seen"}),
        Trial("not JSON", "POST", "/predict", content=b"{age: 1", headers={"content-type": "application/json"}),
        Trial("wrong content type", "POST", "/predict", content=b"age=1", headers={"content-type": "text/plain"}),
        Trial("body too large", "POST", "/predict", content=b" " * (max_body_bytes + 1),
              headers={"content-type": "application/json"}),
        Trial("CSV upload", "POST", "/predict/csv", files={"file": ("rows.csv", csv_bytes(records[:5]), "text/csv")}),
        Trial("MLflow dataframe_split", "POST", "/invocations", json={"dataframe_split": split}),
        Trial("MLflow dataframe_records", "POST", "/invocations", json={"dataframe_records": list(records[:2])}),
        Trial("feedback", "POST", "/feedback", json={"id": "<first prediction>", "label": "<its prediction>"}),
        Trial("feedback again", "POST", "/feedback", json={"id": "<first prediction>", "label": "<its prediction>"}),
        Trial("feedback, unknown id", "POST", "/feedback", json={"id": "0" * 32, "label": "<its prediction>"}),
    ]


def fill_feedback(trial: Trial, first: Mapping[str, Any] | None) -> Trial:
    """Put the first prediction's id and label into a feedback trial."""
    if trial.path != "/feedback" or first is None:
        return trial
    body = dict(trial.json)
    body["label"] = first["prediction"]
    if body["id"] == "<first prediction>":
        body["id"] = first["id"]
    return Trial(trial.label, trial.method, trial.path, json=body)


def call_service(app: Any, requests: Sequence[Trial]) -> list[tuple[Trial, Any]]:
    """Send each trial to the app in-process (FastAPI's TestClient); each trial as sent, with its response."""
    from fastapi.testclient import TestClient

    answers, first = [], None
    with TestClient(app) as client:
        for trial in requests:
            trial = fill_feedback(trial, first)
            response = client.request(trial.method, trial.path, json=trial.json, content=trial.content,
                                      headers=trial.headers, files=trial.files)
            if first is None and trial.path == "/predict" and response.status_code == 200:
                first = response.json()["predictions"][0]
            answers.append((trial, response))
    return answers
