"""Out-of-fold predictions: every training row predicted by the fit of the search's folds that did not see it.

The search keeps them for its best configuration (`searches.SearchResult.oof`) from the fits it runs anyway,
so calibration, the decision threshold and ensembles read them instead of refitting. Classifiers give their
`predict_proba` (columns follow `classes`) and, when the model has one, their decision function (what
calibration reads); regressors give `predict`. `to_frame` / `from_frame` are the artifact's layout
(`records.OOF`, `oof.parquet`): rows in the order of the training split, a `fold` column, a `target` column,
then `proba:<class>` per class (classes as text) or one `prediction` column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import cross_validate

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Split = tuple[IntArray, IntArray]

FOLD, TARGET, PREDICTION, PROBA = "fold", "target", "prediction", "proba:"


@dataclass(frozen=True)
class OutOfFold:
    """One configuration's held-out predictions on the training rows, in their order, and the fold of each row."""

    predictions: FloatArray  # (rows, classes) probabilities for a classifier, (rows,) predictions for a regressor
    fold: IntArray  # the fold that held each row out, 0 … n_folds - 1
    target: npt.NDArray[Any]  # the training rows' target, in the same order
    classes: tuple[Any, ...] = ()  # the columns of `predictions` (empty: a regressor)
    margins: FloatArray | None = None  # the decision function (a column for binary) when the model has one

    @property
    def n_folds(self) -> int:
        """How many folds the predictions come from."""
        return int(self.fold.max()) + 1

    @property
    def is_classifier(self) -> bool:
        """Whether the predictions are class probabilities."""
        return bool(self.classes)

    def response(self) -> FloatArray:
        """What a calibrator reads: the margins when the model has a decision function, else the probabilities."""
        return self.predictions if self.margins is None else self.margins

    def proba_of(self, label: Any) -> FloatArray:
        """The predicted probability of one class (compared as text, as the spec keeps labels)."""
        names = [str(c) for c in self.classes]
        return self.predictions[:, names.index(str(label))]

    def to_frame(self) -> pd.DataFrame:
        """The artifact's table: fold, target, then one column per class probability or the prediction."""
        frame = pd.DataFrame({FOLD: self.fold.astype(np.int64), TARGET: self.target})
        if not self.is_classifier:
            return frame.assign(**{PREDICTION: self.predictions})
        columns = {f"{PROBA}{c}": self.predictions[:, i] for i, c in enumerate(self.classes)}
        return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> OutOfFold:
        """Back from the artifact's table (classes as text; margins are not kept)."""
        proba = [c for c in frame.columns if str(c).startswith(PROBA)]
        fold, target = frame[FOLD].to_numpy(dtype=np.intp), frame[TARGET].to_numpy()
        if not proba:
            return cls(frame[PREDICTION].to_numpy(dtype=np.float64), fold, target)
        classes = tuple(str(c)[len(PROBA):] for c in proba)
        return cls(frame[proba].to_numpy(dtype=np.float64), fold, target, classes)


def fold_numbers(tests: Sequence[IntArray], rows: int) -> IntArray:
    """Each row's fold from the folds' held-out row positions."""
    fold = np.full(rows, -1, dtype=np.intp)
    for number, held in enumerate(tests):
        fold[held] = number
    return fold


def predict_held_out(model: Any, X: pd.DataFrame) -> tuple[FloatArray, FloatArray | None]:
    """A fitted fold model's predictions on its held-out rows: probabilities (or predict) and margins (or None)."""
    if not hasattr(model, "predict_proba"):
        return np.asarray(model.predict(X), dtype=np.float64), None
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if not hasattr(model, "decision_function"):
        return proba, None
    margins = np.asarray(model.decision_function(X), dtype=np.float64)
    return proba, margins.reshape(len(X), -1)


Part = tuple[IntArray, FloatArray, FloatArray | None]  # held-out rows, their predictions, their margins


def assemble(parts: Sequence[Part], y: pd.Series) -> OutOfFold:
    """The out-of-fold predictions from each fold's held-out rows and predictions (one part per fold); a
    classifier's probability columns follow its sorted classes, as scikit-learn's `classes_` do."""
    _, first, margins_first = parts[0]
    predictions = np.zeros((len(y), *first.shape[1:]))
    margins = None if margins_first is None else np.zeros((len(y), margins_first.shape[1]))
    for held, values, margin in parts:
        predictions[held] = values
        if margins is not None and margin is not None:
            margins[held] = margin
    folds = fold_numbers([held for held, _, _ in parts], len(y))
    classes = tuple(np.unique(np.asarray(y)).tolist()) if first.ndim == 2 else ()
    return OutOfFold(predictions, folds, np.asarray(y), classes, margins)


# --- a candidate's folds, batch by batch -----------------------------------------------------------------


@dataclass(frozen=True)
class Folds:
    """A candidate's fold scores (scorer sign; NaN for a failed fold), and its predictions when every fold scored."""

    test: tuple[float, ...]
    train: tuple[float, ...]
    planned: int
    oof: OutOfFold | None = None
    error: str = ""  # the last failed fold's reason

    @property
    def stopped(self) -> bool:
        """Whether the candidate was stopped before its last fold (pruned)."""
        return len(self.test) < self.planned


Stop = Callable[[int, float], bool]  # (folds done, mean score so far) → stop now?


def batches(splits: Sequence[Split], stop: Stop | None) -> list[list[Split]]:
    """All folds at once, or (when a candidate may be stopped) the first fold, then the others: where it may stop
    does not depend on how many processes fit them, so a seed gives the same trials on any machine."""
    cut = 1 if stop is not None else len(splits)
    return [batch for batch in (list(splits[:cut]), list(splits[cut:])) if batch]


def fold_batch(estimator: Any, X: pd.DataFrame, y: pd.Series, batch: list[Split], scoring: Any,
               n_jobs: int) -> tuple[list[float], list[float], list[Part]]:
    """One batch of folds fitted (processes when n_jobs ≠ 1): test and train scores, and held-out predictions."""
    scores = cross_validate(estimator, X, y, cv=batch, scoring=scoring, n_jobs=n_jobs, return_train_score=True,
                            return_estimator=True, error_score=np.nan)
    test, train = [float(v) for v in scores["test_score"]], [float(v) for v in scores["train_score"]]
    parts = [(held, *predict_held_out(model, X.iloc[held]))
             for model, (_, held), score in zip(scores["estimator"], batch, test, strict=True) if math.isfinite(score)]
    return test, train, parts


def mean_so_far(scores: Sequence[float]) -> float:
    """The mean of the folds that scored (NaN when none did)."""
    finite = [score for score in scores if math.isfinite(score)]
    return float(np.mean(finite)) if finite else math.nan


def cross_validate_folds(estimator: Any, X: pd.DataFrame, y: pd.Series, splits: Sequence[Split], scoring: Any,
                         n_jobs: int = 1, stop: Stop | None = None) -> Folds:
    """Cross-validate a candidate keeping each fold's held-out predictions; with `stop`, the first fold alone, then
    asking whether to go on. Raises the last error when every fold failed (scikit-learn's ValueError)."""
    test: list[float] = []
    train: list[float] = []
    parts: list[Part] = []
    error: ValueError | None = None
    for batch in batches(splits, stop):
        try:
            scores, trains, held = fold_batch(estimator, X, y, batch, scoring, n_jobs)
        except ValueError as exc:  # every fit of the batch failed
            scores, trains, held, error = [math.nan] * len(batch), [math.nan] * len(batch), [], exc
        test, train, parts = [*test, *scores], [*train, *trains], [*parts, *held]
        if stop is not None and len(test) < len(splits) and stop(len(test), mean_so_far(test)):
            break
    if error is not None and not np.isfinite(test).any():
        raise error
    complete = len(parts) == len(splits)
    oof = assemble(parts, y) if complete else None
    return Folds(tuple(test), tuple(train), len(splits), oof, "" if error is None else str(error))
