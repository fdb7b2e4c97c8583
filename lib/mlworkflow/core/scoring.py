"""Scoring a model on a labelled set: scores in one shape for every task, and every metric, weighted.

Every metric is computed from a (n_resamples, n_rows) weight matrix of bootstrap counts, so one
implementation gives the point estimate (weights of ones) and all resamples at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlworkflow.core import metrics
from mlworkflow.core.target import PROBABILITY_THRESHOLD, Target, threshold_or_default
from mlworkflow.errors import DataError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Scored:
    """A model's output on a labelled set, in one shape for every task."""

    task: str
    labels: tuple[str, ...]
    truth: FloatArray  # binary: 1.0 = positive; multiclass: class code; regression: values
    scores: FloatArray  # binary: score of the positive class; multiclass: (n, k); regression: predictions
    predicted: FloatArray  # class codes at the threshold (argmax for multiclass), or predictions
    probabilistic: bool
    threshold: float | None

    @property
    def n_rows(self) -> int:
        """Number of rows scored."""
        return int(self.truth.size)


def split_xy(frame: pd.DataFrame, target: Target) -> tuple[pd.DataFrame, pd.Series]:
    """Split a train/test frame into features and target."""
    if target.name not in frame.columns:
        raise DataError("target column not in the frame", column=target.name)
    return frame.drop(columns=[target.name]), frame[target.name]


def encode_target(y: pd.Series, target: Target) -> FloatArray:
    """Target values as floats: class codes in `target.labels` order, or the values themselves."""
    if target.task == "regression":
        return np.asarray(y, dtype=np.float64)
    codes = {label: float(code) for code, label in enumerate(target.labels)}
    text = [str(value) for value in y]
    unknown = sorted(set(text) - set(codes))
    if unknown:
        raise DataError(f"labels {unknown} are not among the classes {list(target.labels)}", column=target.name)
    return np.array([codes[value] for value in text], dtype=np.float64)


def model_scores(estimator: Any, X: pd.DataFrame, target: Target) -> tuple[FloatArray, bool]:
    """Scores aligned with `target.labels` and whether they are probabilities."""
    if target.task == "regression":
        return np.asarray(estimator.predict(X), dtype=np.float64), False
    probabilistic = hasattr(estimator, "predict_proba")
    raw = np.asarray(estimator.predict_proba(X) if probabilistic else estimator.decision_function(X), float)
    return align_scores(raw, [str(c) for c in estimator.classes_], target), probabilistic


def align_scores(raw: FloatArray, columns: Sequence[str], target: Target) -> FloatArray:
    """Reorder score columns from the estimator's class order to `target.labels`."""
    if raw.ndim == 1:  # binary decision_function: positive means columns[1]
        return raw if columns[1] == target.labels[1] else -raw
    missing = [label for label in target.labels if label not in columns]
    if missing:
        raise DataError(f"the model does not know the classes {missing}", column=target.name)
    matrix = raw[:, [list(columns).index(label) for label in target.labels]]
    return matrix[:, 1] if target.task == "binary" else matrix


def predict_labels(scores: FloatArray, task: str, threshold: float | None) -> FloatArray:
    """Class codes at a threshold (binary), by argmax (multiclass); regression passes through."""
    if task == "binary":
        return (scores >= (PROBABILITY_THRESHOLD if threshold is None else threshold)).astype(np.float64)
    if task == "multiclass":
        codes: FloatArray = np.argmax(scores, axis=1).astype(np.float64)
        return codes
    return scores


def score(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target, threshold: float | None = None) -> Scored:
    """Score an estimator on (X, y); binary labels use `threshold` (default 0.5, or 0 for margins)."""
    scores, probabilistic = model_scores(estimator, X, target)
    return from_scores(scores, y, target, probabilistic, threshold_or_default(target.task, threshold, probabilistic))


def from_scores(scores: FloatArray, y: pd.Series, target: Target, probabilistic: bool,
                threshold: float | None) -> Scored:
    """A Scored from scores already computed (as `model_scores` gives them) and the true labels."""
    predicted = predict_labels(scores, target.task, threshold)
    return Scored(target.task, target.labels, encode_target(y, target), scores, predicted, probabilistic, threshold)


def subset(scored: Scored, mask: BoolArray) -> Scored:
    """The rows of a Scored selected by a boolean mask."""
    return replace(scored, truth=scored.truth[mask], scores=scored.scores[mask], predicted=scored.predicted[mask])


def fit_baseline(X: pd.DataFrame, y: pd.Series, target: Target) -> Any:
    """A dummy baseline fitted on the training split: class prior, or the mean."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if target.task == "regression":
        return DummyRegressor(strategy="mean").fit(X, y)
    return DummyClassifier(strategy="prior").fit(X, y.astype(str))


# --- weighted metrics ---------------------------------------------------------------------------------


def divide(numerator: FloatArray, denominator: FloatArray, empty: float = 0.0) -> FloatArray:
    """numerator / denominator where the denominator is positive, else `empty`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), empty)


def _masked_mean(values: FloatArray, mask: BoolArray) -> FloatArray:
    return divide(np.where(mask, values, 0.0).sum(axis=1), mask.sum(axis=1).astype(np.float64), np.nan)


def _one_hot(codes: FloatArray, k: int) -> FloatArray:
    matrix = np.zeros((codes.size, k))
    matrix[np.arange(codes.size), codes.astype(np.int64)] = 1.0
    return matrix


def confusion_stack(weights: FloatArray, truth: FloatArray, predicted: FloatArray, k: int) -> FloatArray:
    """Weighted confusion matrices, shape (n_resamples, k, k): rows true, columns predicted."""
    return (weights @ _one_hot(truth * k + predicted, k * k)).reshape(-1, k, k)


def label_metrics(confusion: FloatArray, task: str) -> dict[str, FloatArray]:
    """Accuracy, balanced accuracy, precision, recall, F1 from confusion matrices."""
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    support, called = confusion.sum(axis=2), confusion.sum(axis=1)
    per_class = {
        "precision": divide(hits, called), "recall": divide(hits, support),
        "f1": divide(2 * hits, support + called),
    }
    values = {
        "accuracy": divide(hits.sum(axis=1), support.sum(axis=1), np.nan),
        "balanced_accuracy": _masked_mean(per_class["recall"], support > 0),
    }
    for name, per in per_class.items():
        if task == "binary":
            values[name] = per[:, 1]
            continue
        values[f"{name}_macro"] = _masked_mean(per, (support + called) > 0)
        values[f"{name}_weighted"] = divide((per * support).sum(axis=1), support.sum(axis=1), np.nan)
    return values


def _rowwise_dot(left: FloatArray, right: FloatArray) -> FloatArray:
    dot: FloatArray = np.einsum("ij,ij->i", left, right)
    return dot


def ranking_metrics(weights: FloatArray, positive: BoolArray, scores: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted ROC AUC (ties count half) and average precision, one value per weight row."""
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], positive[order]
    w = np.take(weights, order, axis=1)
    true_pos = np.cumsum(w * hits, axis=1)  # cumulative over rows, highest score first
    false_pos = np.cumsum(w, axis=1) - true_pos
    last = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])  # end of each tie group
    if last.size < ordered.size:
        true_pos, false_pos = true_pos[:, last], false_pos[:, last]
    pos = np.diff(true_pos, axis=1, prepend=0.0)
    neg = np.diff(false_pos, axis=1, prepend=0.0)
    n_pos, n_neg = true_pos[:, -1], false_pos[:, -1]
    beaten = n_pos * n_neg - _rowwise_dot(pos, false_pos) + 0.5 * _rowwise_dot(pos, neg)
    called = true_pos + false_pos
    precision = np.divide(true_pos, called, out=np.zeros_like(called), where=called > 0)
    return divide(beaten, n_pos * n_neg, np.nan), divide(_rowwise_dot(pos, precision), n_pos, np.nan)


def ranking_values(weights: FloatArray, scored: Scored) -> dict[str, FloatArray]:
    """ROC AUC and average precision: binary, or one-vs-rest macro and weighted for multiclass."""
    if scored.task == "binary":
        auc, ap = ranking_metrics(weights, scored.truth == 1, scored.scores)
        return {"roc_auc": auc, "average_precision": ap}
    per_class = [ranking_metrics(weights, scored.truth == c, scored.scores[:, c]) for c in range(len(scored.labels))]
    support = weights @ _one_hot(scored.truth, len(scored.labels))
    values = {}
    for index, name in ((0, "roc_auc_ovr"), (1, "average_precision")):
        matrix = np.stack([pair[index] for pair in per_class], axis=1)
        valid = np.isfinite(matrix)
        macro = name if name.endswith("ovr") else f"{name}_macro"
        values[macro] = _masked_mean(matrix, valid)
        weighted = np.where(valid, support, 0.0)
        values[f"{name}_weighted"] = divide((np.where(valid, matrix, 0.0) * weighted).sum(axis=1), weighted.sum(axis=1), np.nan)
    return values


def probability_rows(scored: Scored) -> dict[str, FloatArray]:
    """Per-row log-loss and Brier terms (Brier halved for binary, as scikit-learn does)."""
    eps = np.finfo(np.float64).eps
    if scored.task == "binary":
        p, y = np.clip(scored.scores, eps, 1 - eps), scored.truth
        return {"log_loss": -(y * np.log(p) + (1 - y) * np.log(1 - p)), "brier": (scored.scores - y) ** 2}
    proba = scored.scores / scored.scores.sum(axis=1, keepdims=True)
    truth = _one_hot(scored.truth, len(scored.labels))
    p_true = np.clip((proba * truth).sum(axis=1), eps, 1.0)
    return {"log_loss": -np.log(p_true), "brier": ((proba - truth) ** 2).sum(axis=1)}


def regression_values(weights: FloatArray, truth: FloatArray, predicted: FloatArray) -> dict[str, FloatArray]:
    """Weighted MAE, RMSE and R²."""
    error, centred = predicted - truth, truth - truth.mean()
    sums = weights @ np.column_stack([np.abs(error), error**2, centred, centred**2])
    total = weights.sum(axis=1)
    spread = sums[:, 3] - divide(sums[:, 2] ** 2, total)
    return {
        "mae": sums[:, 0] / total, "rmse": np.sqrt(sums[:, 1] / total),
        "r2": 1.0 - divide(sums[:, 1], spread, np.nan),
    }


def metric_values(scored: Scored, weights: FloatArray) -> dict[str, FloatArray]:
    """Every metric of the task, one value per row of `weights` (shape (n_resamples, n_rows))."""
    if scored.task == "regression":
        return regression_values(weights, scored.truth, scored.predicted)
    k = len(scored.labels)
    values = label_metrics(confusion_stack(weights, scored.truth, scored.predicted, k), scored.task)
    values |= ranking_values(weights, scored)
    if scored.probabilistic:
        total = weights.sum(axis=1)
        values |= {name: weights @ row / total for name, row in probability_rows(scored).items()}
    return {name: values[name] for name in metrics.evaluated(scored.task) if name in values}


def point_metrics(scored: Scored) -> dict[str, float]:
    """Every metric of the task on the rows as they are."""
    values = metric_values(scored, np.ones((1, scored.n_rows)))
    return {name: float(value[0]) for name, value in values.items()}
