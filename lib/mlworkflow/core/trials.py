"""What every search is made of: its settings, its context, one candidate's cross-validation and its record.

`SearchSettings` say how to search; a `Search` holds what each candidate's evaluation needs (its `Leader` keeps
the best candidate's out-of-fold predictions); `evaluate` cross-validates one candidate and returns its `Trial`.
The strategies (core.strategies) and the tuning of each family (core.searches) share these.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from mlworkflow.core import crossval, oof

Kind = Literal["grid", "random", "halving", "optuna"]


@dataclass(frozen=True)
class SearchSettings:
    """How to search each family: which search, how many candidates, folds, processes, budget, space overrides.

    `space` holds the user's overrides per family and parameter (short names such as "C" allowed).
    """

    search: Kind
    n_iter: int
    grid_points: int
    folds: int
    n_jobs: int
    time_budget_s: float | None = None
    space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    patience: int | None = None  # Optuna: stop after this many trials in a row without a gain above the noise


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate: its parameters and CV scores (scikit-learn sign, higher is better)."""

    params: dict[str, Any]
    score: float
    std: float
    train_score: float
    error: str = ""
    iteration: int = 0  # successive-halving round
    resources: int = 0  # rows that round cross-validated on (successive halving)
    fold_scores: tuple[float, ...] = ()  # per fold, validation and train (empty for successive-halving rounds)
    fold_train_scores: tuple[float, ...] = ()


@dataclass
class Leader:
    """The best candidate so far of one search and its out-of-fold predictions (kept from the fits already run),
    and the defaults' (`params` {}), which stay the choice when no tuned candidate clearly beats them."""

    score: float = -math.inf
    params: dict[str, Any] | None = None
    predictions: oof.OutOfFold | None = None
    defaults: oof.OutOfFold | None = None

    def offer(self, trial: Trial, predictions: oof.OutOfFold | None) -> None:
        """Keep the trial's predictions when it beats the best so far (the first of equal scores stays) or is the
        defaults."""
        if predictions is not None and not trial.params:
            self.defaults = predictions
        if predictions is not None and math.isfinite(trial.score) and trial.score > self.score:
            self.score, self.params, self.predictions = trial.score, trial.params, predictions

    def of(self, trial: Trial) -> oof.OutOfFold | None:
        """The predictions of this trial's configuration, if it is the one kept or the defaults."""
        if not trial.params and self.defaults is not None:
            return self.defaults
        return self.predictions if trial.params == self.params and trial.score == self.score else None


@dataclass(frozen=True)
class Search:
    """What each candidate's evaluation needs: the pipeline, data, folds, scorer and limits."""

    estimator: Any
    X: pd.DataFrame
    y: pd.Series
    cv: Any
    scoring: Any
    n_jobs: int
    seed: int
    label: str = "search"
    deadline: float = math.inf  # time.monotonic() after which no new candidate starts
    progress: bool = False
    leader: Leader = field(default_factory=Leader)

    @property
    def splits(self) -> list[oof.Split]:
        """The search's folds as (train rows, held-out rows) positions."""
        return list(self.cv.split(self.X, self.y))

    def over_budget(self) -> bool:
        """Whether the time budget is spent."""
        return time.monotonic() > self.deadline


def plain(value: Any) -> Any:
    """NumPy scalars as Python values, so parameters are JSON-ready."""
    return value.item() if isinstance(value, np.generic) else value


def last_line(error: BaseException) -> str:
    """The last line of an error message, without a module path (the real cause of a failed fit)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return re.sub(r"^(?:\w+\.)+(\w+:)", r"\1", lines[-1]) if lines else type(error).__name__


def evaluate(search: Search, candidate: Mapping[str, Any], stop: oof.Stop | None = None) -> Trial:
    """Cross-validate one candidate (the search's leader keeps its out-of-fold predictions if it is the best so far);
    if every fold fails it scores NaN and keeps the reason; `stop` may prune it between folds (NaN, noted)."""
    params = {name: plain(value) for name, value in candidate.items()}
    try:
        estimator = clone(search.estimator).set_params(**params)
        folds = oof.cross_validate_folds(estimator, search.X, search.y, search.splits, search.scoring,
                                         search.n_jobs, stop)
    except crossval.CAUGHT as exc:  # every fold failed (scikit-learn raises ValueError), or a bad parameter
        return Trial(params, math.nan, math.nan, math.nan, error=last_line(exc))
    if folds.stopped:
        so_far = oof.mean_so_far(folds.test)
        note = f"pruned after {len(folds.test)} of {folds.planned} folds (mean so far {so_far:.4g})"
        return Trial(params, math.nan, math.nan, math.nan, error=note, fold_scores=folds.test)
    test, train = np.asarray(folds.test), np.asarray(folds.train)
    failed = int(np.isnan(test).sum())
    note = f"{failed} of {len(test)} folds failed" if failed else ""
    trial = Trial(params, float(np.mean(test)), float(np.std(test)), float(np.mean(train)), note,
                  fold_scores=folds.test, fold_train_scores=folds.train)
    search.leader.offer(trial, folds.oof)
    return trial
