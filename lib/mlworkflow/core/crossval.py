"""Cross-validation shared by the stages: folds, one candidate's fold loop with its costs, the corrected t-test.

Every candidate of a comparison is refitted on the same folds, so per-fold scores are paired and
the Nadeau & Bengio corrected repeated k-fold t-test applies (`corrected_ttest`). A candidate's fold
loop records fit and predict time per fold (wall clock, one thread) and the peak memory of its first
fit, measured with `tracemalloc` (see `peak_memory`).
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    train_test_split,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from mlworkflow.core.metrics import display_name
from mlworkflow.errors import DataError

Split = tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, np.dtype[np.intp]]]

# Errors a fit or a score can fail with (scikit-learn raises ValueError for most data problems).
CAUGHT = (ValueError, TypeError, ArithmeticError, MemoryError, np.linalg.LinAlgError)
IGNORED_WARNINGS = ("Found unknown categories",)  # expected: a fold holds categories unseen in training
MAX_NOTES = 3


# --- folds ---------------------------------------------------------------------------------------


def make_cv(task: str, folds: int, seed: int) -> Any:
    """Shuffled K folds, stratified for classification."""
    splitter = KFold if task == "regression" else StratifiedKFold
    return splitter(n_splits=folds, shuffle=True, random_state=seed)


def sample_positions(y: pd.Series, task: str, max_rows: int | None, seed: int) -> np.ndarray[Any, np.dtype[np.intp]]:
    """Positions of at most `max_rows` rows of y, in order (seeded; stratified for classification); all below the cap.

    It reads y alone, so any stage holding the same target and seed draws the same rows again."""
    if max_rows is None or len(y) <= max_rows:
        return np.arange(len(y))
    stratify = None if task == "regression" else y.to_numpy()
    try:
        chosen, _ = train_test_split(np.arange(len(y)), train_size=max_rows, random_state=seed, stratify=stratify)
    except ValueError:  # too few rows left out to hold every class: a plain seeded sample
        chosen, _ = train_test_split(np.arange(len(y)), train_size=max_rows, random_state=seed)
    return np.sort(np.asarray(chosen, dtype=np.intp))


def make_splits(y: pd.Series, task: str, folds: int, repeats: int, seed: int, key: str = "folds") -> list[Split]:
    """The (train, test) index pairs every candidate shares: repeated (stratified) k-fold, seeded.

    A DataError names the params `key` that sets the folds when the rows are too few for them.
    """
    kind = RepeatedKFold if task == "regression" else RepeatedStratifiedKFold
    cv = kind(n_splits=folds, n_repeats=repeats, random_state=seed)
    try:
        return list(cv.split(np.zeros((len(y), 1)), y))
    except ValueError as exc:
        raise DataError(f"cannot make {folds} folds of {len(y)} rows: {exc}", str(y.name), key) from None


# --- one candidate's folds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fold:
    """One fold's scores (scorer sign: higher is better), times in seconds, peak memory in MiB."""

    scores: dict[str, float]
    fit_s: float
    predict_s: float
    peak_mb: float | None = None


@dataclass(frozen=True)
class Outcome:
    """One candidate's cross-validation: status ('ok', 'failed', 'over budget') and folds run."""

    family: str
    status: str
    folds: tuple[Fold, ...]
    message: str = ""
    notes: tuple[str, ...] = ()

    def scores(self, metric: str) -> list[float]:
        """Per-fold scores of one metric (scorer sign)."""
        return [fold.scores[metric] for fold in self.folds]


@contextmanager
def peak_memory(enabled: bool) -> Iterator[list[float]]:
    """Peak memory (MiB) allocated through Python's allocators while the block runs, via tracemalloc.

    It sees Python objects and NumPy arrays, not memory that C/C++ code allocates directly
    (libsvm's kernel cache, tree node buffers, OpenMP scratch space); tracing also slows
    Python-heavy fits, so only one fold per candidate is traced and its time is not reported.
    """
    box: list[float] = []
    if not enabled:
        yield box
        return
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        yield box
    finally:
        box.append((tracemalloc.get_traced_memory()[1] - start) / 2**20)
        if not was_tracing:
            tracemalloc.stop()


def run_fold(
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    split: Split,
    scorers: Mapping[str, Any],
    trace: bool = False,
) -> Fold:
    """Fit a fresh copy of the pipeline on the fold's training rows and score its test rows."""
    train, test = split
    model = clone(pipeline)
    with peak_memory(trace) as peak:
        start = time.perf_counter()
        model.fit(X.iloc[train], y.iloc[train])
        fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = check_scoring(model, scoring=dict(scorers))(model, X.iloc[test], y.iloc[test])
    predict_s = time.perf_counter() - start
    return Fold(
        {name: float(value) for name, value in scores.items()}, fit_s, predict_s, peak[0] if peak else None
    )


def warning_notes(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """The distinct warnings a candidate raised (first line each), at most MAX_NOTES."""
    notes = [
        f"{item.category.__name__}: {str(item.message).splitlines()[0][:160]}"
        for item in caught
        if issubclass(item.category, UserWarning | RuntimeWarning)
        and not any(text in str(item.message) for text in IGNORED_WARNINGS)
    ]
    return tuple(dict.fromkeys(notes))[:MAX_NOTES]


def fold_loop(
    family: str,
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    scorers: Mapping[str, Any],
    budget_s: float | None,
    trace: bool = True,
) -> Outcome:
    """The folds in order, stopping at the first error, non-finite score or past the time budget."""
    done: list[Fold] = []
    elapsed = 0.0
    for index, split in enumerate(splits):
        try:
            fold = run_fold(pipeline, X, y, split, scorers, trace=trace and index == 0)
        except CAUGHT as exc:
            reason = f"{type(exc).__name__} on fold {index + 1}: {str(exc).splitlines()[0][:300]}"
            return Outcome(family, "failed", tuple(done), reason)
        if not all(np.isfinite(value) for value in fold.scores.values()):
            bad = [display_name(name) for name, value in fold.scores.items() if not np.isfinite(value)]
            return Outcome(family, "failed", tuple(done), f"no finite {', '.join(bad)} on fold {index + 1}")
        done.append(fold)
        elapsed += fold.fit_s + fold.predict_s
        if budget_s is not None and elapsed > budget_s:
            reason = f"over its {budget_s:g} s budget after {index + 1} of {len(splits)} folds"
            return Outcome(family, "over budget", tuple(done), reason)
    return Outcome(family, "ok", tuple(done))


def cross_validate(
    family: str,
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    scorers: Mapping[str, Any],
    budget_s: float | None,
    trace: bool = True,
) -> Outcome:
    """Run the folds in order; stop on the first error (status 'failed') or past the time budget.

    `trace`: measure the peak memory of the first fold's fit (`peak_memory`; later repeats of a candidate skip it).

    Native thread pools (OpenMP, BLAS) are capped at one thread, so fit times compare like with
    like across families and candidates run in parallel processes do not oversubscribe the cores.
    """
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = fold_loop(family, pipeline, X, y, splits, scorers, budget_s, trace)
    return Outcome(outcome.family, outcome.status, outcome.folds, outcome.message, warning_notes(caught))


# --- paired comparison ---------------------------------------------------------------------------


def fold_gain_t(mine: Sequence[float], theirs: Sequence[float]) -> float:
    """The corrected t statistic (`corrected_ttest`) of the paired per-fold gains `mine - theirs` on k folds that each
    hold out 1/k of the rows; -inf with fewer than two pairs."""
    gains = np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float)
    return corrected_ttest(gains, len(gains) - 1, 1)[0] if len(gains) > 1 else -np.inf


def corrected_ttest(differences: Sequence[float], n_train: int, n_test: int) -> tuple[float, float]:
    """One-sided corrected repeated k-fold t-test (Nadeau & Bengio) that mean(differences) > 0: (t, p).

    The variance of the k·r paired differences is inflated by (1/(k·r) + n_test/n_train), because
    the training sets of different folds overlap; the statistic follows Student's t with k·r - 1
    degrees of freedom.
    """
    values = np.asarray(differences, dtype=float)
    if len(values) < 2:
        raise ValueError(f"the t-test needs at least 2 paired scores, got {len(values)}")
    mean = float(values.mean())
    variance = float(values.var(ddof=1)) * (1 / len(values) + n_test / n_train)
    if variance == 0.0:  # identical differences on every fold: the limit of the statistic
        if mean == 0.0:
            return 0.0, 0.5
        return (np.inf, 0.0) if mean > 0 else (-np.inf, 1.0)
    statistic = mean / np.sqrt(variance)
    return float(statistic), float(student_t.sf(statistic, df=len(values) - 1))
