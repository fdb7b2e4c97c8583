"""Class imbalance inside the pipeline: class weights on the model, or a ("resample", sampler) step.

`preprocess.imbalance`: "class_weight" gives the families that take it (`Family.class_weight`)
`class_weight="balanced"`; "undersample" (imbalanced-learn's RandomUnderSampler) and "smote" (`smote`:
SMOTE, SMOTE-NC or SMOTE-N by the columns) add a sampler to an imbalanced-learn Pipeline. The pipeline
runs a sampler in `fit` only and skips it at predict, so every fold resamples its own training rows
and a prediction is one row per input row. `smote` is recorded by name inside saved models (as the
function of a FunctionSampler), so its qualified name is part of the bundle format.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from imblearn import FunctionSampler
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from mlworkflow.core.steps import SMOTE_NEIGHBOURS, Imbalance
from mlworkflow.errors import ParamsError, ParamsIssue

DISTORTION = (
    "Resampling and class weights change the class frequencies the model learns from, so its probabilities "
    "no longer estimate the real frequencies: minority classes are predicted more often and with more "
    "confidence than they occur. Ranking metrics (ROC AUC) barely move; Brier score and log-loss show the cost. "
    "Recalibrate the probabilities, or move the decision threshold instead, when they must be read as chances."
)


def check_task(method: Imbalance, task: str) -> None:
    """A ParamsError naming preprocess.imbalance when it is set for regression (classes exist in classification only)."""
    if method != "none" and task == "regression":
        issue = ParamsIssue("preprocess.imbalance", "'none' for a regression task (it balances classes)", repr(method))
        raise ParamsError("preprocess", [issue])


def binary_columns(X: Any) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which columns hold only 0 and 1 (one-hot levels, flags), for a dense array or a sparse matrix."""
    return np.asarray((X == 1).sum(axis=0) == (X != 0).sum(axis=0)).ravel()


def smote(X: Any, y: np.ndarray[Any, Any], seed: int, k_neighbors: int = SMOTE_NEIGHBOURS) -> Any:
    """SMOTE on the model's inputs: columns holding only 0 and 1 (one-hot levels, flags) stay 0 or 1 (SMOTE-NC).

    With fewer minority rows than neighbours, fewer neighbours; with a single row, random oversampling.
    """
    binary = binary_columns(X)
    neighbours = min(k_neighbors, int(np.unique(y, return_counts=True)[1].min()) - 1)
    if neighbours < 1:
        return RandomOverSampler(random_state=seed).fit_resample(X, y)
    if binary.all():
        sampler: Any = SMOTEN(k_neighbors=neighbours, random_state=seed)
    elif binary.any():
        sampler = SMOTENC(np.flatnonzero(binary).tolist(), k_neighbors=neighbours, random_state=seed)
    else:
        sampler = SMOTE(k_neighbors=neighbours, random_state=seed)
    return sampler.fit_resample(X, y)


def make_sampler(method: Imbalance, seed: int) -> Any | None:
    """The unfitted sampler step for a method (None when the method resamples nothing)."""
    if method == "undersample":
        return RandomUnderSampler(random_state=seed)
    if method == "smote":
        return FunctionSampler(func=smote, kw_args={"seed": seed}, validate=True)
    return None


def family_note(method: Imbalance, family: str, takes_weights: bool) -> str:
    """What the imbalance method does to one family, in a sentence fragment for the reports."""
    if method == "class_weight":
        if takes_weights:
            return "class_weight='balanced': each class weighs as much in the loss"
        return f"unaffected: {family} takes no class weights (undersample or smote would balance it)"
    return {
        "none": "no imbalance handling",
        "undersample": "the larger classes randomly undersampled in each fit (never at predict)",
        "smote": "the smaller classes oversampled by SMOTE in each fit (never at predict)",
    }[method]


# Types skops does not trust by default that a fitted sampler step holds (the registry trusts them).
TRUSTED_TYPES: tuple[str, ...] = (
    "imblearn.pipeline.Pipeline",
    "imblearn.base.FunctionSampler",
    "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
    f"{smote.__module__}.{smote.__qualname__}",
)
