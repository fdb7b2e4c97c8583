"""Where stage `monitor`'s inputs come from: the monitored bundle, its reference rows and the current rows.

All the monitor's reading happens here, before `monitor.assess` (which is pure): the model from the
registry (named in params, else by the run's deploy.json), the reference (a file, else the training split
of the run that produced the model) and the current data (a batch file, a window of the prediction log,
or that run's held-out test split).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from mlworkflow import io
from mlworkflow.bundle import predlog
from mlworkflow.bundle.registry import LoadedModel, Registry
from mlworkflow.errors import ArtifactError, DataError
from mlworkflow.layout import registry_root
from mlworkflow.params import MonitorParams
from mlworkflow.records import DEPLOY, TEST_SPLIT, TRAIN_SPLIT, Artifact, DeployRecord
from mlworkflow.stages.monitor import Current, Inputs, clean, in_time_order, label_column


def deployed(params: MonitorParams, store: io.Artifacts) -> tuple[Registry, str]:
    """The registry and the reference to monitor: `model` in `registry`, else the run's deploy.json."""
    if params.model is not None:
        return Registry(registry_root(params.registry or "models", store.root)), params.model
    try:
        record = store.read(DeployRecord)
    except ArtifactError as exc:
        if store.path(DEPLOY).is_file():
            raise
        raise ArtifactError(f"{exc.path} (or set monitor.model, e.g. NAME@champion)", DEPLOY.stage) from None
    folder = registry_root(params.registry, store.root) if params.registry else Path(record.registry)
    return Registry(folder), record.ref


def load_model(params: MonitorParams, store: io.Artifacts) -> tuple[LoadedModel, io.Artifacts]:
    """The monitored bundle, loaded through the registry's checks, and the artifacts of the run it came from."""
    registry, ref = deployed(params, store)
    model = registry.load(ref)
    source = registry.index(model.entry.name)["versions"][model.entry.version].get("source", {})
    runs = io.Artifacts(Path(str(source.get("artifacts", ""))))
    return model, runs if source.get("artifacts") and runs.path(TRAIN_SPLIT).is_file() else store


def current_from_file(path: str, model: LoadedModel, params: MonitorParams) -> Current:
    """A batch file: its inputs, its target column when present, its `time_column` when set."""
    raw = io.read_file(path, model.contract.read)  # read as the model's training file was
    target, time_column = model.metadata.target, params.time_column
    if time_column is not None and time_column not in raw.columns:
        raise DataError("is not a column of the current data", time_column, "monitor.time_column")
    times = pd.to_datetime(raw[time_column], format="mixed") if time_column else None
    frame, labels = clean(raw, model.contract, params.missing_markers), label_column(raw, target, params.missing_markers)
    return in_time_order(frame, labels, None if times is None else times.reset_index(drop=True), f"file {Path(path).name}")


def current_from_split(runs: io.Artifacts, model: LoadedModel) -> Current:
    """The held-out test split of the model's run (labelled): a sanity check, no shift expected."""
    test = run_split(runs, TEST_SPLIT, model)
    labels = label_column(runs.read_frame(TEST_SPLIT), model.metadata.target)
    return in_time_order(test, labels, None, "the run's test split")


def utc(text: str | None) -> datetime | None:
    """An ISO time as an aware UTC datetime (a time without a zone is taken as UTC)."""
    if text is None:
        return None
    stamp = pd.Timestamp(text)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def missing_log(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist (a server database cannot be told apart from here)."""
    return url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file()


def log_rows(params: MonitorParams, model: LoadedModel) -> tuple[pd.DataFrame, int]:
    """The log's predictions of the monitored version in the window, and how many of other versions were skipped."""
    assert params.log_url is not None
    if missing_log(params.log_url):
        raise DataError("prediction log not found (has the service run?)", source=params.log_url)
    log = predlog.PredictionLog(params.log_url)
    try:
        window = predlog.read_window(log, utc(params.since), utc(params.until), model.entry.name)
    finally:
        log.close()
    mine = window["model_version"].astype(str) == model.entry.version
    return window[mine], int((~mine).sum())


def current_from_log(params: MonitorParams, model: LoadedModel) -> Current:
    """A window of the prediction log: the logged inputs, feedback labels, prediction times."""
    rows, skipped = log_rows(params, model)
    window = f"{params.since or 'the start'} to {params.until or 'now'}"
    if rows.empty:
        return empty_window(model, f"prediction log, {window}", skipped)
    inputs = pd.DataFrame(list(rows["inputs"]), index=rows.index)
    frame = clean(inputs, model.contract, ())
    times = pd.to_datetime(rows["created_at"], utc=True).reset_index(drop=True)
    note = f"{skipped} prediction(s) of other versions skipped" if skipped else ""
    return in_time_order(frame, rows["label"].reset_index(drop=True), times, f"prediction log, {window}", note)


def empty_window(model: LoadedModel, source: str, skipped: int) -> Current:
    """No prediction of the monitored version in the window: no rows, and a note that says what to do."""
    others = f" ({skipped} prediction(s) of other versions were in it)" if skipped else ""
    note = (f"check that the service runs and logs to this log (deploy.log_url), or widen the window "
            f"(--since / --until){others}")
    frame = clean(pd.DataFrame(columns=list(model.contract.names)), model.contract, ())
    times = pd.Series([], dtype="datetime64[ns, UTC]")
    return in_time_order(frame, pd.Series([], dtype=object), times, source, note)


def read_current(params: MonitorParams, model: LoadedModel, runs: io.Artifacts) -> Current:
    """The current data the params name: a batch file, the prediction log, or the run's test split."""
    if params.current is not None:
        return current_from_file(params.current, model, params)
    if params.log_url is not None:
        return current_from_log(params, model)
    return current_from_split(runs, model)


def run_split(runs: io.Artifacts, split: Artifact, model: LoadedModel) -> pd.DataFrame:
    """A split of the model's run (train.parquet, test.parquet), cleaned; a DataError says what to do if it is gone."""
    path = runs.path(split)
    if not path.is_file():
        raise DataError(f"the model's run has no {split.name} here (was its run folder moved or deleted?); "
                        "set monitor.reference to a file of reference records", source=str(path))
    return clean(runs.read_frame(split), model.contract, ())


def read_reference(params: MonitorParams, model: LoadedModel, runs: io.Artifacts) -> tuple[pd.DataFrame, str]:
    """The reference inputs: the `reference` file, else the training split of the model's run."""
    if params.reference is not None:
        reference = io.read_file(params.reference, model.contract.read)
        return clean(reference, model.contract, params.missing_markers), Path(params.reference).name
    return run_split(runs, TRAIN_SPLIT, model), "the run's training split"


def resolve(params: MonitorParams, store: io.Artifacts) -> Inputs:
    """Everything `monitor.assess` compares: the model, the reference, the held-out rows and the current rows."""
    model, runs = load_model(params, store)
    reference, reference_source = read_reference(params, model, runs)
    current = read_current(params, model, runs)
    held_out = run_split(runs, TEST_SPLIT, model) if params.reference is None else reference
    return Inputs(model, reference, reference_source, held_out, current)
