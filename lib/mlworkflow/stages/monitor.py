"""Stage `monitor`: drift of the deployed model's inputs and predictions, its performance, and a verdict.

The reference is the training split of the run that produced the monitored registry version
(or a file); the current data is a batch file, a time window of the service's prediction log, or
the run's held-out test split. Drift comes from `mlworkflow.core.drift`; performance is realized where
labels exist (feedback in the log, or the target column of a batch) and estimated from the
probabilities where they do not (CBPE); the verdict OK / WARN / RETRAIN gives one sentence per reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlworkflow.bundle.contract import Contract
from mlworkflow.bundle.registry import LoadedModel
from mlworkflow.core import bootstrap, drift, metrics, scoring
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.features import as_text, replace_markers, short_list
from mlworkflow.core.metrics import format_value
from mlworkflow.core.names import metric_label
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target, threshold_or_default
from mlworkflow.errors import DataError
from mlworkflow.params import MonitorParams
from mlworkflow.records import MonitorRecord

FloatArray = npt.NDArray[np.float64]
Status = Literal["OK", "WARN", "RETRAIN"]
LEVELS: dict[str, int] = {"OK": 0, "WARN": 1, "RETRAIN": 2}
CBPE_ASSUMPTION = (
    "Estimated without labels by confidence-based performance estimation (CBPE): it assumes the model's "
    "probabilities are calibrated and that only the inputs shifted (no concept drift: the chance of each label "
    "given the inputs is unchanged); a change in that relation is invisible to it."
)
SHOWN_NAMES = 4


# --- the monitored model's inputs ------------------------------------------------------------------------


def features(contract: Contract) -> tuple[list[str], list[str]]:
    """The model's numeric and categorical inputs, from its contract (timestamps and free text are neither: no drift test).

    Free text has no levels to compare: every message is new, so a category test would always see drift.
    """
    numeric = [c.name for c in contract.columns if c.kind != "string"]
    return numeric, [c.name for c in contract.columns if c.kind == "string" and not c.timestamp and not c.free_text]


def clean(frame: pd.DataFrame, contract: Contract, markers: Sequence[str], keep: Sequence[str] = ()) -> pd.DataFrame:
    """The contract's columns (and `keep`), missing markers as NaN, numbers parsed, categories as text."""
    names = list(contract.names)
    absent = [name for name in names if name not in frame.columns]
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise DataError(f"is an input of the model but not a column of the current data{more}", absent[0])
    kept = [name for name in keep if name in frame.columns and name not in names]
    out = replace_markers(frame[names + kept], markers, kept)
    numeric, categorical = features(contract)
    for name in numeric:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(np.float64)
    if categorical:
        out[categorical] = as_text(out[categorical])
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
    labels = replace_markers(frame[[target]], markers)[target].reset_index(drop=True)
    present = labels.dropna()
    if pd.api.types.is_float_dtype(labels.dtype) and bool((present == present.round()).all()):
        labels = labels.astype("Int64").astype(object)  # 0/1 read as 0.0/1.0 (a gap in the column) are classes '0'/'1'
    return labels


@dataclass(frozen=True)
class Inputs:
    """What is monitored, resolved before assessing: the model, its reference rows and the current rows."""

    model: LoadedModel
    reference: pd.DataFrame
    reference_source: str
    held_out: pd.DataFrame  # the reference of prediction drift: the run's test split, else the reference rows
    current: Current


# --- scores --------------------------------------------------------------------------------------------------


def target_of(model: LoadedModel) -> Target:
    """What the model predicts (task, classes, positive class), from its metadata."""
    return model.metadata.predicted_target


def threshold_of(model: LoadedModel, probabilistic: bool) -> float | None:
    """The binary decision threshold the service uses (0.5 for probabilities, 0 for margins, when unset)."""
    return threshold_or_default(model.metadata.task, model.metadata.threshold, probabilistic)


def scores(model: LoadedModel, frame: pd.DataFrame) -> tuple[FloatArray, bool]:
    """The model's scores (positive-class probability, class matrix, or values) and whether they are probabilities."""
    return scoring.model_scores(model.pipeline, frame[list(model.contract.names)], target_of(model))


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
    task = target_of(model).task
    if metrics.deciding_metric(task, [params.metric], for_evaluate=True).source == "fallback":
        raise DataError(f"metric '{params.metric}' does not apply to a {task} model", source="monitor.metric")
    return metrics.deciding_metric(task, [params.metric, model.metadata.metric], for_evaluate=True).metric.name


def expected_metric(model: LoadedModel, metric: str) -> Interval | None:
    """The metric on the held-out test split when the model was evaluated, with its interval."""
    entry = model.metadata.metrics.get(metric)  # None: the model was not evaluated on this metric
    if entry is None or entry.value is None:
        return None
    value, low, high = entry.value, entry.low, entry.high
    return Interval(value, value if low is None else low, value if high is None else high)


def labelled(values: FloatArray, labels: pd.Series, target: Target, probabilistic: bool,
             threshold: float | None) -> Scored | None:
    """The rows with a true label as a Scored (None when there are none)."""
    known = labels.notna().to_numpy()
    if not known.any():
        return None
    return scoring.from_scores(values[known], labels[known], target, probabilistic, threshold)


def realized(scored: Scored, metric: str, params: MonitorParams, seed: int) -> Interval:
    """The metric on labelled rows, with a bootstrap percentile interval."""
    return bootstrap.metric_interval(scored, metric, params.bootstrap, params.confidence, seed)


def expected_rows(values: FloatArray, target: Target, threshold: float | None) -> tuple[Scored, FloatArray]:
    """Every row once per class, weighted by the class's probability: the confusion CBPE expects."""
    if target.task == "binary":
        truth = np.r_[np.ones(values.size), np.zeros(values.size)]
        stacked, weights = np.r_[values, values], np.r_[values, 1.0 - values]
    else:
        proba = values / values.sum(axis=1, keepdims=True)
        k = proba.shape[1]
        truth = np.repeat(np.arange(k, dtype=np.float64), proba.shape[0])
        stacked, weights = np.tile(proba, (k, 1)), proba.T.ravel()
    predicted = scoring.predict_labels(stacked, target.task, threshold)
    return Scored(target.task, target.labels, truth, stacked, predicted, True, threshold), weights


def estimated(values: FloatArray, target: Target, threshold: float | None) -> dict[str, float]:
    """CBPE: every metric's expected value if the probabilities are calibrated (classifiers only)."""
    if values.shape[0] == 0:
        return {}
    scored, weights = expected_rows(values, target, threshold)
    return {name: float(v[0]) for name, v in scoring.metric_values(scored, weights[None, :]).items()}


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
    target: Target
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
    expected: Interval | None
    change: float | None  # relative, in the metric's better direction: negative = worse
    status: Status
    reason: str


def relative_change(value: float, expected: float, metric: str) -> float:
    """(value − expected) / |expected|, sign flipped for lower-is-better metrics: negative means worse."""
    sign = metrics.sign(metric)
    return sign * (value - expected) / max(abs(expected), 1e-12)


def significantly_worse(low: float, high: float, expected: Interval, metric: str) -> bool:
    """Whether the realized interval lies wholly on the worse side of the expected interval."""
    if metrics.lower_is_better(metric):
        return low > expected.high
    return high < expected.low


def realized_decay(metric: str, row: pd.Series, expected: Interval, params: MonitorParams) -> Decay:
    """Decay judged on labels: RETRAIN only when the loss passes the tolerance and lies beyond both intervals."""
    value, low, high = float(row["realized"]), float(row["low"]), float(row["high"])
    change = relative_change(value, expected.value, metric)
    worse, beyond = change <= -params.decay_tolerance, significantly_worse(low, high, expected, metric)
    said = (f"{metric_label(metric)} {format_value(value)} [{format_value(low)}, {format_value(high)}] "
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


def estimated_decay(metric: str, value: float, expected: Interval, params: MonitorParams) -> Decay:
    """Decay judged by CBPE (no labels): at most a warning, since the estimate cannot see concept drift."""
    change = relative_change(value, expected.value, metric)
    said = f"estimated {metric_label(metric)} {format_value(value)} (CBPE, no labels) vs the expected {expected}"
    if change <= -params.decay_tolerance:
        return Decay(metric, "estimated", value, None, None, expected, change, "WARN",
                     f"Performance may have decayed: {said}, {abs(change):.0%} worse; collect labels to confirm.")
    return Decay(metric, "estimated", value, None, None, expected, change, "OK", f"Performance likely holds: {said}.")


def unjudged_estimate(metric: str, value: float, expected: Interval, rows: int) -> Decay:
    """A CBPE estimate on too few rows: shown, but not compared with the expected value (it would be noise)."""
    return Decay(metric, "estimated", value, None, None, expected, None, "OK",
                 f"Estimated {metric_label(metric)} {format_value(value)} (CBPE) on {rows:,} row(s) is not compared with "
                 f"the expected {expected}: too few rows for the estimate to mean anything.")


def decay(metric: str, table: pd.DataFrame, expected: Interval | None, params: MonitorParams) -> Decay:
    """Judge the metric over all current rows: realized if labelled enough, else estimated, else unknown."""
    overall = table.iloc[-1]  # the "all" row
    if expected is None:
        return Decay(metric, "none", None, None, None, None, None, "OK",
                     f"No expected {metric_label(metric)} is recorded for this model, so decay cannot be judged.")
    if np.isfinite(overall["realized"]):
        return realized_decay(metric, overall, expected, params)
    if np.isfinite(overall["estimated"]):
        rows = int(overall.get("rows", params.min_rows))
        if rows < params.min_rows:
            return unjudged_estimate(metric, float(overall.loc["estimated"]), expected, rows)
        return estimated_decay(metric, float(overall.loc["estimated"]), expected, params)
    return Decay(metric, "none", None, None, None, expected, None, "OK",
                 f"Performance is unknown: fewer than {params.min_rows} labelled rows and no probabilities to estimate "
                 f"{metric_label(metric)} from.")


@dataclass(frozen=True)
class Verdict:
    """OK, WARN or RETRAIN, with one sentence per reason, the most serious first."""

    status: Status
    reasons: tuple[str, ...]


def names(columns: Sequence[str]) -> str:
    """'a, b, c +2 more'."""
    return short_list(list(columns), SHOWN_NAMES)


def drift_reason(dataset: drift.DatasetDrift) -> tuple[Status, str]:
    """The dataset-level drift rule as a status and one sentence."""
    how = {"test": "significance tests corrected for testing many features at once", "effect": "effect sizes"}.get(
        dataset.method, "tests and effect sizes")
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
    reasons.sort(key=lambda item: -LEVELS[item[0]])
    if rows < params.min_rows:  # said first: every figure after it rests on too few rows to act on
        return Verdict("WARN", (too_few(rows, params), *(text for _, text in reasons)))
    return Verdict(reasons[0][0], tuple(text for _, text in reasons))


def too_few(rows: int, params: MonitorParams) -> str:
    """The sentence that leads a verdict on fewer than `min_rows` current rows."""
    return (f"Too few rows to judge: only {rows:,} current row(s), fewer than the {params.min_rows:,} of monitor.min_rows; "
            "the findings below are not reliable enough to act on. Collect more rows (a longer window) and monitor again.")


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

    @property
    def current(self) -> Current:
        """The current rows that were assessed."""
        return self.scoring.current

    @property
    def metric(self) -> str:
        """The deciding metric."""
        return self.decay.metric


@dataclass(frozen=True)
class Empty:
    """A current window without rows: nothing to measure; the verdict says so and what to do."""

    model: str
    reference_source: str
    current: Current
    metric: str
    expected: Interval | None
    features: int
    verdict: Verdict


def empty(inputs: Inputs, params: MonitorParams) -> Empty:
    """The assessment of a window without rows: a warning that names the source and what to do, no figures."""
    current, metric = inputs.current, deciding_metric(params, inputs.model)
    reason = f"No rows to judge: {current.source} holds no rows for {inputs.model.entry.ref}."
    if current.note:
        reason += f" {current.note[:1].upper()}{current.note[1:]}."
    numeric, categorical = features(inputs.model.contract)
    return Empty(inputs.model.entry.ref, inputs.reference_source, current, metric,
                 expected_metric(inputs.model, metric), len(numeric) + len(categorical), Verdict("WARN", (reason,)))


def drift_settings(params: MonitorParams) -> drift.DriftSettings:
    """The drift thresholds of the monitor params."""
    names = {field.name for field in dataclasses.fields(drift.DriftSettings)}
    return drift.DriftSettings(**params.model_dump(include=names))


def assess(params: MonitorParams, inputs: Inputs, seed: int) -> Assessment | Empty:
    """Compute drift, performance, decay and the verdict of resolved inputs (`monitor_sources.resolve`);
    a window without rows is an `Empty` assessment, not an error."""
    if inputs.current.rows == 0:
        return empty(inputs, params)
    model, reference, current, held_out = inputs.model, inputs.reference, inputs.current, inputs.held_out
    numeric, categorical = features(model.contract)
    reference_profile, current_profile = drift.profile(reference, numeric, categorical), drift.profile(current.frame, numeric, categorical)
    table = drift.compare(reference_profile, current_profile, drift_settings(params))
    values, probabilistic = scores(model, current.frame)
    reference_output, kind, label = prediction_output(scores(model, held_out)[0], model, probabilistic)
    current_output, _, _ = prediction_output(values, model, probabilistic)
    prediction = drift.prediction_drift(reference_output, current_output, kind, label, drift_settings(params))
    metric = deciding_metric(params, model)
    scoring = Scoring(current, values, probabilistic, target_of(model), threshold_of(model, probabilistic), metric)
    table_perf = performance(scoring, params, seed)
    found = decay(metric, table_perf, expected_metric(model, metric), params)
    dataset = drift.dataset_drift(table, drift_settings(params))
    return Assessment(model.entry.ref, inputs.reference_source, reference_profile, current_profile, scoring, reference_output,
                      current_output, kind, table, dataset, prediction, table_perf, found,
                      verdict(dataset, prediction, found, current.rows, params))


# --- the artifact ---------------------------------------------------------------------------------------------------


def json_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts (NaN as None)."""
    return [{str(k): (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in table.to_dict("records")]


def headline(result: Assessment | Empty) -> dict[str, str]:
    """The index page's headline; its keys sort with the verdict first (the artifact's keys are sorted)."""
    if isinstance(result, Empty):
        unmeasured = "not measured: no rows in the window"
        return {"verdict": result.verdict.status, "vs expected": unmeasured, "vs reference": unmeasured, "window": "0 rows"}
    found, dataset, current = result.decay, result.dataset, result.scoring.current
    performance = "unknown" if found.value is None else f"{metric_label(found.metric)} {format_value(found.value)} ({found.basis})"
    if found.expected is not None and found.value is not None:
        judged = found.basis != "estimated" or found.change is not None  # an estimate on too few rows is not
        performance += f" vs {format_value(found.expected.value)}" + ("" if judged else ", too few rows to judge")
    return {
        "verdict": result.verdict.status,
        "vs expected": performance,
        "vs reference": f"{dataset.drifted} of {dataset.columns} features drifted",
        "window": f"{current.rows:,} rows, {current.labelled:,} labelled",
    }


def empty_record(result: Empty, params: MonitorParams) -> MonitorRecord:
    """monitor.json of a window without rows: the warning, the sources, no drift and no performance."""
    current = result.current
    return MonitorRecord.model_validate({
        "verdict": result.verdict.status, "reasons": list(result.verdict.reasons), "model": result.model,
        "reference": result.reference_source,
        "current": {"source": current.source, "rows": 0, "labelled": 0, "note": current.note},
        "drift": {"columns": result.features, "drifted": [], "share": 0.0, "rule": "not measured: no rows",
                  "method": "none", "table": []},
        "prediction_drift": {},
        "performance": {"metric": result.metric, "basis": "none", "value": None, "low": None, "high": None,
                        "expected": None if result.expected is None else vars(result.expected), "change": None,
                        "status": "OK", "assumption": None, "chunks": []},
        "params": params.model_dump(mode="json"),
        "headline": headline(result),
    })


def record(result: Assessment | Empty, params: MonitorParams) -> MonitorRecord:
    """The content of monitor.json: verdict and reasons first, then drift, performance and sources."""
    if isinstance(result, Empty):
        return empty_record(result, params)
    found, dataset, current = result.decay, result.dataset, result.scoring.current
    return MonitorRecord.model_validate({
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
    })
