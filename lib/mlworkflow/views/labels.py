"""Human names for model families and metrics, and numbers written as a reader expects them."""

from __future__ import annotations

import math
from typing import Any

FAMILIES: dict[str, str] = {
    "logistic": "Logistic regression",
    "decision_tree": "Decision tree",
    "random_forest": "Random forest",
    "hist_gradient_boosting": "Gradient boosting (histogram)",
    "svm": "Support vector machine",
    "knn": "Nearest neighbours",
    "naive_bayes": "Naive Bayes",
    "mlp": "Neural network (MLP)",
    "lightgbm": "LightGBM",
    "ensemble": "Ensemble",
    "baseline": "Baseline",
    "dummy": "Baseline",
}
METRICS: dict[str, str] = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "ROC AUC (one vs rest)",
    "roc_auc_ovr_weighted": "ROC AUC (one vs rest, weighted)",
    "roc_auc_ovo": "ROC AUC (one vs one)",
    "roc_auc_ovo_weighted": "ROC AUC (one vs one, weighted)",
    "average_precision": "Average precision",
    "log_loss": "Log loss",
    "brier": "Brier score",
    "d2_brier_score": "D² Brier score",
    "d2_log_loss_score": "D² log loss",
    "d2_absolute_error_score": "D² absolute error",
    "top_k_accuracy": "Top-k accuracy",
    "matthews_corrcoef": "Matthews correlation",
    "jaccard": "Jaccard index",
    "positive_likelihood_ratio": "Positive likelihood ratio",
    "negative_likelihood_ratio": "Negative likelihood ratio",
    "mae": "Mean absolute error",
    "mean_absolute_error": "Mean absolute error",
    "rmse": "Root mean squared error",
    "root_mean_squared_error": "Root mean squared error",
    "mean_squared_error": "Mean squared error",
    "r2": "R²",
    "explained_variance": "Explained variance",
    "max_error": "Max error",
    "median_absolute_error": "Median absolute error",
    "mean_absolute_percentage_error": "Mean absolute percentage error",
    "mean_squared_log_error": "Mean squared log error",
    "root_mean_squared_log_error": "Root mean squared log error",
    "mean_poisson_deviance": "Mean Poisson deviance",
    "mean_gamma_deviance": "Mean gamma deviance",
    "selection_rate": "Selection rate",
}
AVERAGES: dict[str, str] = {"macro": "macro average", "weighted": "weighted average", "micro": "micro average"}
MISSING = "—"


def readable(key: str) -> str:
    """A key no catalogue names, made readable: 'max_leaf_nodes' → 'Max leaf nodes'."""
    words = str(key).replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def family_label(key: str) -> str:
    """The name a reader knows a model family by: 'hist_gradient_boosting' → 'Gradient boosting (histogram)'."""
    name = str(key)
    return FAMILIES.get(name) or FAMILIES.get(name.lower()) or readable(name)


def metric_label(key: str) -> str:
    """The name a reader knows a metric by: 'roc_auc' → 'ROC AUC', 'f1_macro' → 'F1 (macro average)'."""
    name = str(key).removeprefix("neg_")
    if name in METRICS:
        return METRICS[name]
    base, _, average = name.rpartition("_")
    if base in METRICS and average in AVERAGES:
        return f"{METRICS[base]} ({AVERAGES[average]})"
    return readable(name)


def _missing(x: Any) -> bool:
    """True for None, NaN and pandas' NA, which a page shows as a dash."""
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN and pd.NA are not equal to themselves
    except TypeError:  # pd.NA refuses bool()
        return True


def percent(x: Any, digits: int = 1) -> str:
    """A share (0.0564) as a percentage ('5.6%'); a missing value is '—'."""
    if _missing(x):
        return MISSING
    return f"{float(x) * 100:,.{digits}f}%"


def number(x: Any) -> str:
    """A number rounded to what it means: counts with thousands separators, scores to three decimals, else three
    significant digits."""
    if _missing(x):
        return MISSING
    if isinstance(x, bool) or type(x).__name__ in ("bool", "bool_"):  # NumPy 2 names its bool "bool"
        return "yes" if x else "no"
    value = float(x)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == int(value) and (isinstance(x, int) or abs(value) >= 1000 or _integral_type(x)):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 0.1:  # scores: three decimals, so 0.9996 stays below 1
        return f"{value:.3g}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{value:.3g}" if value else "0"


def _integral_type(x: Any) -> bool:
    """True for NumPy's integer scalars, which are counts even below 1,000."""
    return type(x).__name__.startswith(("int", "uint"))


KINDS = (("bool", "yes/no"), ("int", "whole number"), ("uint", "whole number"), ("float", "number"),
         ("datetime", "date and time"), ("timedelta", "duration"), ("category", "category"), ("object", "text"),
         ("str", "text"), ("string", "text"))


def kind_label(dtype: Any) -> str:
    """What a column holds in words, from its pandas dtype: 'int64' → 'whole number', 'object' → 'text'."""
    name = str(dtype)
    return next((label for prefix, label in KINDS if name.lower().startswith(prefix)), readable(name))
