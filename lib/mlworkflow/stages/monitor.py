"""Stage `monitor`: drift of the deployed model's inputs and predictions, its performance, and a verdict.

The reference is the training split of the run that produced the monitored registry version
(or a file); the current data is a batch file, a time window of the service's prediction log, or
the run's held-out test split. Drift comes from `mlworkflow.core.drift`; performance is realized where
labels exist (feedback in the log, or the target column of a batch) and estimated from the
probabilities where they do not (CBPE); the verdict OK / WARN / RETRAIN gives one sentence per reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlworkflow import io
from mlworkflow.bundle.contract import Contract
from mlworkflow.bundle.registry import LoadedModel, Registry
from mlworkflow.core import drift
from mlworkflow.errors import ArtifactError, DataError
from mlworkflow.layout import registry_root
from mlworkflow.params import MonitorParams
from mlworkflow.stages import evaluate, preprocess

FloatArray = npt.NDArray[np.float64]
Status = Literal["OK", "WARN", "RETRAIN"]
LEVELS: dict[str, int] = {"OK": 0, "WARN": 1, "RETRAIN": 2}
CBPE_ASSUMPTION = (
    "Estimated without labels by confidence-based performance estimation (CBPE): it assumes the model's "
    "probabilities are calibrated and that only the inputs shifted (no concept drift: the chance of each label "
    "given the inputs is unchanged); a change in that relation is invisible to it."
)
SHOWN_NAMES = 4
PLOTTED = 9


# --- the monitored model and where its reference lives ------------------------------------------------------


def deployed(params: MonitorParams, store: io.Artifacts) -> tuple[Registry, str]:
    """The registry and the reference to monitor: `model` in `registry`, else the run's deploy.json."""
    if params.model is not None:
        return Registry(registry_root(params.registry or "models", store.root)), params.model
    try:
        record = store.read_json("deploy.json", "deploy")
    except ArtifactError as exc:
        raise ArtifactError(f"{exc.path} (or set monitor.model, e.g. NAME@champion)", "deploy") from None
    folder = registry_root(params.registry, store.root) if params.registry else Path(record["registry"])
    return Registry(folder), str(record["ref"])


def load_model(params: MonitorParams, store: io.Artifacts) -> tuple[LoadedModel, io.Artifacts]:
    """The monitored bundle, loaded through the registry's checks, and the artifacts of the run it came from."""
    registry, ref = deployed(params, store)
    model = registry.load(ref)
    source = registry.index(model.entry.name)["versions"][model.entry.version].get("source", {})
    folder = Path(str(source.get("artifacts", "")))
    runs = io.Artifacts(folder) if source.get("artifacts") and (folder / "train.parquet").is_file() else store
    return model, runs


def features(contract: Contract) -> tuple[list[str], list[str]]:
    """The model's numeric and categorical inputs, from its contract."""
    numeric = [c.name for c in contract.columns if c.kind != "string"]
    return numeric, [c.name for c in contract.columns if c.kind == "string"]


def clean(frame: pd.DataFrame, contract: Contract, markers: Sequence[str], keep: Sequence[str] = ()) -> pd.DataFrame:
    """The contract's columns (and `keep`), missing markers as NaN, numbers parsed, categories as text."""
    names = list(contract.names)
    absent = [name for name in names if name not in frame.columns]
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise DataError(f"is an input of the model but not a column of the current data{more}", absent[0])
    kept = [name for name in keep if name in frame.columns and name not in names]
    out = preprocess.replace_markers(frame[names + kept], markers, kept)
    numeric, categorical = features(contract)
    for name in numeric:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(np.float64)
    if categorical:
        out[categorical] = preprocess.as_text(out[categorical])
    return out.reset_index(drop=True)


# --- current data --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """The current rows in time order: model inputs, true labels where known, times if any, and where from."""

    frame: pd.DataFrame
    labels: pd.Series
    times: pd.Series | None
    source: str
    note: str = ""

    @property
    def rows(self) -> int:
        """Number of current rows."""
        return len(self.frame)

    @property
    def labelled(self) -> int:
        """Rows with a true label."""
        return int(self.labels.notna().sum())


def in_time_order(frame: pd.DataFrame, labels: pd.Series, times: pd.Series | None, source: str, note: str = "") -> Current:
    """A Current sorted by time (stable), indexes reset."""
    if times is not None:
        order = np.argsort(times.to_numpy(), kind="stable")
        frame, labels, times = frame.iloc[order], labels.iloc[order], times.iloc[order].reset_index(drop=True)
    return Current(frame.reset_index(drop=True), labels.reset_index(drop=True), times, source, note)


def label_column(frame: pd.DataFrame, target: str, markers: Sequence[str] = ()) -> pd.Series:
    """The target column (missing markers as missing, indexes reset), or all-missing when there is none."""
    if target not in frame.columns:
        return pd.Series([None] * len(frame), dtype=object)
    labels = preprocess.replace_markers(frame[[target]], markers)[target].reset_index(drop=True)
    present = labels.dropna()
    if pd.api.types.is_float_dtype(labels.dtype) and bool((present == present.round()).all()):
        labels = labels.astype("Int64").astype(object)  # 0/1 read as 0.0/1.0 (a gap in the column) are classes '0'/'1'
    return labels


def current_from_file(path: str, model: LoadedModel, params: MonitorParams) -> Current:
    """A batch file: its inputs, its target column when present, its `time_column` when set."""
    raw = io.read_file(path)
    target, time_column = str(model.metadata["target"]), params.time_column
    if time_column is not None and time_column not in raw.columns:
        raise DataError("is not a column of the current data", time_column, "monitor.time_column")
    times = pd.to_datetime(raw[time_column], format="mixed") if time_column else None
    frame, labels = clean(raw, model.contract, params.missing_markers), label_column(raw, target, params.missing_markers)
    return in_time_order(frame, labels, None if times is None else times.reset_index(drop=True), f"file {Path(path).name}")


def current_from_split(runs: io.Artifacts, model: LoadedModel) -> Current:
    """The held-out test split of the model's run (labelled): a sanity check, no shift expected."""
    test = run_split(runs, "test.parquet", model)
    labels = label_column(pd.read_parquet(runs.path("test.parquet")), str(model.metadata["target"]))
    return in_time_order(test, labels, None, "the run's test split")


def utc(text: str | None) -> datetime | None:
    """An ISO time as an aware UTC datetime (a time without a zone is taken as UTC)."""
    if text is None:
        return None
    stamp = pd.Timestamp(text)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def log_rows(params: MonitorParams, model: LoadedModel) -> tuple[pd.DataFrame, int]:
    """The log's predictions of the monitored version in the window, and how many of other versions were skipped."""
    from mlworkflow.bundle import predlog

    assert params.log_url is not None
    if params.log_url.startswith("sqlite:///") and not Path(params.log_url[len("sqlite:///"):]).is_file():
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
        raise DataError(f"holds no predictions of {model.entry.ref} from {window}", source=params.log_url)
    inputs = pd.DataFrame(list(rows["inputs"]), index=rows.index)
    frame = clean(inputs, model.contract, ())
    times = pd.to_datetime(rows["created_at"], utc=True).reset_index(drop=True)
    note = f"{skipped} prediction(s) of other versions skipped" if skipped else ""
    return in_time_order(frame, rows["label"].reset_index(drop=True), times, f"prediction log, {window}", note)


def read_current(params: MonitorParams, model: LoadedModel, runs: io.Artifacts) -> Current:
    """The current data the params name: a batch file, the prediction log, or the run's test split."""
    if params.current is not None:
        return current_from_file(params.current, model, params)
    if params.log_url is not None:
        return current_from_log(params, model)
    return current_from_split(runs, model)


def run_split(runs: io.Artifacts, name: str, model: LoadedModel) -> pd.DataFrame:
    """A split of the model's run (train.parquet, test.parquet), cleaned; a DataError says what to do if it is gone."""
    path = runs.path(name)
    if not path.is_file():
        raise DataError(f"the model's run has no {name} here (was its run folder moved or deleted?); "
                        "set monitor.reference to a file of reference records", source=str(path))
    return clean(pd.read_parquet(path), model.contract, ())


def read_reference(params: MonitorParams, model: LoadedModel, runs: io.Artifacts) -> tuple[pd.DataFrame, str]:
    """The reference inputs: the `reference` file, else the training split of the model's run."""
    if params.reference is not None:
        return clean(io.read_file(params.reference), model.contract, params.missing_markers), Path(params.reference).name
    return run_split(runs, "train.parquet", model), "the run's training split"


# --- scores --------------------------------------------------------------------------------------------------


def target_of(model: LoadedModel) -> evaluate.Target:
    """What the model predicts (task, classes, positive class), from its metadata."""
    return evaluate.Target.from_json(model.metadata)


def threshold_of(model: LoadedModel, probabilistic: bool) -> float | None:
    """The binary decision threshold the service uses (0.5 for probabilities, 0 for margins, when unset)."""
    if model.metadata.get("task") != "binary":
        return None
    value = model.metadata.get("threshold")
    return float(value) if value is not None else (0.5 if probabilistic else 0.0)


def scores(model: LoadedModel, frame: pd.DataFrame) -> tuple[FloatArray, bool]:
    """The model's scores (positive-class probability, class matrix, or values) and whether they are probabilities."""
    return evaluate.model_scores(model.pipeline, frame[list(model.contract.names)], target_of(model))


def prediction_output(values: FloatArray, model: LoadedModel, probabilistic: bool) -> tuple[Any, drift.Kind, str]:
    """What prediction drift compares: the positive score, the predicted class, or the predicted value."""
    target = target_of(model)
    if target.task == "binary":
        return values, "numeric", f"prediction: {'P' if probabilistic else 'score'}({target.labels[1]})"
    if target.task == "multiclass":
        return np.array(target.labels)[np.argmax(values, axis=1)], "categorical", "prediction: class"
    return values, "numeric", "prediction: value"


# --- performance: realized and estimated ---------------------------------------------------------------------


def deciding_metric(params: MonitorParams, model: LoadedModel) -> str:
    """The metric that decides: `metric`, else the evaluate stage's, else the task's default."""
    target = target_of(model)
    if params.metric != "auto":
        if params.metric not in target.metrics:
            raise DataError(f"metric '{params.metric}' does not apply to a {target.task} model", source="monitor.metric")
        return params.metric
    chosen = str(model.metadata.get("metric") or "")
    return chosen if chosen in target.metrics else evaluate.AUTO_METRIC[target.task]


def expected_metric(model: LoadedModel, metric: str) -> evaluate.Interval | None:
    """The metric on the held-out test split when the model was evaluated, with its interval."""
    entry = (model.metadata.get("metrics") or {}).get(metric)
    if not entry or entry.get("value") is None:
        return None
    value = float(entry["value"])
    low, high = entry.get("low"), entry.get("high")
    return evaluate.Interval(value, value if low is None else float(low), value if high is None else float(high))


def labelled(values: FloatArray, labels: pd.Series, target: evaluate.Target, probabilistic: bool,
             threshold: float | None) -> evaluate.Scored | None:
    """The rows with a true label as a Scored (None when there are none)."""
    known = labels.notna().to_numpy()
    if not known.any():
        return None
    own = values[known]
    truth = evaluate.encode_target(labels[known], target)
    predicted = evaluate.predict_labels(own, target.task, threshold)
    return evaluate.Scored(target.task, target.labels, truth, own, predicted, probabilistic, threshold)


def realized(scored: evaluate.Scored, metric: str, params: MonitorParams, seed: int) -> evaluate.Interval:
    """The metric on labelled rows, with a bootstrap percentile interval."""
    value = evaluate.point_metrics(scored)[metric]
    draws = evaluate.bootstrap_draws(scored, params.bootstrap, seed)[metric]
    return evaluate.percentile_interval(value, draws, params.confidence)


def expected_rows(values: FloatArray, target: evaluate.Target, threshold: float | None) -> tuple[evaluate.Scored, FloatArray]:
    """Every row once per class, weighted by the class's probability: the confusion CBPE expects."""
    if target.task == "binary":
        truth = np.r_[np.ones(values.size), np.zeros(values.size)]
        stacked, weights = np.r_[values, values], np.r_[values, 1.0 - values]
    else:
        proba = values / values.sum(axis=1, keepdims=True)
        k = proba.shape[1]
        truth = np.repeat(np.arange(k, dtype=np.float64), proba.shape[0])
        stacked, weights = np.tile(proba, (k, 1)), proba.T.ravel()
    predicted = evaluate.predict_labels(stacked, target.task, threshold)
    return evaluate.Scored(target.task, target.labels, truth, stacked, predicted, True, threshold), weights


def estimated(values: FloatArray, target: evaluate.Target, threshold: float | None) -> dict[str, float]:
    """CBPE: every metric's expected value if the probabilities are calibrated (classifiers only)."""
    if values.shape[0] == 0:
        return {}
    scored, weights = expected_rows(values, target, threshold)
    return {name: float(v[0]) for name, v in evaluate.metric_values(scored, weights[None, :]).items()}


def chunk_label(current: Current, rows: npt.NDArray[np.int64]) -> str:
    """A chunk's time span, or its row range when the data has no times."""
    if current.times is None:
        return f"rows {rows[0] + 1:,}–{rows[-1] + 1:,}"
    start, end = current.times.iloc[rows[0]], current.times.iloc[rows[-1]]
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def performance_row(label: str, rows: npt.NDArray[np.int64], context: Scoring, params: MonitorParams, seed: int) -> dict[str, Any]:
    """One chunk's rows, labelled rows, realized metric with interval, and CBPE estimate."""
    values, labels = context.values[rows], context.current.labels.iloc[rows].reset_index(drop=True)
    scored = labelled(values, labels, context.target, context.probabilistic, context.threshold)
    row: dict[str, Any] = {"chunk": label, "rows": int(rows.size), "labelled": 0 if scored is None else scored.n_rows,
                           "realized": np.nan, "low": np.nan, "high": np.nan, "estimated": np.nan}
    if scored is not None and scored.n_rows >= params.min_rows:
        interval = realized(scored, context.metric, params, seed)
        row.update(realized=interval.value, low=interval.low, high=interval.high)
    if context.probabilistic and context.target.task != "regression":
        row["estimated"] = estimated(values, context.target, context.threshold).get(context.metric, np.nan)
    return row


@dataclass(frozen=True)
class Scoring:
    """The current data with the model's scores on it, and how to read them."""

    current: Current
    values: FloatArray
    probabilistic: bool
    target: evaluate.Target
    threshold: float | None
    metric: str


def performance(context: Scoring, params: MonitorParams, seed: int) -> pd.DataFrame:
    """The metric per chunk (time order) and over all rows: realized where labelled, estimated by CBPE."""
    parts = [p for p in np.array_split(np.arange(context.current.rows), min(params.chunks, context.current.rows)) if p.size]
    rows = [performance_row(chunk_label(context.current, p), p, context, params, seed) for p in parts]
    rows.append(performance_row("all", np.arange(context.current.rows), context, params, seed))
    return pd.DataFrame(rows).set_index("chunk")


# --- decay and verdict -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decay:
    """How the deciding metric compares with its expected value, and what that means."""

    metric: str
    basis: Literal["realized", "estimated", "none"]
    value: float | None
    low: float | None
    high: float | None
    expected: evaluate.Interval | None
    change: float | None  # relative, in the metric's better direction: negative = worse
    status: Status
    reason: str


def relative_change(value: float, expected: float, metric: str) -> float:
    """(value − expected) / |expected|, sign flipped for lower-is-better metrics: negative means worse."""
    sign = -1.0 if metric in evaluate.LOWER_IS_BETTER else 1.0
    return sign * (value - expected) / max(abs(expected), 1e-12)


def significantly_worse(low: float, high: float, expected: evaluate.Interval, metric: str) -> bool:
    """Whether the realized interval lies wholly on the worse side of the expected interval."""
    if metric in evaluate.LOWER_IS_BETTER:
        return low > expected.high
    return high < expected.low


def realized_decay(metric: str, row: pd.Series, expected: evaluate.Interval, params: MonitorParams) -> Decay:
    """Decay judged on labels: RETRAIN only when the loss passes the tolerance and lies beyond both intervals."""
    value, low, high = float(row["realized"]), float(row["low"]), float(row["high"])
    change = relative_change(value, expected.value, metric)
    worse, beyond = change <= -params.decay_tolerance, significantly_worse(low, high, expected, metric)
    said = (f"{metric} {evaluate.format_value(value)} [{evaluate.format_value(low)}, {evaluate.format_value(high)}] "
            f"on {int(row['labelled']):,} labelled rows vs the expected {expected}")
    if worse and beyond:
        return Decay(metric, "realized", value, low, high, expected, change, "RETRAIN",
                     f"Performance decayed: {said}, {abs(change):.0%} worse (tolerance {params.decay_tolerance:.0%}).")
    if worse:
        return Decay(metric, "realized", value, low, high, expected, change, "WARN",
                     f"Performance may have decayed: {said}, {abs(change):.0%} worse, but too few labels to be sure.")
    if beyond:
        return Decay(metric, "realized", value, low, high, expected, change, "WARN",
                     f"Performance slipped: {said}, significantly worse but within the {params.decay_tolerance:.0%} tolerance.")
    return Decay(metric, "realized", value, low, high, expected, change, "OK", f"Performance holds: {said}.")


def estimated_decay(metric: str, value: float, expected: evaluate.Interval, params: MonitorParams) -> Decay:
    """Decay judged by CBPE (no labels): at most a warning, since the estimate cannot see concept drift."""
    change = relative_change(value, expected.value, metric)
    said = f"estimated {metric} {evaluate.format_value(value)} (CBPE, no labels) vs the expected {expected}"
    if change <= -params.decay_tolerance:
        return Decay(metric, "estimated", value, None, None, expected, change, "WARN",
                     f"Performance may have decayed: {said}, {abs(change):.0%} worse; collect labels to confirm.")
    return Decay(metric, "estimated", value, None, None, expected, change, "OK", f"Performance likely holds: {said}.")


def decay(metric: str, table: pd.DataFrame, expected: evaluate.Interval | None, params: MonitorParams) -> Decay:
    """Judge the metric over all current rows: realized if labelled enough, else estimated, else unknown."""
    overall = table.iloc[-1]  # the "all" row
    if expected is None:
        return Decay(metric, "none", None, None, None, None, None, "OK",
                     f"No expected {metric} is recorded for this model, so decay cannot be judged.")
    if np.isfinite(overall["realized"]):
        return realized_decay(metric, overall, expected, params)
    if np.isfinite(overall["estimated"]):
        return estimated_decay(metric, float(overall.loc["estimated"]), expected, params)
    return Decay(metric, "none", None, None, None, expected, None, "OK",
                 f"Performance is unknown: fewer than {params.min_rows} labelled rows and no probabilities to estimate {metric} from.")


@dataclass(frozen=True)
class Verdict:
    """OK, WARN or RETRAIN, with one sentence per reason, the most serious first."""

    status: Status
    reasons: tuple[str, ...]


def names(columns: Sequence[str]) -> str:
    """'a, b, c +2 more'."""
    return preprocess.short_list(list(columns), SHOWN_NAMES)


def drift_reason(dataset: drift.DatasetDrift) -> tuple[Status, str]:
    """The dataset-level drift rule as a status and one sentence."""
    how = {"test": "significance tests with BH correction", "effect": "effect sizes"}.get(dataset.method, "tests and effect sizes")
    if dataset.detected:
        return "RETRAIN", (f"{dataset.drifted} of {dataset.columns} features drifted ({names(dataset.names)}): "
                           f"{dataset.share:.0%}, at least the {dataset.threshold:.0%} that means the data changed.")
    if dataset.drifted:
        return "WARN", (f"{dataset.drifted} of {dataset.columns} features drifted ({names(dataset.names)}), "
                        f"below the {dataset.threshold:.0%} that means the data changed.")
    return "OK", f"No feature drifted ({dataset.columns} checked by {how})."


def verdict(dataset: drift.DatasetDrift, prediction: pd.Series, found: Decay, rows: int, params: MonitorParams) -> Verdict:
    """Combine drift, prediction drift, decay and sample size into OK / WARN / RETRAIN."""
    reasons: list[tuple[Status, str]] = [drift_reason(dataset)]
    if prediction["drifted"]:
        reasons.append(("WARN", f"The model's predictions drifted ({prediction['why']})."))
    reasons.append((found.status, found.reason))
    if rows < params.min_rows:
        reasons.append(("WARN", f"Only {rows} current rows: too few to judge reliably (monitor.min_rows is {params.min_rows})."))
    reasons.sort(key=lambda item: -LEVELS[item[0]])
    status = reasons[0][0]
    return Verdict(status, tuple(text for _, text in reasons))


# --- the whole assessment --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """Everything the monitor stage found."""

    model: str
    reference_source: str
    reference_profile: dict[str, drift.Summary]
    current_profile: dict[str, drift.Summary]
    scoring: Scoring
    reference_output: Any
    current_output: Any
    output_kind: drift.Kind
    table: pd.DataFrame
    dataset: drift.DatasetDrift
    prediction: pd.Series
    performance: pd.DataFrame
    decay: Decay
    verdict: Verdict


def assess(params: MonitorParams, store: io.Artifacts, seed: int) -> Assessment:
    """Load the model, reference and current data; compute drift, performance, decay and the verdict."""
    model, runs = load_model(params, store)
    reference, reference_source = read_reference(params, model, runs)
    current = read_current(params, model, runs)
    numeric, categorical = features(model.contract)
    reference_profile, current_profile = drift.profile(reference, numeric, categorical), drift.profile(current.frame, numeric, categorical)
    table = drift.compare(reference_profile, current_profile, params)
    held_out = run_split(runs, "test.parquet", model) if params.reference is None else reference
    values, probabilistic = scores(model, current.frame)
    reference_output, kind, label = prediction_output(scores(model, held_out)[0], model, probabilistic)
    current_output, _, _ = prediction_output(values, model, probabilistic)
    prediction = drift.prediction_drift(reference_output, current_output, kind, label, params)
    metric = deciding_metric(params, model)
    scoring = Scoring(current, values, probabilistic, target_of(model), threshold_of(model, probabilistic), metric)
    table_perf = performance(scoring, params, seed)
    found = decay(metric, table_perf, expected_metric(model, metric), params)
    dataset = drift.dataset_drift(table, params)
    return Assessment(model.entry.ref, reference_source, reference_profile, current_profile, scoring, reference_output,
                      current_output, kind, table, dataset, prediction, table_perf, found,
                      verdict(dataset, prediction, found, current.rows, params))


# --- tables for the notebook -------------------------------------------------------------------------------------


def verdict_markdown(result: Assessment) -> str:
    """The verdict in bold, then one bullet per reason (Markdown, so no sentence is cut short)."""
    bullets = "\n".join(f"- {reason}" for reason in result.verdict.reasons)
    return f"### Verdict: **{result.verdict.status}**\n\n{bullets}\n"


def sources_table(result: Assessment) -> pd.Series:
    """What was compared: the model (its name: the version is in monitor.json), the reference, the current data."""
    current = result.scoring.current
    rows = {
        "model": result.model.split("@")[0], "reference": result.reference_source, "current": current.source,
        "current rows": f"{current.rows:,}", "labelled rows": f"{current.labelled:,}",
        "deciding metric": result.decay.metric,
    }
    if current.note:
        rows["note"] = current.note
    return pd.Series(rows, name="value")


def display_table(table: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """The drift table for people: rounded, the columns that matter, largest effect first."""
    shown = table[["column", "kind", "method", "effect", "effect_name", "psi", "psi_band", "ks", "p_adjusted"]].copy()
    shown["missing"] = [f"{a:.0%} → {b:.0%}" for a, b in zip(table["missing_reference"], table["missing_current"], strict=True)]
    shown["drifted"] = table["drifted"].map({True: "yes", False: ""})
    shown["why"] = table["why"]
    names = {"effect_name": "measure", "psi_band": "PSI band", "psi": "PSI", "ks": "KS", "p_adjusted": "p (BH)"}
    return shown.rename(columns=names).set_index("column").round(decimals)


def performance_table(result: Assessment, decimals: int = 3) -> pd.DataFrame:
    """The metric per chunk, rounded, with the expected value beside it."""
    table = result.performance.copy()
    expected = result.decay.expected
    table["expected"] = np.nan if expected is None else expected.value
    return table.round(decimals)


# --- plots -----------------------------------------------------------------------------------------------------------


def _grid(panels: int, columns: int = 3, size: tuple[float, float] = (3.4, 2.6)) -> tuple[Figure, list[Axes]]:
    rows = max(1, -(-panels // columns))
    width = min(columns, max(panels, 1))
    figure = Figure(figsize=(size[0] * width, size[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, width, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.set_visible(False)
    return figure, axes


def plot_numeric(ax: Axes, name: str, reference: drift.NumericSummary, current: drift.NumericSummary) -> None:
    """Reference and current densities of a numeric column on shared bins (1st–99th percentiles)."""
    both = np.r_[reference.values, current.values]
    if both.size == 0:
        ax.set_title(f"{name}: no values")
        return
    low, high = np.quantile(both, [0.01, 0.99])
    bins = np.linspace(low, high if high > low else low + 1.0, 31)
    for summary, label, color in ((reference, "reference", "C0"), (current, "current", "C3")):
        ax.hist(np.clip(summary.values, bins[0], bins[-1]), bins=bins.tolist(), density=True, histtype="step", color=color, label=label)
    ax.set(title=name, ylabel="density")


def plot_categorical(ax: Axes, name: str, reference: drift.CategoricalSummary, current: drift.CategoricalSummary, top: int = 8) -> None:
    """Reference and current shares of a categorical column's most frequent levels."""
    ref, cur, levels = drift.aligned_counts(reference, current)
    shares = pd.DataFrame({"reference": drift.shares(ref), "current": drift.shares(cur)}, index=levels)
    shares = shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:top]]
    positions = np.arange(len(shares))
    ax.barh(positions - 0.2, shares["reference"], height=0.4, color="C0", label="reference")
    ax.barh(positions + 0.2, shares["current"], height=0.4, color="C3", label="current")
    ax.set_yticks(positions, [str(level)[:18] for level in shares.index])
    ax.invert_yaxis()
    ax.set(title=name, xlabel="share of rows")


def plot_drifted(result: Assessment, limit: int = PLOTTED) -> Figure:
    """Reference vs current for the drifted features (the largest effects first; all features if none drifted)."""
    table = result.table
    chosen = list(table.loc[table["drifted"], "column"][:limit]) or list(table["column"][: min(3, len(table))])
    figure, axes = _grid(len(chosen))
    for ax, name in zip(axes, chosen, strict=False):
        ref, cur = result.reference_profile[name], result.current_profile[name]
        if isinstance(ref, drift.NumericSummary) and isinstance(cur, drift.NumericSummary):
            plot_numeric(ax, name, ref, cur)
        elif isinstance(ref, drift.CategoricalSummary) and isinstance(cur, drift.CategoricalSummary):
            plot_categorical(ax, name, ref, cur)
    axes[0].legend(fontsize="small")
    return figure


def plot_prediction(result: Assessment) -> Figure:
    """The model's outputs on the reference (held-out split) and on the current data."""
    figure = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = figure.subplots()
    name = str(result.prediction["column"])
    if result.output_kind == "numeric":
        plot_numeric(ax, name, drift.summarize_numeric(result.reference_output), drift.summarize_numeric(result.current_output))
    else:
        plot_categorical(ax, name, drift.summarize_categorical(result.reference_output), drift.summarize_categorical(result.current_output))
    row = result.prediction
    verdict = f"drifted: {row['why']}" if row["drifted"] else "no drift"
    ax.set_title(f"{name} — {row['effect_name']} {row['effect']:.3f}, PSI {row['psi']:.3f}; {verdict}", fontsize="small")
    ax.legend(fontsize="small")
    return figure


def plot_performance(result: Assessment, tolerance: float) -> Figure:
    """The metric per chunk: realized with its interval, the CBPE estimate, the expected value and tolerance band."""
    table = result.performance.drop(index="all")
    figure = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(table))
    if table["realized"].notna().any():
        ax.errorbar(x, table["realized"], yerr=[table["realized"] - table["low"], table["high"] - table["realized"]],
                    fmt="o-", color="C0", capsize=3, label="realized (labels)")
    if table["estimated"].notna().any():
        ax.plot(x, table["estimated"], "s--", color="C1", label="estimated (CBPE)")
    expected = result.decay.expected
    if expected is not None:
        sign = -1.0 if result.decay.metric in evaluate.LOWER_IS_BETTER else 1.0
        ax.axhline(expected.value, color="0.3", lw=1, label="expected (test split)")
        ax.axhspan(expected.value, expected.value * (1 - sign * tolerance), color="0.85", label=f"{tolerance:.0%} tolerance")
    ax.set_xticks(x, list(table.index), rotation=30, ha="right", fontsize="small")
    ax.set(ylabel=result.decay.metric, title=f"{result.decay.metric} over time")
    ax.legend(fontsize="small")
    return figure


# --- the artifact ---------------------------------------------------------------------------------------------------


def json_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts (NaN as None)."""
    return [{str(k): (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in table.to_dict("records")]


def headline(result: Assessment) -> dict[str, str]:
    """The index page's headline; its keys sort with the verdict first (the artifact's keys are sorted)."""
    found, dataset, current = result.decay, result.dataset, result.scoring.current
    performance = "unknown" if found.value is None else f"{found.metric} {evaluate.format_value(found.value)} ({found.basis})"
    if found.expected is not None and found.value is not None:
        performance += f" vs {evaluate.format_value(found.expected.value)}"
    return {
        "verdict": result.verdict.status,
        "vs expected": performance,
        "vs reference": f"{dataset.drifted} of {dataset.columns} features drifted",
        "window": f"{current.rows:,} rows, {current.labelled:,} labelled",
    }


def record(result: Assessment, params: MonitorParams) -> dict[str, Any]:
    """The content of monitor.json: verdict and reasons first, then drift, performance and sources."""
    found, dataset, current = result.decay, result.dataset, result.scoring.current
    return {
        "verdict": result.verdict.status,
        "reasons": list(result.verdict.reasons),
        "model": result.model,
        "reference": result.reference_source,
        "current": {"source": current.source, "rows": current.rows, "labelled": current.labelled, "note": current.note},
        "drift": {
            "columns": dataset.columns, "drifted": list(dataset.names), "share": round(dataset.share, 4),
            "rule": f"at least {dataset.threshold:.0%} of the columns", "method": dataset.method,
            "table": json_records(result.table.round(6)),
        },
        "prediction_drift": json_records(result.prediction.to_frame().T.round(6))[0],
        "performance": {
            "metric": found.metric, "basis": found.basis, "value": found.value, "low": found.low, "high": found.high,
            "expected": None if found.expected is None else vars(found.expected), "change": found.change,
            "status": found.status, "assumption": CBPE_ASSUMPTION if found.basis == "estimated" else None,
            "chunks": json_records(result.performance.reset_index().round(6)),
        },
        "params": params.model_dump(mode="json"),
        "headline": headline(result),
    }


def headline_table(result: Assessment) -> pd.DataFrame:
    """The headline as a one-column table, for the notebook."""
    return pd.Series(headline(result), name="value").to_frame()
