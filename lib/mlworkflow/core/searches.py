"""The tuning of each family `train` runs, what it returns, and how the results are ranked.

`tune` runs the configured search (core.strategies) over a family's space: its default space with the user's
overrides on top, checked against the pipeline. The family's defaults are always a trial and stay the choice
unless a tuned trial clearly beats them (`clearly_better`); `with_defaults` and `at_defaults` cross-validate
families with their defaults on the same folds. Every candidate cross-validates the whole pipeline, so the
preprocessor is fitted inside each fold. A space maps pipeline parameter names to a list of choices or a range
{"low", "high"[, "log"][, "type"]}. Scores keep scikit-learn's sign (higher is better).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from mlworkflow.core import crossval, families, metrics, oof, parallel, strategies
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.target import positive_label
from mlworkflow.core.trials import Search, SearchSettings, Trial, evaluate
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue, did_you_mean

# A tuned configuration replaces the family's defaults, and an ensemble the single model, only when its
# paired per-fold gain exceeds this many corrected standard errors (Nadeau & Bengio): the best of many noisy
# CV scores is biased upwards (the winner's curse), a single configuration fixed in advance is not.
CLEAR_GAIN_T = 1.0


def scorer(metric: str, y: pd.Series, spec: FeatureSpec, key: str = "metric") -> Any:
    """The scorer of a metric for the spec's task (binary scorers that depend on it get the positive class);
    `key` is the params key that named the metric."""
    return metrics.make_scorer(metric, spec.task, positive_label(y, spec.task, spec.positive_class), key)


# --- search spaces -------------------------------------------------------------------------------


def full_name(param: str, family: str, task: str) -> str:
    """'C' → the pipeline's name for it ('model__C', 'model__estimator__C'); routed names stay."""
    return param if "__" in param else f"model__{families.wrapper_prefix(family, task)}{param}"


def short_name(param: str) -> str:
    """The estimator's own name of a model parameter: 'model__estimator__C' → 'C'."""
    return param.rsplit("__", 1)[-1] if param.startswith("model__") else param


def merge_space(family: str, task: str, overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The family's default space with the user's overrides for it on top (per parameter)."""
    unknown = [name for name in overrides if name not in families.FAMILIES]
    if unknown:
        issues = [
            ParamsIssue(f"train.space.{name}", "a model family", "an unknown family", did_you_mean(name, families.FAMILIES))
            for name in unknown
        ]
        raise ParamsError("train", issues)
    space = families.search_space(family, task)
    space.update({full_name(name, family, task): spec for name, spec in overrides.get(family, {}).items()})
    return space


def check_space(space: Mapping[str, Any], estimator: Any, family: str) -> None:
    """Every parameter of the space exists on the pipeline, or a ParamsError with a hint."""
    known = sorted(estimator.get_params(deep=True))
    issues = [
        ParamsIssue(f"train.space.{family}.{name}", "a parameter of the pipeline", "an unknown name", did_you_mean(name, known))
        for name in space
        if name not in known
    ]
    if issues:
        raise ParamsError("train", issues)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence expected fit warnings (non-convergence, failed folds): trials record failures instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --- tuning ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """The trials of one family's search and how the search ended."""

    family: str
    search: str
    metric: str
    trials: tuple[Trial, ...]
    status: str = "completed"
    oof: oof.OutOfFold | None = field(default=None, compare=False)  # the best trial's, on the search's folds

    @property
    def top(self) -> Trial | None:
        """The highest-scoring trial (successive halving: of the last round reached), or None."""
        scored = [t for t in self.trials if math.isfinite(t.score)]
        if not scored:
            return None
        last = max(t.iteration for t in scored)
        return max((t for t in scored if t.iteration == last), key=lambda t: t.score)

    @property
    def defaults(self) -> Trial | None:
        """The family's default configuration, when it was tried and scored."""
        return next((t for t in self.trials if not t.params and math.isfinite(t.score)), None)

    @property
    def best(self) -> Trial | None:
        """The trial to keep: the highest-scoring one when it clearly beats the defaults (`clearly_better`), else
        the defaults; None when no trial scored."""
        top, defaults = self.top, self.defaults
        if top is None or defaults is None or clearly_better(top, defaults):
            return top
        return defaults

    @property
    def kept_defaults(self) -> bool:
        """Whether the defaults are kept although a tuned trial scored higher (its gain was inside the noise)."""
        top, best = self.top, self.best
        return top is not None and best is not None and top is not best

    @property
    def best_score(self) -> float:
        """The best trial's mean CV score (scikit-learn sign), -inf if none scored."""
        return self.best.score if self.best is not None else -math.inf


def clearly_better(trial: Trial, other: Trial, t_bar: float = CLEAR_GAIN_T) -> bool:
    """Whether `trial` beats `other` on the same folds by more than `t_bar` corrected standard errors of the paired
    per-fold gains (`crossval.corrected_ttest`; k folds hold out 1/k of the rows each). Trials whose fold scores do
    not pair up (successive-halving rounds keep none) cannot be tested: the higher mean score counts as clear."""
    mine, theirs = trial.fold_scores, other.fold_scores
    if len(mine) != len(theirs) or len(mine) < 2 or not np.isfinite([*mine, *theirs]).all():
        return trial.score > other.score
    return crossval.fold_gain_t(mine, theirs) > t_bar


def defaults_sentence(result: SearchResult) -> str:
    """Why the family's defaults were kept over a higher-scoring tuned trial ('' when they were not)."""
    top, defaults = result.top, result.defaults
    if not result.kept_defaults or top is None or defaults is None:
        return ""
    gain = float(np.mean(top.fold_scores) - np.mean(defaults.fold_scores))
    statistic = crossval.fold_gain_t(top.fold_scores, defaults.fold_scores)
    return (f"defaults kept: the best trial gained {gain:+.4f} over them on the same folds, "
            f"{statistic:.2f} corrected standard errors (the bar is {CLEAR_GAIN_T:g})")


def deadline(budget_s: float | None) -> float:
    """The monotonic time at which a search with this budget must stop starting candidates."""
    return math.inf if budget_s is None else time.monotonic() + budget_s


def tune(
    spec: FeatureSpec, family: str, X: pd.DataFrame, y: pd.Series, settings: SearchSettings, seed: int,
    metric: str, progress: bool = False, until: float | None = None,
) -> SearchResult:
    """Run the configured search for one family; failed trials and a spent budget are recorded, not raised.
    `until`: the monotonic time after which no candidate starts (default: `time_budget_s` from now)."""
    estimator = families.make_pipeline(spec, family, seed)
    space = merge_space(family, spec.task, settings.space)
    check_space(space, estimator, family)
    search = Search(
        estimator, X, y, crossval.make_cv(spec.task, settings.folds, seed), scorer(metric, y, spec),
        settings.n_jobs, seed, f"{family} ({settings.search})",
        deadline(settings.time_budget_s) if until is None else until, progress,
    )
    with quiet(), parallel.configured():  # fold fits in local processes, or on the run's Dask cluster
        trials, status = strategies.SEARCHES[settings.search](search, space, settings)
        if status == "completed" and not any(math.isfinite(t.score) for t in trials):
            status = f"failed: {next((t.error for t in trials if t.error), 'no trial scored')}"
        trials = [*trials, defaults_trial(search, trials)]
        result = SearchResult(family, settings.search, metric, tuple(trials), status)
        return dataclasses.replace(result, oof=best_out_of_fold(search, result))


def best_out_of_fold(search: Search, result: SearchResult) -> oof.OutOfFold | None:
    """The best trial's out-of-fold predictions: kept from its fits, or (successive halving, whose rounds keep no
    predictions) from one cross-validation of its configuration on all rows and the search's folds."""
    if result.best is None:
        return None
    kept = search.leader.of(result.best)
    if kept is not None:
        return kept
    try:
        estimator = clone(search.estimator).set_params(**result.best.params)
        return oof.cross_validate_folds(estimator, search.X, search.y, search.splits, search.scoring,
                                        search.n_jobs).oof
    except crossval.CAUGHT:
        return None


def defaults_trial(search: Search, trials: Sequence[Trial]) -> Trial:
    """The family's default configuration, always tried: tuning never ends below the defaults in CV."""
    last = max((t.iteration for t in trials), default=0)
    return dataclasses.replace(evaluate(search, {}), iteration=last)


def with_defaults(
    spec: FeatureSpec, X: pd.DataFrame, y: pd.Series, settings: SearchSettings, seed: int, metric: str,
    family: str = families.REFERENCE,
) -> SearchResult:
    """A family with its defaults, cross-validated like the searches (by default the reference family: the bar a tuned
    model must clear); it competes with the tuned families and joins their ensemble."""
    estimator = families.make_pipeline(spec, family, seed)
    search = Search(
        estimator, X, y, crossval.make_cv(spec.task, settings.folds, seed), scorer(metric, y, spec),
        settings.n_jobs, seed, f"{family} (defaults)",
    )
    with quiet(), parallel.configured():
        trial = evaluate(search, {})
    status = "completed" if not trial.error else trial.error
    return SearchResult(family, "defaults", metric, (trial,), status, search.leader.of(trial))


def at_defaults(names: Sequence[str], also: Sequence[str], task: str) -> list[str]:
    """The families cross-validated with their defaults only: `also` (in order) and the reference family, each once and
    when not tuned (`names`) and able to learn the task."""
    wanted = dict.fromkeys([*also, families.REFERENCE])
    return [name for name in wanted if name not in names and name in families.available(task)]


def tune_all(
    spec: FeatureSpec, names: Sequence[str], X: pd.DataFrame, y: pd.Series, settings: SearchSettings, seed: int,
    metric: str, progress: bool = False, also: Sequence[str] = (),
) -> tuple[SearchResult, ...]:
    """Tune each family in turn (top_k of select's ranking), then cross-validate `also` (select's other chosen
    families) and the reference family with their defaults when not tuned; `time_budget_s` is the wall time of all
    the searches together (a family starts no candidate once it is spent)."""
    until = deadline(settings.time_budget_s)
    results = [tune(spec, name, X, y, settings, seed, metric, progress, until) for name in names]
    results += [with_defaults(spec, X, y, settings, seed, metric, name) for name in at_defaults(names, also, spec.task)]
    return tuple(results)


def ranked(results: Sequence[SearchResult]) -> list[SearchResult]:
    """The searches that scored, best CV score first (ties keep their order). The default-HGB reference gets no
    head start: put ahead of every family that did not clearly beat it, it cost titanic 0.863 → 0.818 test ROC AUC
    and grades_303 0.654 → 0.590 balanced accuracy (benchmarks/quality.py), while the family-level winner's curse
    is already held in check by `clearly_better` against each family's own defaults."""
    return sorted((r for r in results if r.best is not None), key=lambda r: -r.best_score)


def best_of(results: Sequence[SearchResult]) -> SearchResult:
    """The first of the `ranked` searches; MlwError if no search scored at all."""
    order = ranked(results)
    if not order:
        reasons = "; ".join(f"{result.family}: {result.status}" for result in results)
        raise MlwError(f"every search failed, no model to fit ({reasons})")
    return order[0]


def best_trial(result: SearchResult) -> Trial:
    """The result's best trial, or MlwError naming the family when it has none."""
    if result.best is None:
        raise MlwError(f"search for '{result.family}' has no scored trial ({result.status})")
    return result.best


def tuned_pipeline(spec: FeatureSpec, result: SearchResult, seed: int) -> Any:
    """The unfitted pipeline of the result's family with its best parameters."""
    return families.make_pipeline(spec, result.family, seed).set_params(**best_trial(result).params)
