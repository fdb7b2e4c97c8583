"""Feature selection inside the pipeline: a ("select", selector) step after the ColumnTransformer.

Being a pipeline step, the selector is refitted with the rest on every cross-validation fold, so it
never chooses features from the rows a fold is scored on. Three methods (`preprocess.feature_selection`),
each ranking the transformed features with a small forest of extremely randomized trees (`core.steps`
bounds their cost): "model" (scikit-learn's SelectFromModel, features above the mean importance),
"rfecv" (recursive elimination with inner cross-validation) and "permutation" (`PermutationSelector`:
scikit-learn's permutation importance on rows the trees were not fitted on). `PermutationSelector`
is recorded by name inside saved models, so its qualified name is part of the bundle format.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.feature_selection import RFECV, SelectFromModel, SelectorMixin
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from mlworkflow.core.steps import (
    PERMUTATION_HOLDOUT,
    PERMUTATION_REPEATS,
    RFECV_FOLDS,
    RFECV_STEP,
    SELECTOR_TREES,
    Selection,
)


def keep_mask(importances: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Features whose permutation lowered the score; the most important one when none did."""
    keep = np.asarray(importances > 0.0)
    if not keep.any():
        keep[int(np.argmax(importances))] = True
    return keep


class PermutationSelector(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    """Keeps the features whose permutation lowers the estimator's score on rows it was not fitted on."""

    def __init__(
        self,
        estimator: Any,
        n_repeats: int = PERMUTATION_REPEATS,
        holdout: float = PERMUTATION_HOLDOUT,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_repeats = n_repeats
        self.holdout = holdout
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PermutationSelector:
        """Fit a clone of the estimator on part of the rows, measure permutation importance on the rest."""
        values, target = validate_data(self, X, y, dtype=None, ensure_all_finite="allow-nan")
        counts = np.unique(target, return_counts=True)[1]
        stratify = target if is_classifier(self.estimator) and counts.min() >= 2 else None
        fit_X, held_X, fit_y, held_y = train_test_split(
            values, target, test_size=self.holdout, random_state=self.random_state, stratify=stratify
        )
        model = clone(self.estimator).fit(fit_X, fit_y)
        result = permutation_importance(
            model, held_X, held_y, n_repeats=self.n_repeats, random_state=self.random_state, n_jobs=1
        )
        self.importances_ = np.asarray(result.importances_mean)
        self.support_ = keep_mask(self.importances_)
        return self

    def _get_support_mask(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        check_is_fitted(self, "support_")
        support: np.ndarray[Any, np.dtype[np.bool_]] = self.support_
        return support

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the trees handle missing values (gradient boosting's inputs keep them)
        return tags


def selector_model(task: str, seed: int) -> Any:
    """The trees every method ranks features with."""
    cls = ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier
    return cls(n_estimators=SELECTOR_TREES, max_features="sqrt", random_state=seed, n_jobs=1)


def make_selector(method: Selection, task: str, seed: int) -> Any | None:
    """The unfitted selector step for a method (None for "none"); dense or sparse inputs alike."""
    if method == "none":
        return None
    model = selector_model(task, seed)
    if method == "model":
        selector: Any = SelectFromModel(model, threshold="mean")
    elif method == "rfecv":
        selector = RFECV(model, step=RFECV_STEP, cv=RFECV_FOLDS, min_features_to_select=1, n_jobs=1)
    else:
        selector = PermutationSelector(model, random_state=seed)
    return selector


def chosen_features(pipeline: Any) -> tuple[list[str], list[str]] | None:
    """(kept, dropped) transformed feature names of a fitted pipeline's selector; None without one."""
    selector = dict(pipeline.steps).get("select")
    if selector is None:
        return None
    known = getattr(selector, "feature_names_in_", None)  # a sparse input has none: ask the transformer
    names = [str(name) for name in (pipeline.named_steps["preprocess"].get_feature_names_out() if known is None else known)]
    mask = selector.get_support()
    return [n for n, k in zip(names, mask, strict=True) if k], [n for n, k in zip(names, mask, strict=True) if not k]


# Types skops does not trust by default that a fitted selector step holds (the registry trusts them).
TRUSTED_TYPES: tuple[str, ...] = (f"{PermutationSelector.__module__}.{PermutationSelector.__qualname__}",)
