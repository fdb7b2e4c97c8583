"""The metric catalogue: one record per metric, the task defaults, scorers and the deciding metric.

A metric has a name (what evaluate and monitor report, e.g. "rmse") and, when scikit-learn can
score it, a scorer name (what select and train tune on and record, e.g.
"neg_root_mean_squared_error"; its display name drops the "neg_"). Every function here accepts
any of the three. Adding a metric means adding one record to CATALOGUE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlworkflow.errors import ParamsError, ParamsIssue, did_you_mean

Better = Literal["higher", "lower"]
Needs = Literal["labels", "scores", "probabilities"]
Source = Literal["given", "auto", "fallback"]
# How a binary metric is given the positive class: as its function's pos_label, or as the indicator y == positive
# (for functions without a pos_label, which would otherwise take the label that sorts last as positive).
Passes = Literal["pos_label", "indicator"]

BINARY = frozenset({"binary"})
MULTICLASS = frozenset({"multiclass"})
CLASSIFICATION = frozenset({"binary", "multiclass"})
REGRESSION = frozenset({"regression"})
NONE: frozenset[str] = frozenset()
# What a scorer asks the estimator for, by what the metric needs (scikit-learn's response_method).
RESPONSE: dict[str, str | tuple[str, ...]] = {
    "labels": "predict", "scores": ("decision_function", "predict_proba"), "probabilities": "predict_proba",
}
CALIBRATED = "it rewards calibrated probabilities, not just correct labels"


@dataclass(frozen=True)
class Metric:
    """One metric: how it is named, which way is better, what it needs, the tasks it fits."""

    name: str
    scorer: str | None  # scikit-learn scorer name; None: evaluate computes it, select and train cannot tune on it
    better: Better
    needs: Needs
    tasks: frozenset[str]  # the tasks select and train can tune on the scorer for
    evaluated: frozenset[str] = NONE  # the tasks evaluate and monitor compute it for, with intervals
    positive: str | None = None  # binary: the sklearn.metrics function that is given the positive class
    passes: Passes = "pos_label"  # how that function is given it
    instead: str | None = None  # binary-only: the scorer to use for a multiclass task
    reason: str = ""  # why it would decide, for evaluate's one-sentence explanation

    @property
    def display(self) -> str:
        """The name select and train show: the scorer's without 'neg_' ('root_mean_squared_error')."""
        return self.scorer.removeprefix("neg_") if self.scorer else self.name

    @property
    def sign(self) -> float:
        """-1.0 where lower is better (scikit-learn negates those scores), else 1.0."""
        return -1.0 if self.better == "lower" else 1.0


def _label(name: str, tasks: frozenset[str], evaluated: frozenset[str] = NONE, **extra: Any) -> Metric:
    return Metric(name, name, "higher", "labels", tasks, evaluated, **extra)


def _indicated(name: str, scorer: str, needs: Needs, tasks: frozenset[str], function: str, **extra: Any) -> Metric:
    better: Better = "lower" if scorer.startswith("neg_") else "higher"
    return Metric(name, scorer, better, needs, tasks, positive=function, passes="indicator", **extra)


def _error(name: str, evaluated: frozenset[str] = NONE, short: str | None = None, reason: str = "") -> Metric:
    return Metric(short or name, f"neg_{name}", "lower", "labels", REGRESSION, evaluated, reason=reason)


CATALOGUE: tuple[Metric, ...] = (
    _label("accuracy", CLASSIFICATION, CLASSIFICATION, reason="it is the share of correct predictions"),
    _label("balanced_accuracy", CLASSIFICATION, CLASSIFICATION,
           reason="it averages recall over the classes, so each class counts equally whatever its size"),
    _label("precision", BINARY, BINARY, positive="precision_score", instead="precision_macro",
           reason="it counts how many flagged cases are real, when false alarms are costly"),
    _label("precision_macro", CLASSIFICATION, MULTICLASS),
    _label("precision_weighted", CLASSIFICATION, MULTICLASS),
    _label("precision_micro", CLASSIFICATION),
    _label("recall", BINARY, BINARY, positive="recall_score", instead="recall_macro",
           reason="it counts how many real cases are found, when misses are costly"),
    _label("recall_macro", CLASSIFICATION, MULTICLASS),
    _label("recall_weighted", CLASSIFICATION, MULTICLASS),
    _label("recall_micro", CLASSIFICATION),
    _label("f1", BINARY, BINARY, positive="f1_score", instead="f1_macro", reason="it balances precision and recall"),
    _label("f1_macro", CLASSIFICATION, MULTICLASS),
    _label("f1_weighted", CLASSIFICATION, MULTICLASS),
    _label("f1_micro", CLASSIFICATION),
    _indicated("roc_auc", "roc_auc", "scores", BINARY, "roc_auc_score", evaluated=BINARY, instead="roc_auc_ovr",
               reason="it scores how well {positive} is ranked above the rest over every threshold, "
               "so the operating threshold can be chosen separately"),
    _indicated("roc_auc_ovr", "roc_auc_ovr", "probabilities", CLASSIFICATION, "roc_auc_score", evaluated=MULTICLASS),
    _indicated("roc_auc_ovr_weighted", "roc_auc_ovr_weighted", "probabilities", CLASSIFICATION, "roc_auc_score",
               evaluated=MULTICLASS),
    _indicated("roc_auc_ovo", "roc_auc_ovo", "probabilities", CLASSIFICATION, "roc_auc_score"),
    _indicated("roc_auc_ovo_weighted", "roc_auc_ovo_weighted", "probabilities", CLASSIFICATION, "roc_auc_score"),
    Metric("average_precision", "average_precision", "higher", "scores", CLASSIFICATION, BINARY,
           positive="average_precision_score",
           reason="it measures how precisely the positive class {positive} is found, "
           "which matters when positives are the minority"),
    Metric("average_precision_macro", None, "higher", "scores", NONE, MULTICLASS),
    Metric("average_precision_weighted", None, "higher", "scores", NONE, MULTICLASS),
    _indicated("log_loss", "neg_log_loss", "probabilities", CLASSIFICATION, "log_loss", evaluated=CLASSIFICATION,
               reason=CALIBRATED),
    Metric("brier", "neg_brier_score", "lower", "probabilities", CLASSIFICATION, CLASSIFICATION,
           positive="brier_score_loss", reason=CALIBRATED),
    Metric("d2_brier_score", "d2_brier_score", "higher", "probabilities", CLASSIFICATION, positive="d2_brier_score"),
    _indicated("d2_log_loss_score", "d2_log_loss_score", "probabilities", CLASSIFICATION, "d2_log_loss_score"),
    _indicated("top_k_accuracy", "top_k_accuracy", "scores", CLASSIFICATION, "top_k_accuracy_score"),
    _label("matthews_corrcoef", CLASSIFICATION),
    _label("jaccard", BINARY, positive="jaccard_score", instead="jaccard_macro"),
    _label("jaccard_macro", CLASSIFICATION),
    _label("jaccard_weighted", CLASSIFICATION),
    _label("jaccard_micro", CLASSIFICATION),
    _indicated("positive_likelihood_ratio", "positive_likelihood_ratio", "labels", BINARY,
               "positive_likelihood_ratio", instead="balanced_accuracy"),
    _indicated("negative_likelihood_ratio", "neg_negative_likelihood_ratio", "labels", BINARY,
               "negative_likelihood_ratio", instead="balanced_accuracy"),
    _error("mean_absolute_error", REGRESSION, "mae",
           "it is the typical error in the target's units and is robust to outliers"),
    _error("root_mean_squared_error", REGRESSION, "rmse",
           "it is in the target's units and penalises large errors more than small ones"),
    _label("r2", REGRESSION, REGRESSION, reason="it is the share of the target's variance the model explains"),
    _label("explained_variance", REGRESSION),
    _label("d2_absolute_error_score", REGRESSION),
    _error("mean_squared_error"),
    _error("max_error"),
    _error("median_absolute_error"),
    _error("mean_absolute_percentage_error"),
    _error("mean_squared_log_error"),
    _error("root_mean_squared_log_error"),
    _error("mean_poisson_deviance"),
    _error("mean_gamma_deviance"),
)
# The "auto" metric of each task, and the set select compares on for metrics: ["auto"] (deciding first).
DEFAULT: Mapping[str, str] = {"binary": "roc_auc", "multiclass": "balanced_accuracy", "regression": "rmse"}
COMPARED: Mapping[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "average_precision", "balanced_accuracy", "f1", "log_loss"),
    "multiclass": ("balanced_accuracy", "accuracy", "f1_macro", "roc_auc_ovr", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
UNSET = (None, "", "auto")


def _index() -> dict[str, Metric]:
    index: dict[str, Metric] = {}
    for metric in CATALOGUE:
        for key in dict.fromkeys((metric.name, metric.display, metric.scorer or metric.name)):
            if key in index:
                raise ValueError(f"metric catalogue: '{key}' names two metrics")
            index[key] = metric
    return index


BY_NAME: Mapping[str, Metric] = _index()


# --- look-up ---------------------------------------------------------------------------------------------


def find(name: str) -> Metric | None:
    """The metric a name, scorer name or display name stands for, or None."""
    return BY_NAME.get(name)


def get(name: str, key: str = "metric") -> Metric:
    """The metric a name stands for; an unknown name raises ParamsError at the params `key` that named it."""
    metric = find(name)
    if metric is None:
        raise ParamsError("metrics", [ParamsIssue(key, "a metric name", repr(name), did_you_mean(name, list(BY_NAME)))])
    return metric


def scorers(task: str | None = None) -> tuple[str, ...]:
    """Scorer names select and train can tune on (for one task, or any)."""
    return tuple(m.scorer for m in CATALOGUE if m.scorer and (task is None or task in m.tasks))


def evaluated(task: str | None = None) -> tuple[str, ...]:
    """The metric names evaluate and monitor compute (for one task, or any), in report order."""
    return tuple(m.name for m in CATALOGUE if m.evaluated and (task is None or task in m.evaluated))


def default(task: str) -> Metric:
    """The task's "auto" metric."""
    return get(DEFAULT[task])


def compared(task: str) -> tuple[str, ...]:
    """The scorers select compares on by default ("auto"), the default first."""
    return tuple(str(get(name).scorer) for name in COMPARED[task])


# --- direction and display -------------------------------------------------------------------------------


def better(name: str) -> Better:
    """'higher' or 'lower': which way is better for the metric's value as people see it."""
    return get(name).better


def lower_is_better(name: str) -> bool:
    """Whether a smaller value of the metric is better (losses, errors)."""
    return get(name).better == "lower"


def sign(name: str) -> float:
    """-1.0 for a lower-is-better metric (its scorer's values are negated), else 1.0."""
    return get(name).sign


def to_display(name: str, value: float) -> float:
    """A scorer's value in display units: errors and losses as positive numbers."""
    return sign(name) * value


def display_name(name: str) -> str:
    """The metric's name as select and train show it: 'neg_root_mean_squared_error' -> 'root_mean_squared_error'."""
    return get(name).display


def format_value(value: float) -> str:
    """A metric value for people: 3 decimals, fewer for large values; never '-0.000'."""
    if not math.isfinite(value):  # not numpy's: the params schema imports this module, and needs no numpy
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return text.removeprefix("-") if float(text.replace(",", "")) == 0 else text


def why(name: str) -> str:
    """Why the metric would decide (a variant, e.g. 'f1_macro', gives its base metric's reason); '{positive}' is left
    for the positive class."""
    base = get(name).name.removesuffix("_weighted").removesuffix("_macro").removesuffix("_ovr")
    return get(base).reason


# --- fitting a task --------------------------------------------------------------------------------------


def problem(name: str, task: str) -> str | None:
    """Why a scorer does not fit the task ('a classification scorer', ...), or None when it does."""
    metric = find(name)
    if metric is None or metric.scorer is None:
        return "not a scorer select and train can tune on"
    if task in metric.tasks:
        return None
    if task == "regression":
        return "a classification scorer"
    if "regression" in metric.tasks:
        return "a regression scorer"
    return f"for binary targets only; try '{metric.instead}'"


def issue(name: str, task: str, key: str) -> ParamsIssue | None:
    """A params issue for a scorer that is unknown or does not fit the task, or None."""
    if find(name) is None:
        expected = f"a scorer for a {task} task ({', '.join(scorers(task))})"
        return ParamsIssue(key, expected, repr(name), did_you_mean(name, scorers(task)))
    if (why := problem(name, task)) is not None:
        return ParamsIssue(key, f"a scorer for a {task} task", f"'{name}' ({why})")
    return None


def fitting(name: str, task: str, for_evaluate: bool = False) -> Metric | None:
    """The metric `name` stands for on this task: a fitting scorer, or what evaluate computes for it.

    For evaluate, a binary-style name stands for its macro average on a multiclass task
    ('f1' -> 'f1_macro', 'average_precision' -> 'average_precision_macro').
    """
    metric = find(name)
    if metric is None:
        return None
    if not for_evaluate:
        return metric if problem(name, task) is None else None
    if task in metric.evaluated:
        return metric
    macro = find(f"{metric.name}_macro")
    return macro if macro is not None and task in macro.evaluated else None


# --- the deciding metric ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The deciding metric, and whether it was given, the task's default, or a fallback from one that does not fit."""

    metric: Metric
    source: Source
    requested: str | None = None


def deciding_metric(task: str, requested: Sequence[str | None], for_evaluate: bool = False) -> Decision:
    """The metric that decides: the first name set in `requested` (None, '' and 'auto' are unset) if it fits the task,
    else the task's default; `for_evaluate` asks for a metric evaluate and monitor compute, not a scorer."""
    name = next((str(n) for n in requested if n not in UNSET), None)
    if name is None:
        return Decision(default(task), "auto")
    metric = fitting(name, task, for_evaluate)
    return Decision(default(task), "fallback", name) if metric is None else Decision(metric, "given", name)


def deciding_scorer(task: str, requested: Sequence[str | None], section: str) -> str:
    """The deciding scorer of stage `section` (select, train); one that is unknown or does not fit the task raises
    ParamsError at '<section>.metric'."""
    decision = deciding_metric(task, requested)
    found = issue(str(decision.requested), task, f"{section}.metric") if decision.source == "fallback" else None
    if found is not None:
        raise ParamsError(section, [found])
    return str(decision.metric.scorer)


# --- scikit-learn scorers --------------------------------------------------------------------------------


def positive_likelihood_ratio(y_true: Any, y_pred: Any) -> float:
    """LR+ of the positive class True (indicators), undefined ratios as 1 the way scikit-learn's scorer does."""
    from sklearn.metrics import class_likelihood_ratios

    return float(class_likelihood_ratios(y_true, y_pred, labels=[False, True], replace_undefined_by=1.0)[0])


def negative_likelihood_ratio(y_true: Any, y_pred: Any) -> float:
    """LR− of the positive class True (indicators), undefined ratios as 1 the way scikit-learn's scorer does."""
    from sklearn.metrics import class_likelihood_ratios

    return float(class_likelihood_ratios(y_true, y_pred, labels=[False, True], replace_undefined_by=1.0)[1])


def binary_function(name: str) -> Any:
    """The function a binary metric record names: this module's likelihood ratios, else sklearn.metrics'."""
    import sklearn.metrics

    own = {"positive_likelihood_ratio": positive_likelihood_ratio, "negative_likelihood_ratio": negative_likelihood_ratio}
    return own.get(name) or getattr(sklearn.metrics, name)


def indicator_score(y_true: Any, y_pred: Any, *, pos_label: Any, function: str, needs: Needs) -> float:
    """A binary metric computed on the indicator of the positive class: truth == pos_label against the positive
    class's score (scikit-learn's scorer picks its column), or against predicted == pos_label for labels."""
    import numpy as np

    truth = np.asarray(y_true) == pos_label
    response = np.asarray(y_pred) == pos_label if needs == "labels" else y_pred
    return float(binary_function(function)(truth, response))


def make_scorer(name: str, task: str, pos_label: Any, key: str = "metric") -> Any:
    """A scikit-learn scorer; on a binary task every metric that depends on the positive class is given it.

    Every binary scorer that reads scores or probabilities asks for the positive class's (scikit-learn picks that
    column, or flips a margin's sign, by the scorer's pos_label), so scorers that share scikit-learn's cache of one
    response per method in a multi-metric call all read the same thing. A ParamsError names the params `key`
    that named the metric (e.g. 'select.metrics')."""
    import sklearn.metrics

    metric = get(name, key)
    if metric.scorer is None:
        raise ParamsError("metrics", [ParamsIssue(key, f"a scorer for a {task} task", f"'{name}' (evaluate only)")])
    if task != "binary" or metric.positive is None:
        return sklearn.metrics.get_scorer(metric.scorer)
    greater, response = metric.better == "higher", RESPONSE[metric.needs]
    if metric.passes == "indicator":
        return sklearn.metrics.make_scorer(
            indicator_score, response_method=response, greater_is_better=greater, pos_label=pos_label,
            function=metric.positive, needs=metric.needs,
        )
    return sklearn.metrics.make_scorer(
        getattr(sklearn.metrics, metric.positive), response_method=response, greater_is_better=greater,
        pos_label=pos_label,
    )


def make_scorers(names: Sequence[str], task: str, pos_label: Any, key: str = "metrics") -> dict[str, Any]:
    """{name: scorer} for several metrics, keyed by the names as given (`key`: the params key that named them)."""
    return {name: make_scorer(name, task, pos_label, key) for name in names}
