"""Binary metrics computed directly with scikit-learn's metric functions, the positive class named explicitly.

The reference the scorers (select, train) and evaluate's metrics are checked against, on label sets whose
positive class sorts first as well as last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn import metrics as skm

# (labels in the data, the positive class): text and integer labels, the positive first and last in sort order
LABEL_SETS: tuple[tuple[tuple[Any, Any], Any], ...] = (
    (("yes", "no"), "no"), (("yes", "no"), "yes"),
    (("<=50K", ">50K"), ">50K"), (("<=50K", ">50K"), "<=50K"),
    ((0, 1), 0), ((0, 1), 1),
)
Reference = Callable[[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.float64], Any, list[Any]], float]


def relabel(y: pd.Series, labels: tuple[Any, Any], positive: Any) -> pd.Series:
    """A 'yes'/'no' target with its classes renamed: 'yes' becomes `positive`, 'no' the other label."""
    negative = labels[1] if labels[0] == positive else labels[0]
    return pd.Series(np.where(y == "yes", positive, negative), name=y.name, dtype=object if isinstance(positive, str)
                     else np.int64)


def _auc(y: Any, pred: Any, proba: Any, pos: Any, classes: list[Any]) -> float:
    return float(skm.roc_auc_score(y == pos, proba[:, classes.index(pos)]))


def _ratio(part: int) -> Reference:
    def ratio(y: Any, pred: Any, proba: Any, pos: Any, classes: list[Any]) -> float:
        labels = [next(c for c in classes if c != pos), pos]
        return float(skm.class_likelihood_ratios(y, pred, labels=labels, replace_undefined_by=1.0)[part])
    return ratio


def _averaged(function: Any) -> dict[str, Reference]:
    name = function.__name__.removesuffix("_score")
    table: dict[str, Reference] = {
        name: lambda y, pred, proba, pos, classes: float(function(y, pred, pos_label=pos)),
    }
    for average in ("macro", "weighted", "micro"):
        table[f"{name}_{average}"] = lambda y, pred, proba, pos, classes, a=average: float(function(y, pred, average=a))
    return table


# scorer name -> the direct computation (scikit-learn's sign: losses negated)
REFERENCE: dict[str, Reference] = {
    "accuracy": lambda y, pred, proba, pos, classes: float(skm.accuracy_score(y, pred)),
    "balanced_accuracy": lambda y, pred, proba, pos, classes: float(skm.balanced_accuracy_score(y, pred)),
    **_averaged(skm.precision_score), **_averaged(skm.recall_score), **_averaged(skm.f1_score),
    **_averaged(skm.jaccard_score),
    "roc_auc": _auc, "roc_auc_ovr": _auc, "roc_auc_ovr_weighted": _auc, "roc_auc_ovo": _auc,
    "roc_auc_ovo_weighted": _auc,
    "average_precision": lambda y, pred, proba, pos, classes: float(
        skm.average_precision_score(y, proba[:, classes.index(pos)], pos_label=pos)),
    "neg_log_loss": lambda y, pred, proba, pos, classes: -float(skm.log_loss(y, proba, labels=classes)),
    "neg_brier_score": lambda y, pred, proba, pos, classes: -float(
        skm.brier_score_loss(y, proba[:, classes.index(pos)], pos_label=pos)),
    "d2_brier_score": lambda y, pred, proba, pos, classes: float(
        skm.d2_brier_score(y, proba[:, classes.index(pos)], pos_label=pos)),
    "d2_log_loss_score": lambda y, pred, proba, pos, classes: float(skm.d2_log_loss_score(y, proba, labels=classes)),
    "top_k_accuracy": lambda y, pred, proba, pos, classes: float(  # binary: the greater label's score
        skm.top_k_accuracy_score(y, proba[:, 1], k=2, labels=classes)),
    "matthews_corrcoef": lambda y, pred, proba, pos, classes: float(skm.matthews_corrcoef(y, pred)),
    "positive_likelihood_ratio": _ratio(0),
    "neg_negative_likelihood_ratio": lambda y, pred, proba, pos, classes: -_ratio(1)(y, pred, proba, pos, classes),
}


def direct(model: Any, X: pd.DataFrame, y: pd.Series, positive: Any, names: Any) -> dict[str, float]:
    """Each named scorer's value for a fitted classifier, computed directly (probabilities from predict_proba)."""
    classes = list(model.classes_)
    proba, pred, truth = model.predict_proba(X), model.predict(X), y.to_numpy()
    return {name: REFERENCE[name](truth, pred, proba, positive, classes) for name in names}
