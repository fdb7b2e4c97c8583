"""LightGBM models that stop adding trees once rows held out of their own training stop improving.

LightGBM's scikit-learn API stops early only when `fit` is given an `eval_set` and the
`lightgbm.early_stopping` callback, and cross-validation, the searches and calibration call a plain
`fit(X, y)`. These subclasses hold the validation rows out inside `fit`, as scikit-learn's
HistGradientBoosting does, with its parameter names: `early_stopping` (True, False, or "auto": on above
AUTO_ROWS rows), `validation_fraction` (stratified for classifiers, seeded by `random_state`) and
`n_iter_no_change`. `n_estimators` is then the cap; the model keeps `best_iteration_` trees and predicts
with them. The classes keep LightGBM's names (so the service, SHAP and the drivers treat them as LightGBM);
skops stores them by their qualified names here, which the registry's trust list names.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import lightgbm
import numpy as np
from sklearn.model_selection import train_test_split

AUTO_ROWS = 10_000  # early_stopping="auto" holds rows out above this many, as HistGradientBoosting does
OWN_PARAMS = ("early_stopping", "validation_fraction", "n_iter_no_change")  # LightGBM reads two as aliases
EarlyStop = bool | Literal["auto"]


@contextmanager
def deprecated_eval_set() -> Iterator[None]:
    """Silence LightGBM 4.7's deprecation of `eval_set`: its replacement (eval_X, eval_y) leaves a classifier's
    validation labels unencoded (text classes fail), while eval_set's are encoded like the training labels."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The argument 'eval_set' is deprecated")
        yield


class EarlyStopping:
    """The held-out early stopping both models share (a mixin before LightGBM's class)."""

    early_stopping: EarlyStop
    validation_fraction: float
    n_iter_no_change: int
    random_state: Any

    def __init__(self, *, early_stopping: EarlyStop = "auto", validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, **kwargs: Any) -> None:
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        super().__init__(**kwargs)  # LightGBM's own parameters

    def stops_early(self, y: Any) -> bool:
        """Whether this fit holds rows out: asked to, and (classifiers) every class can give one row to each side."""
        if not (self.early_stopping is True or (self.early_stopping == "auto" and len(y) > AUTO_ROWS)):
            return False
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"The 'validation_fraction' parameter of {type(self).__name__} must be a float in the "
                             f"range (0.0, 1.0). Got {self.validation_fraction!r} instead.")
        if not self.stratified:
            return True
        _, counts = np.unique(np.asarray(y), return_counts=True)
        held = int(np.ceil(self.validation_fraction * len(y)))
        return bool(counts.min() >= 2 and len(counts) <= held <= len(y) - len(counts))

    @property
    def stratified(self) -> bool:
        """Whether the held-out rows keep the class shares (classifiers)."""
        return False

    def held_out(self, X: Any, y: Any, sample_weight: Any) -> dict[str, Any]:
        """The training rows and `fit`'s eval_set (and weights) of a seeded, stratified-for-classifiers split."""
        arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
        parts = train_test_split(*arrays, test_size=self.validation_fraction, random_state=self.random_state,
                                 stratify=y if self.stratified else None)
        fit = {"X": parts[0], "y": parts[2], "eval_set": [(parts[1], parts[3])]}
        if sample_weight is not None:
            fit |= {"sample_weight": parts[4], "eval_sample_weight": [parts[5]]}
        return fit

    def stopping_fit(self, X: Any, y: Any, sample_weight: Any, fit_params: dict[str, Any]) -> dict[str, Any]:
        """The arguments of LightGBM's own fit: as given, or on the kept rows with the held-out ones watched."""
        if "eval_set" in fit_params or "eval_X" in fit_params or not self.stops_early(y):
            return {"X": X, "y": y, "sample_weight": sample_weight, **fit_params}
        callbacks = [*(fit_params.pop("callbacks", None) or []),
                     lightgbm.early_stopping(self.n_iter_no_change, first_metric_only=True, verbose=False)]
        return {**self.held_out(X, y, sample_weight), **fit_params, "callbacks": callbacks}

    def _process_params(self, stage: str) -> dict[str, Any]:
        # LightGBM passes every parameter to its C++ core, which reads early_stopping and n_iter_no_change
        # as aliases of early_stopping_round: ours are handled here, in Python.
        params: dict[str, Any] = super()._process_params(stage)  # type: ignore[misc]
        return {name: value for name, value in params.items() if name not in OWN_PARAMS}


class LGBMClassifier(EarlyStopping, lightgbm.LGBMClassifier):  # type: ignore[misc]
    """lightgbm.LGBMClassifier that holds `validation_fraction` of its rows out (stratified) to stop early."""

    @property
    def stratified(self) -> bool:
        """Held-out rows keep the class shares."""
        return True

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> LGBMClassifier:  # type: ignore[override]
        """Fit, stopping once `n_iter_no_change` rounds bring no gain on the held-out rows (when it stops early)."""
        arguments = self.stopping_fit(X, y, sample_weight, fit_params)
        if "eval_set" in arguments and self.class_weight is not None:  # the watched loss weighs classes as training
            arguments.setdefault("eval_class_weight", [self.class_weight])
        with deprecated_eval_set():
            super().fit(**arguments)
        return self


class LGBMRegressor(EarlyStopping, lightgbm.LGBMRegressor):  # type: ignore[misc]
    """lightgbm.LGBMRegressor that holds `validation_fraction` of its rows out to stop early."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> LGBMRegressor:  # type: ignore[override]
        """Fit, stopping once `n_iter_no_change` rounds bring no gain on the held-out rows (when it stops early)."""
        with deprecated_eval_set():
            super().fit(**self.stopping_fit(X, y, sample_weight, fit_params))
        return self
