"""Stage `evaluate`: test-set metrics with bootstrap intervals against a baseline, threshold, groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from mlworkflow.errors import DataError
from mlworkflow.params import EvaluateParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

METRICS: dict[str, tuple[str, ...]] = {
    "binary": (
        "accuracy", "balanced_accuracy", "precision", "recall", "f1",
        "roc_auc", "average_precision", "log_loss", "brier",
    ),
    "multiclass": (
        "accuracy", "balanced_accuracy", "precision_macro", "precision_weighted", "recall_macro",
        "recall_weighted", "f1_macro", "f1_weighted", "roc_auc_ovr", "roc_auc_ovr_weighted",
        "average_precision_macro", "average_precision_weighted", "log_loss", "brier",
    ),
    "regression": ("mae", "rmse", "r2"),
}
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse"})
AUTO_METRIC = {"binary": "roc_auc", "multiclass": "balanced_accuracy", "regression": "rmse"}
# scikit-learn scorer names (as select/train use them) -> this module's metric names
SCORER_KEYS = {
    "neg_log_loss": "log_loss", "neg_brier_score": "brier", "neg_mean_absolute_error": "mae",
    "neg_root_mean_squared_error": "rmse", "roc_auc_ovr": "roc_auc_ovr", "pr_auc": "average_precision",
}
GROUP_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "selection_rate"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro"),
    "regression": ("mae", "rmse", "r2"),
}
MIN_GROUP_ROWS = 30
REASONS = {
    "roc_auc": "it scores how well {positive} is ranked above the rest over every threshold, "
    "so the operating threshold can be chosen separately",
    "average_precision": "it measures how precisely the positive class {positive} is found, "
    "which matters when positives are the minority",
    "balanced_accuracy": "it averages recall over the classes, so each class counts equally whatever its size",
    "accuracy": "it is the share of correct predictions",
    "precision": "it counts how many flagged cases are real, when false alarms are costly",
    "recall": "it counts how many real cases are found, when misses are costly",
    "f1": "it balances precision and recall",
    "log_loss": "it rewards calibrated probabilities, not just correct labels",
    "brier": "it rewards calibrated probabilities, not just correct labels",
    "mae": "it is the typical error in the target's units and is robust to outliers",
    "rmse": "it is in the target's units and penalises large errors more than small ones",
    "r2": "it is the share of the target's variance the model explains",
}


# ---------------------------------------------------------------- target and scores


@dataclass(frozen=True)
class Target:
    """What the model predicts, as preprocess.json describes it."""

    name: str
    task: str
    classes: tuple[str, ...]
    positive: str | None

    @classmethod
    def from_json(cls, info: Mapping[str, Any]) -> Target:
        """Build from preprocess.json (keys target, task, classes, positive_class)."""
        classes = tuple(str(label) for label in info.get("classes") or ())
        positive = info.get("positive_class")
        return cls(str(info["target"]), str(info["task"]), classes, None if positive is None else str(positive))

    @property
    def labels(self) -> tuple[str, ...]:
        """Class labels in code order; binary: (negative, positive)."""
        if self.task != "binary":
            return self.classes
        positive = self.positive if self.positive is not None else self.classes[-1]
        return (next(label for label in self.classes if label != positive), positive)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names reported for this task."""
        return METRICS[self.task]


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
        return (scores >= (0.5 if threshold is None else threshold)).astype(np.float64)
    if task == "multiclass":
        codes: FloatArray = np.argmax(scores, axis=1).astype(np.float64)
        return codes
    return scores


def score(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target, threshold: float | None = None) -> Scored:
    """Score an estimator on (X, y); binary labels use `threshold` (default 0.5, or 0 for margins)."""
    scores, probabilistic = model_scores(estimator, X, target)
    if target.task == "binary" and threshold is None:
        threshold = 0.5 if probabilistic else 0.0
    predicted = predict_labels(scores, target.task, threshold)
    truth = encode_target(y, target)
    return Scored(target.task, target.labels, truth, scores, predicted, probabilistic, threshold)


def subset(scored: Scored, mask: BoolArray) -> Scored:
    """The rows of a Scored selected by a boolean mask."""
    return replace(scored, truth=scored.truth[mask], scores=scored.scores[mask], predicted=scored.predicted[mask])


def fit_baseline(X: pd.DataFrame, y: pd.Series, target: Target) -> Any:
    """A dummy baseline fitted on the training split: class prior, or the mean."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if target.task == "regression":
        return DummyRegressor(strategy="mean").fit(X, y)
    return DummyClassifier(strategy="prior").fit(X, y.astype(str))


# ---------------------------------------------------------------- weighted metrics
# Every metric is computed from a (n_resamples, n_rows) weight matrix of bootstrap counts, so one
# implementation gives the point estimate (weights of ones) and all resamples at once.


def _divide(numerator: FloatArray, denominator: FloatArray, empty: float = 0.0) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), empty)


def _masked_mean(values: FloatArray, mask: BoolArray) -> FloatArray:
    return _divide(np.where(mask, values, 0.0).sum(axis=1), mask.sum(axis=1).astype(np.float64), np.nan)


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
        "precision": _divide(hits, called), "recall": _divide(hits, support),
        "f1": _divide(2 * hits, support + called),
    }
    values = {
        "accuracy": _divide(hits.sum(axis=1), support.sum(axis=1), np.nan),
        "balanced_accuracy": _masked_mean(per_class["recall"], support > 0),
    }
    for name, per in per_class.items():
        if task == "binary":
            values[name] = per[:, 1]
            continue
        values[f"{name}_macro"] = _masked_mean(per, (support + called) > 0)
        values[f"{name}_weighted"] = _divide((per * support).sum(axis=1), support.sum(axis=1), np.nan)
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
    return _divide(beaten, n_pos * n_neg, np.nan), _divide(_rowwise_dot(pos, precision), n_pos, np.nan)


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
        values[f"{name}_weighted"] = _divide((np.where(valid, matrix, 0.0) * weighted).sum(axis=1), weighted.sum(axis=1), np.nan)
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
    spread = sums[:, 3] - _divide(sums[:, 2] ** 2, total)
    return {
        "mae": sums[:, 0] / total, "rmse": np.sqrt(sums[:, 1] / total),
        "r2": 1.0 - _divide(sums[:, 1], spread, np.nan),
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
    return {name: values[name] for name in METRICS[scored.task] if name in values}


def point_metrics(scored: Scored) -> dict[str, float]:
    """Every metric of the task on the rows as they are."""
    values = metric_values(scored, np.ones((1, scored.n_rows)))
    return {name: float(value[0]) for name, value in values.items()}


# ---------------------------------------------------------------- bootstrap


def format_value(value: float) -> str:
    """A metric value for people: 3 decimals, fewer for large values; never '-0.000'."""
    if not np.isfinite(value):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return text.removeprefix("-") if float(text.replace(",", "")) == 0 else text


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{format_value(self.value)} [{format_value(self.low)}, {format_value(self.high)}]"


def resample_weights(n_rows: int, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Bootstrap counts: row i of the result says how often each row was drawn in resample i."""
    picks = rng.integers(0, n_rows, size=(n_resamples, n_rows))
    picks += np.arange(n_resamples)[:, None] * n_rows
    counts = np.bincount(picks.ravel(), minlength=n_resamples * n_rows)
    return counts.reshape(n_resamples, n_rows).astype(np.float64)


def bootstrap_draws(scored: Scored, n_resamples: int, seed: int) -> dict[str, FloatArray]:
    """Every metric on `n_resamples` seeded resamples; the same seed and size give the same resamples."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, 2_000_000 // max(scored.n_rows, 1)))
    parts = []
    for start in range(0, n_resamples, chunk):
        weights = resample_weights(scored.n_rows, min(chunk, n_resamples - start), rng)
        parts.append(metric_values(scored, weights))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def percentile_interval(value: float, draws: FloatArray, confidence: float) -> Interval:
    """The percentile interval of bootstrap draws around a point estimate."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return Interval(value, float("nan"), float("nan"))
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(value, float(low), float(high))


def metric_table(model: Scored, baseline: Scored, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    """Model and baseline metrics with intervals, and the paired model − baseline difference."""
    points, base_points = point_metrics(model), point_metrics(baseline)
    draws = bootstrap_draws(model, n_resamples, seed)
    base_draws = bootstrap_draws(baseline, n_resamples, seed)  # same seed: paired resamples
    rows = []
    for name, value in points.items():
        own = percentile_interval(value, draws[name], confidence)
        base = percentile_interval(base_points[name], base_draws[name], confidence)
        delta = percentile_interval(value - base.value, draws[name] - base_draws[name], confidence)
        rows.append({
            "metric": name, "value": own.value, "low": own.low, "high": own.high,
            "baseline": base.value, "baseline_low": base.low, "baseline_high": base.high,
            "delta": delta.value, "delta_low": delta.low, "delta_high": delta.high,
        })
    return pd.DataFrame(rows).set_index("metric")


def table_interval(table: pd.DataFrame, metric: str, prefix: str = "") -> Interval:
    """One metric's interval from a metric table ('' for the model, 'baseline' or 'delta')."""
    lead = f"{prefix}_" if prefix else ""
    row = table.loc[metric, [prefix or "value", f"{lead}low", f"{lead}high"]].to_numpy(dtype=np.float64)
    return Interval(float(row[0]), float(row[1]), float(row[2]))


def format_table(table: pd.DataFrame, decided: str) -> pd.DataFrame:
    """A readable metric table: 'value [low, high]' strings, which way is better, the deciding metric."""
    names = list(table.index)
    return pd.DataFrame({
        "model": [str(table_interval(table, name)) for name in names],
        "baseline": [str(table_interval(table, name, "baseline")) for name in names],
        "model − baseline": [str(table_interval(table, name, "delta")) for name in names],
        "better": ["lower" if name in LOWER_IS_BETTER else "higher" for name in names],
        "decides": ["◀" if name == decided else "" for name in names],
    }, index=pd.Index(names, name="metric"))


# ---------------------------------------------------------------- the deciding metric


@dataclass(frozen=True)
class MetricDecision:
    """Which metric decides, where that choice came from, and why in one sentence."""

    metric: str
    source: str
    why: str


def deciding_metric(target: Target, requested: str | None) -> tuple[str, str]:
    """Map train's scorer name to a metric of this module: (metric, 'train' | 'auto' | 'fallback')."""
    if requested in (None, "", "auto"):
        return AUTO_METRIC[target.task], "auto"
    key = SCORER_KEYS.get(str(requested), str(requested).removeprefix("neg_"))
    for candidate in (key, f"{key}_macro"):
        if candidate in target.metrics:
            return candidate, "train"
    return AUTO_METRIC[target.task], "fallback"


def _majority_clause(target: Target, y: pd.Series, metric: str) -> str:
    if target.task == "regression":
        return ""
    shares = y.astype(str).value_counts(normalize=True).sort_index()
    label, share = str(shares.idxmax()), float(shares.max())
    if metric == "accuracy":
        return f"; always predicting '{label}' already scores {share:.3f}, so read it against the baseline"
    return f"; accuracy alone would mislead, as always predicting '{label}' already scores {share:.3f}"


def decide_metric(target: Target, requested: str | None, y: pd.Series) -> MetricDecision:
    """The deciding metric (train's, else the task default) and a one-sentence reason."""
    metric, source = deciding_metric(target, requested)
    origin = {
        "train": "select and train ranked and tuned the models on it",
        "auto": f"it is the default for a {target.task} task",
        "fallback": f"train's metric '{requested}' is not computed here and this is the {target.task} default",
    }[source]
    base = metric.removesuffix("_weighted").removesuffix("_macro").removesuffix("_ovr")
    reason = REASONS[base].format(positive=f"'{target.positive}'" if target.positive else "each class")
    why = f"`{metric}` decides because {origin}: {reason}{_majority_clause(target, y, metric)}."
    return MetricDecision(metric, source, why)


# ---------------------------------------------------------------- decision threshold


@dataclass(frozen=True)
class ThresholdChoice:
    """The deployment threshold, the rule that chose it, and how it did where it was chosen."""

    rule: str
    threshold: float | None
    met: bool
    note: str
    precision: float = float("nan")
    recall: float = float("nan")
    f1: float = float("nan")


def threshold_curve(truth: FloatArray, scores: FloatArray) -> pd.DataFrame:
    """Counts, precision, recall and F1 at every distinct score (predict positive if score ≥ threshold)."""
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], truth[order] == 1
    last = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    tp = np.r_[0, np.cumsum(hits)[last]].astype(np.float64)
    fp = np.r_[0, np.cumsum(~hits)[last]].astype(np.float64)
    thresholds = np.r_[np.nextafter(ordered[0], np.inf), ordered[last]]
    fn, tn = hits.sum() - tp, (~hits).sum() - fp
    return pd.DataFrame({
        "threshold": thresholds, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": _divide(tp, tp + fp, np.nan), "recall": _divide(tp, tp + fn),
        "f1": _divide(2 * tp, 2 * tp + fp + fn),
    })


def _choice(curve: pd.DataFrame, index: int, rule: str, met: bool, note: str) -> ThresholdChoice:
    row = curve.iloc[index]
    return ThresholdChoice(
        rule, float(row["threshold"]), met, note, float(row["precision"]), float(row["recall"]), float(row["f1"])
    )


def choose_threshold(truth: FloatArray, scores: FloatArray, params: EvaluateParams) -> ThresholdChoice:
    """Apply params.threshold_rule; ties go to the highest threshold."""
    curve = threshold_curve(truth, scores)
    best_f1 = int(np.argmax(curve["f1"].to_numpy()))
    if params.threshold_rule == "max_f1":
        return _choice(curve, best_f1, "max_f1", True, "the threshold with the highest F1")
    if params.threshold_rule == "cost":
        cost = params.cost_fp * curve["fp"].to_numpy() + params.cost_fn * curve["fn"].to_numpy()
        note = f"minimises {params.cost_fp:g}·FP + {params.cost_fn:g}·FN (total {cost.min():g})"
        return _choice(curve, int(np.argmin(cost)), "cost", True, note)
    precision = curve["precision"].to_numpy()
    feasible = (np.nan_to_num(precision) >= params.min_precision) & (curve["tp"].to_numpy() > 0)
    if not feasible.any():
        note = (f"no threshold reaches precision {params.min_precision:.2f} "
                f"(best {np.nanmax(precision):.3f}); fell back to the highest F1")
        return _choice(curve, best_f1, "min_precision", False, note)
    index = int(np.argmax(np.where(feasible, curve["recall"].to_numpy(), -1.0)))
    note = f"the highest recall with precision ≥ {params.min_precision:.2f}"
    return _choice(curve, index, "min_precision", True, note)


def out_of_fold_scores(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target,
                       params: EvaluateParams, seed: int) -> FloatArray:
    """Positive-class scores for the training rows from a clone fitted without each row's fold."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=params.threshold_folds, shuffle=True, random_state=seed)
    method = "predict_proba" if hasattr(estimator, "predict_proba") else "decision_function"
    raw = cross_val_predict(clone(estimator), X, y, cv=folds, method=method, n_jobs=params.n_jobs)
    columns = [str(label) for label in np.unique(y)]
    return align_scores(np.asarray(raw, dtype=np.float64), columns, target)


def decision_threshold(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target,
                       params: EvaluateParams, seed: int) -> ThresholdChoice:
    """Choose the binary threshold on out-of-fold training scores, so the test split stays untouched."""
    if target.task != "binary":
        what = "the most probable class is predicted" if target.task == "multiclass" else "predictions are values"
        return ThresholdChoice("none", None, True, f"{target.task}: {what}; no threshold to choose")
    scores = out_of_fold_scores(estimator, X, y, target, params, seed)
    return choose_threshold(encode_target(y, target), scores, params)


def threshold_summary(choice: ThresholdChoice) -> pd.DataFrame:
    """The threshold choice as a one-row table."""
    return pd.DataFrame([{
        "rule": choice.rule, "threshold": choice.threshold, "rule met": choice.met,
        "precision (oof)": choice.precision, "recall (oof)": choice.recall, "F1 (oof)": choice.f1,
        "note": choice.note,
    }]).dropna(axis=1, how="all").round(4)


def metrics_at(truth: FloatArray, scores: FloatArray, threshold: float) -> dict[str, float]:
    """Confusion counts, precision, recall, F1 and accuracy at one threshold."""
    called, positive = scores >= threshold, truth == 1
    tp, fp = float((called & positive).sum()), float((called & ~positive).sum())
    fn, tn = float((~called & positive).sum()), float((~called & ~positive).sum())
    return {
        "threshold": float(threshold), "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else 0.0, "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "accuracy": (tp + tn) / truth.size, "tn": tn, "fp": fp, "fn": fn, "tp": tp,
    }


def threshold_range(scored: Scored) -> tuple[float, float]:
    """The range a threshold can sensibly take: [0, 1] for probabilities, else the scores' range."""
    if scored.probabilistic:
        return 0.0, 1.0
    return float(np.min(scored.scores)), float(np.max(scored.scores))


def threshold_grid(scored: Scored, steps: int = 19) -> pd.DataFrame:
    """Precision, recall, F1 and counts over a grid of thresholds (plus the chosen one), for static reports."""
    if scored.task != "binary":
        return pd.DataFrame({"note": [f"{scored.task}: no decision threshold"]})
    low, high = threshold_range(scored)
    grid = np.linspace(low, high, steps + 2)[1:-1]
    chosen = float(scored.threshold) if scored.threshold is not None else float(grid[steps // 2])
    rows = [metrics_at(scored.truth, scored.scores, float(t)) for t in sorted({*np.round(grid, 4), chosen})]
    table = pd.DataFrame(rows)
    table["chosen"] = np.where(np.isclose(table["threshold"], chosen), "◀", "")
    return table.astype({name: int for name in ("tn", "fp", "fn", "tp")}).round(4)


# ---------------------------------------------------------------- importance and groups


@dataclass(frozen=True)
class MetricScorer:
    """A scikit-learn scorer (estimator, X, y) -> float on one metric here; higher is better."""

    target: Target
    metric: str
    threshold: float | None

    def __call__(self, estimator: Any, X: pd.DataFrame, y: pd.Series) -> float:
        """Score the estimator, negated for metrics where lower is better."""
        value = point_metrics(score(estimator, X, y, self.target, self.threshold))[self.metric]
        return -value if self.metric in LOWER_IS_BETTER else value


def permutation_table(estimator: Any, X: pd.DataFrame, y: pd.Series, scorer: MetricScorer,
                      params: EvaluateParams, seed: int) -> pd.DataFrame:
    """Permutation importance on the test split: the drop in the deciding metric when a column is shuffled."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        estimator, X, y, scoring=scorer, n_repeats=params.permutation_repeats,
        random_state=seed, n_jobs=params.n_jobs,
    )
    table = pd.DataFrame({
        "feature": [str(c) for c in X.columns], "importance": result.importances_mean,
        "std": result.importances_std,
    })
    return table.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True).round(4)


def group_labels(values: pd.Series, bins: int = 4) -> npt.NDArray[np.str_]:
    """Group names for a column: its values, quantile bins for a many-valued number, '(missing)' for NaN."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.nunique() > 10:
        binned = pd.qcut(values, bins, duplicates="drop")
        names = [f"q{code + 1} {interval}" for code, interval in enumerate(binned.cat.categories)]
        values = binned.cat.rename_categories(names).astype(str).where(values.notna())
    named = values.astype(object).where(values.notna(), "(missing)")
    return np.asarray(named.astype(str).to_numpy(), dtype=np.str_)


def _group_row(column: str, group: str, scored: Scored, names: Sequence[str]) -> dict[str, Any]:
    values = point_metrics(scored) if scored.n_rows else {}
    if scored.task == "binary":
        values["selection_rate"] = float(scored.predicted.mean()) if scored.n_rows else float("nan")
    return {"column": column, "group": group, "n": scored.n_rows} | {
        name: values.get(name, float("nan")) for name in names
    }


def _flag(row: Mapping[str, Any], overall: Mapping[str, Any], names: Sequence[str], tolerance: float) -> str:
    if row["column"] == "(all)":
        return ""
    if row["n"] < MIN_GROUP_ROWS:
        return f"n < {MIN_GROUP_ROWS}: too few rows to judge"
    gaps = [(name, row[name] - overall[name]) for name in names]
    return ", ".join(f"{name} {gap:+.3f}" for name, gap in gaps if np.isfinite(gap) and abs(gap) > tolerance)


def group_table(scored: Scored, frame: pd.DataFrame, columns: Sequence[str], metric: str,
                tolerance: float) -> pd.DataFrame:
    """Metrics per group of each column, the gap to the overall value, and a flag for gaps beyond tolerance."""
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"group column not in the test split (columns: {', '.join(map(str, frame.columns))})",
                            column=column)
    names = [metric, *(name for name in GROUP_METRICS[scored.task] if name != metric)]
    rows = [_group_row("(all)", "(all)", scored, names)]
    for column in columns:
        groups = group_labels(frame[column])
        rows += [_group_row(column, str(group), subset(scored, groups == group), names) for group in sorted(set(groups))]
    table = pd.DataFrame(rows)
    table.insert(4, "gap", table[metric] - rows[0][metric])
    table["flag"] = [_flag(row, rows[0], names, tolerance) for row in rows]
    return table.round(4)


def _gap_styles(column: pd.Series, reference: float, tolerance: float, small: pd.Series) -> list[str]:
    far = ((column - reference).abs() > tolerance) & ~small
    return ["background-color: #fde2a7; font-weight: bold" if flag else "" for flag in far]


def style_groups(table: pd.DataFrame, tolerance: float) -> Styler:
    """The group table with gaps beyond tolerance highlighted (a fixed uuid keeps the HTML stable)."""
    names = [c for c in table.columns if c not in ("column", "group", "n", "gap", "flag")]
    small = (table["n"] < MIN_GROUP_ROWS) | (table["column"] == "(all)")
    styler = table.style.hide(axis="index").format(precision=3, na_rep="n/a").set_uuid("mlw-groups")
    styler = styler.apply(_gap_styles, subset=["gap"], reference=0.0, tolerance=tolerance, small=small)
    for name in names:
        reference = float(table[name].iloc[0])
        styler = styler.apply(_gap_styles, subset=[name], reference=reference, tolerance=tolerance, small=small)
    return styler


# ---------------------------------------------------------------- plots


def _axes(ncols: int, width: float = 9.0, height: float = 3.8) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, list(figure.subplots(1, ncols, squeeze=False)[0])


def _compact(*axes: Axes) -> None:
    from matplotlib.ticker import EngFormatter

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(EngFormatter(sep=""))


def plot_errors(scored: Scored) -> Figure:
    """Confusion matrix (counts and row shares), or residuals for regression."""
    if scored.task == "regression":
        return _plot_residuals(scored)
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axes = _axes(2)
    labels = np.array(scored.labels)
    truth, predicted = labels[scored.truth.astype(int)], labels[scored.predicted.astype(int)]
    for ax, normalize, title in ((axes[0], None, "counts"), (axes[1], "true", "share of each true class")):
        ConfusionMatrixDisplay.from_predictions(
            truth, predicted, labels=list(labels), normalize=normalize, ax=ax, colorbar=False,
            values_format="d" if normalize is None else ".2f", cmap="Blues",
        )
        ax.set_title(f"Confusion matrix: {title}")
        ax.grid(False)
    return figure


def _plot_residuals(scored: Scored) -> Figure:
    figure, (left, right) = _axes(2)
    residuals = scored.truth - scored.predicted
    left.scatter(scored.predicted, residuals, s=6, alpha=0.4)
    left.axhline(0.0, color="black", linewidth=1)
    left.set(xlabel="predicted", ylabel="actual − predicted", title="Residuals against predictions")
    right.hist(residuals, bins=40)
    right.set(xlabel="actual − predicted", ylabel="rows", title="Residual distribution")
    _compact(left, right)
    return figure


def plot_curves(scored: Scored, baseline: Scored) -> Figure:
    """ROC and precision–recall curves against the baseline (one-vs-rest for multiclass), or actual vs predicted."""
    if scored.task == "regression":
        return _plot_actual(scored, baseline)
    from sklearn.metrics import precision_recall_curve, roc_curve

    figure, (roc, pr) = _axes(2)
    for code, label in enumerate(scored.labels):
        if scored.task == "binary" and code == 0:
            continue
        positive = scored.truth == code
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        fpr, tpr, _ = roc_curve(positive, column)
        precision, recall, _ = precision_recall_curve(positive, column)
        name = "model" if scored.task == "binary" else label
        roc.plot(fpr, tpr, label=name)
        pr.plot(recall, precision, label=name, drawstyle="steps-post")
    _mark_baseline(roc, pr, scored, baseline)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall curve", ylim=(0.0, 1.02))
    roc.legend(loc="lower right", fontsize="small")
    pr.legend(loc="lower left", fontsize="small")
    return figure


def _mark_baseline(roc: Axes, pr: Axes, scored: Scored, baseline: Scored) -> None:
    roc.plot([0, 1], [0, 1], linestyle="--", color="grey", label="baseline")
    if scored.task != "binary":
        return
    prevalence = float(baseline.truth.mean())
    pr.axhline(prevalence, linestyle="--", color="grey", label=f"baseline ({prevalence:.2f})")
    at = metrics_at(scored.truth, scored.scores, float(scored.threshold or 0.0))
    fpr = at["fp"] / max(at["fp"] + at["tn"], 1.0)
    roc.plot([fpr], [at["recall"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")
    pr.plot([at["recall"]], [at["precision"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")


def _plot_actual(scored: Scored, baseline: Scored) -> Figure:
    figure, (ax,) = _axes(1, width=5.0, height=4.0)
    ax.scatter(scored.truth, scored.predicted, s=6, alpha=0.4, label="model")
    edges = [float(np.min(scored.truth)), float(np.max(scored.truth))]
    ax.plot(edges, edges, color="black", linewidth=1, label="perfect")
    ax.axhline(float(baseline.predicted[0]), linestyle="--", color="grey", label="baseline (mean)")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")
    ax.legend(fontsize="small")
    _compact(ax)
    return figure


def plot_calibration(scored: Scored, bins: int = 10) -> Figure:
    """Reliability curve(s) and the score histogram; regression: mean actual per predicted decile."""
    from sklearn.calibration import calibration_curve

    if scored.task == "regression":
        return _plot_binned_means(scored, bins)
    figure, (curve, hist) = _axes(2)
    if not scored.probabilistic:
        curve.text(0.5, 0.5, "the model gives margins, not probabilities:\nno calibration curve", ha="center")
        return figure
    codes = [1] if scored.task == "binary" else list(range(len(scored.labels)))
    for code in codes:
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        observed, predicted = calibration_curve(scored.truth == code, column, n_bins=bins, strategy="quantile")
        curve.plot(predicted, observed, "o-", label=scored.labels[code])
        hist.hist(column, bins=20, range=(0.0, 1.0), alpha=0.5, label=scored.labels[code])
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    curve.set(xlabel="mean predicted probability", ylabel="observed frequency", title="Calibration (quantile bins)")
    hist.set(xlabel="predicted probability", ylabel="rows", title="Predicted probabilities")
    curve.legend(fontsize="small")
    hist.legend(fontsize="small")
    return figure


def _plot_binned_means(scored: Scored, bins: int) -> Figure:
    figure, (ax,) = _axes(1, width=5.0, height=4.0)
    edges = np.unique(np.quantile(scored.predicted, np.linspace(0, 1, bins + 1)))
    codes = np.clip(np.searchsorted(edges, scored.predicted, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": codes, "predicted": scored.predicted, "actual": scored.truth})
    means = frame.groupby("bin")[["predicted", "actual"]].mean()
    ax.plot(means["predicted"], means["actual"], "o-", label="model")
    low, high = float(means.to_numpy().min()), float(means.to_numpy().max())
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted (decile)", ylabel="mean actual", title="Calibration by predicted decile")
    ax.legend(fontsize="small")
    _compact(ax)
    return figure


def plot_importance(table: pd.DataFrame, top: int = 15) -> Figure:
    """Horizontal bars of permutation importance with one standard deviation."""
    shown = table.head(top).iloc[::-1]
    figure, (ax,) = _axes(1, width=7.0, height=0.3 * len(shown) + 1.2)
    ax.barh(shown["feature"], shown["importance"], xerr=shown["std"], color="#4c72b0")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set(xlabel="drop in the deciding metric when shuffled", title="Permutation importance (test split)")
    return figure


# ---------------------------------------------------------------- what-if and the stage record


def example_row(X: pd.DataFrame) -> pd.DataFrame:
    """The first row without missing values (else the first row), as a one-row frame."""
    complete = X.notna().all(axis=1).to_numpy()
    index = int(np.argmax(complete)) if complete.any() else 0
    return X.iloc[[index]].reset_index(drop=True)


def predict_row(estimator: Any, row: pd.DataFrame, target: Target, threshold: float | None) -> dict[str, Any]:
    """Prediction for one row: the label (or value) and, for classifiers, the score of each class."""
    scores, probabilistic = model_scores(estimator, row, target)
    if target.task == "regression":
        return {"prediction": float(scores[0])}
    label = target.labels[int(predict_labels(scores, target.task, threshold)[0])]
    if target.task == "binary":
        per_class = {target.labels[1]: float(scores[0])}
    else:
        per_class = {name: float(value) for name, value in zip(target.labels, scores[0], strict=True)}
    return {"prediction": label, "scores": per_class, "probabilistic": probabilistic}


def _json_float(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return round(float(value), 6) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json_float(v) for k, v in row.items()} for row in table.to_dict("records")]


def _intervals(table: pd.DataFrame, prefix: str) -> dict[str, dict[str, Any]]:
    result = {}
    for name in table.index:
        interval = table_interval(table, str(name), prefix)
        result[str(name)] = {key: _json_float(getattr(interval, key)) for key in ("value", "low", "high")}
    return result


def summary(family: str, decision: MetricDecision, table: pd.DataFrame, choice: ThresholdChoice,
            groups: pd.DataFrame, importance: pd.DataFrame, top: int = 10) -> dict[str, Any]:
    """The content of evaluate.json, headline included."""
    threshold = "none" if choice.threshold is None else f"{choice.threshold:.3f} ({choice.rule})"
    return {
        "model": family, "metric": decision.metric, "why": decision.why, "metric_source": decision.source,
        "lower_is_better": decision.metric in LOWER_IS_BETTER,
        "metrics": _intervals(table, ""), "baseline": _intervals(table, "baseline"),
        "difference": _intervals(table, "delta"),
        "threshold": choice.threshold, "threshold_rule": choice.rule,  # exact: deployment uses it
        "threshold_met": choice.met, "threshold_note": choice.note,
        "groups": _records(groups), "importance": _records(importance.head(top)),
        "headline": {
            "model": family, decision.metric: str(table_interval(table, decision.metric)),
            "baseline": str(table_interval(table, decision.metric, "baseline")), "threshold": threshold,
        },
    }
