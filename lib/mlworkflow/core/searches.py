"""The searches `train` runs over a family's space, and what they return.

Four searches: "grid" (a few points per range), "random" (scipy distributions), "halving"
(scikit-learn's HalvingRandomSearchCV, stopped between rounds once the time budget is spent) and
"optuna" (TPE, a Bayesian search). Every candidate cross-validates the whole pipeline, so the
preprocessor is fitted inside each fold. A space maps pipeline parameter names to a list of choices
or a range {"low", "high"[, "log"][, "type"]}. Scores keep scikit-learn's sign (higher is better).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the class importable)
from sklearn.model_selection import HalvingRandomSearchCV, ParameterGrid, ParameterSampler
from tqdm import tqdm  # type: ignore[import-untyped]

from mlworkflow.core import crossval, families, metrics, oof, parallel
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.target import positive_label
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue, did_you_mean

if TYPE_CHECKING:
    import optuna

HALVING_FACTOR = 3
PRUNE_AFTER = 5  # Optuna trials always run to their last fold before the median pruner may stop one
# A tuned configuration replaces the family's defaults, and an ensemble the single model, only when its
# paired per-fold gain exceeds this many corrected standard errors (Nadeau & Bengio): the best of many noisy
# CV scores is biased upwards (the winner's curse), a single configuration fixed in advance is not.
CLEAR_GAIN_T = 1.0
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


def grid_values(spec: Any, points: int) -> list[Any]:
    """A list's choices, or `points` evenly (log-evenly) spaced values of a range, deduplicated."""
    if not isinstance(spec, Mapping):
        return list(spec)
    low, high = float(spec["low"]), float(spec["high"])
    values = np.geomspace(low, high, points) if spec.get("log") else np.linspace(low, high, points)
    if spec.get("type") == "int":
        return list(dict.fromkeys(int(np.rint(v)) for v in values))
    return list(dict.fromkeys(float(f"{v:.4g}") for v in values))


def to_grid(space: Mapping[str, Any], points: int) -> dict[str, list[Any]]:
    """The space as a grid for ParameterGrid."""
    return {name: grid_values(spec, points) for name, spec in space.items()}


def distribution(spec: Any) -> Any:
    """A list's choices, or a scipy distribution over a range (a log-spaced list for log ints)."""
    if not isinstance(spec, Mapping):
        return list(spec)
    low, high, log = spec["low"], spec["high"], bool(spec.get("log"))
    if spec.get("type") == "int":
        return grid_values(spec, 12) if log else randint(int(low), int(high) + 1)
    return loguniform(low, high) if log else uniform(low, high - low)


def to_distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """The space as distributions for ParameterSampler and HalvingRandomSearchCV."""
    return {name: distribution(spec) for name, spec in space.items()}


def suggest(trial: optuna.trial.Trial, name: str, spec: Any) -> Any:
    """Optuna's suggestion for one parameter (choices go through their JSON labels)."""
    if isinstance(spec, Mapping):
        low, high, log = spec["low"], spec["high"], bool(spec.get("log"))
        if spec.get("type") == "int":
            return trial.suggest_int(name, int(low), int(high), log=log)
        return trial.suggest_float(name, float(low), float(high), log=log)
    labels = {json.dumps(choice): choice for choice in spec}
    return labels[str(trial.suggest_categorical(name, list(labels)))]


# --- one candidate ---------------------------------------------------------------------------------


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


@contextmanager
def quiet() -> Iterator[None]:
    """Silence expected fit warnings (non-convergence, failed folds): trials record failures instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def progress_bar(total: int | None, label: str, enabled: bool) -> Any:
    """A text progress bar on stderr: out of stdout, so compared notebook outputs stay stable."""
    return tqdm(total=total, desc=label, unit="trial", file=sys.stderr, disable=not enabled, ncols=90)


def budget_note(done: int, planned: int | None) -> str:
    """The status of a search stopped by its time budget."""
    of = f" of {planned}" if planned else ""
    return f"stopped: time budget spent after {done}{of} trials"


# --- the four searches -----------------------------------------------------------------------------

Outcome = tuple[list[Trial], str]


def run_candidates(search: Search, candidates: Sequence[Mapping[str, Any]]) -> Outcome:
    """Evaluate candidates in order, stopping between two once the time budget is spent."""
    trials: list[Trial] = []
    with progress_bar(len(candidates), search.label, search.progress) as bar:
        for candidate in candidates:
            if trials and search.over_budget():
                return trials, budget_note(len(trials), len(candidates))
            trials.append(evaluate(search, candidate))
            bar.update()
    return trials, "completed"


def grid_search(search: Search, space: Mapping[str, Any], settings: SearchSettings) -> Outcome:
    """Every combination of `grid_points` values per range (and every choice of each list)."""
    return run_candidates(search, list(ParameterGrid(to_grid(space, settings.grid_points))))


def random_search(search: Search, space: Mapping[str, Any], settings: SearchSettings) -> Outcome:
    """`n_iter` candidates drawn at random (seeded) from the space's distributions."""
    sampler = ParameterSampler(to_distributions(space), settings.n_iter, random_state=search.seed)
    return run_candidates(search, list(sampler))


def standard_error(scores: Sequence[float]) -> float:
    """The standard error of a mean fold score (0 with fewer than two folds)."""
    return float(np.std(scores, ddof=1) / math.sqrt(len(scores))) if len(scores) > 1 else 0.0


@dataclass
class Patience:
    """Counts the trials in a row that did not beat the best by more than the best's fold standard error: a gain
    inside the folds' noise is no evidence that the search is still finding better settings."""

    limit: int | None
    best: float = -math.inf
    margin: float = 0.0
    stale: int = 0

    def spent(self, trial: Trial) -> bool:
        """Record a finished trial; whether `limit` trials in a row have now brought no gain above the noise."""
        if math.isfinite(trial.score) and trial.score > self.best + self.margin:
            self.best, self.margin, self.stale = trial.score, standard_error(trial.fold_scores), 0
        else:
            self.stale += 1
        return self.limit is not None and self.stale >= self.limit


def patience_note(done: int, planned: int, limit: int) -> str:
    """The status of a search stopped because its last `limit` trials gained nothing above the noise."""
    return f"stopped: {limit} trials in a row gained less than a fold standard error, after {done} of {planned} trials"


def pruning(trial: optuna.trial.Trial) -> oof.Stop:
    """Report a trial's mean fold score so far and ask Optuna's pruner whether to stop it."""

    def stop(done: int, mean: float) -> bool:
        trial.report(mean, done)
        return bool(trial.should_prune())

    return stop


def optuna_search(search: Search, space: Mapping[str, Any], settings: SearchSettings) -> Outcome:
    """`n_iter` trials of Optuna's TPE sampler (seeded), stopping early once the budget is spent or `patience`
    trials in a row gained less than a fold standard error (see `Patience`); after
    PRUNE_AFTER complete trials, the median pruner stops a trial whose mean fold score so far falls below
    the median of the earlier trials' after as many folds (its remaining folds are not fitted)."""
    import optuna

    trials: list[Trial] = []
    patience = Patience(settings.patience)

    def objective(trial: optuna.trial.Trial) -> float:
        candidate = {name: suggest(trial, name, spec) for name, spec in space.items()}
        trials.append(evaluate(search, candidate, pruning(trial)))
        if trials[-1].error.startswith("pruned"):
            raise optuna.TrialPruned()
        return trials[-1].score  # NaN marks the trial failed, and TPE ignores it

    def after_trial(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        bar.update()
        if search.over_budget() or patience.spent(trials[-1]):
            study.stop()

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=max(2, min(10, settings.n_iter // 3)))
    try:
        with progress_bar(settings.n_iter, search.label, search.progress) as bar:
            pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER, n_warmup_steps=0)
            study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
            study.optimize(objective, n_trials=settings.n_iter, callbacks=[after_trial])
    finally:
        optuna.logging.set_verbosity(verbosity)
    if len(trials) == settings.n_iter:
        return trials, "completed"
    if settings.patience is not None and patience.stale >= settings.patience:
        return trials, patience_note(len(trials), settings.n_iter, settings.patience)
    return trials, budget_note(len(trials), settings.n_iter)


class BudgetSpent(MlwError):
    """Raised between two successive-halving rounds once the time budget is spent."""


@dataclass
class RoundGuard:
    """Wraps HalvingRandomSearchCV's round evaluation: progress, the deadline, the results so far."""

    deadline: float
    bar: Any
    results: dict[str, Any] | None = None

    def wrap(self, evaluate_round: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """The guarded evaluation function handed to the search."""

        def guarded(candidates: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if self.results is not None and time.monotonic() > self.deadline:
                raise BudgetSpent("time budget spent")
            candidates = list(candidates)
            self.results = evaluate_round(candidates, *args, **kwargs)
            self.bar.update(len(candidates))
            return self.results

        return guarded


class GuardedHalving(HalvingRandomSearchCV):  # type: ignore[misc]
    """HalvingRandomSearchCV that reports each round and stops between rounds past a deadline.

    `_run_search` is scikit-learn's documented hook for custom search schedules; newer versions
    pass a `callback_ctx`, which is forwarded when present.
    """

    guard: RoundGuard

    def _run_search(self, evaluate_candidates: Callable[..., dict[str, Any]], *, callback_ctx: Any = None) -> None:
        extra = {} if callback_ctx is None else {"callback_ctx": callback_ctx}
        super()._run_search(self.guard.wrap(evaluate_candidates), **extra)


def halving_trials(results: Mapping[str, Any]) -> list[Trial]:
    """One Trial per candidate and round from a halving search's cv_results."""
    keys = ("params", "mean_test_score", "std_test_score", "mean_train_score", "iter", "n_resources")
    if not all(key in results for key in keys):
        return []
    rows = zip(*(results[key] for key in keys), strict=True)
    return [
        Trial({k: plain(v) for k, v in p.items()}, float(m), float(s), float(t), "failed" if math.isnan(m) else "", int(i), int(r))
        for p, m, s, t, i, r in rows
    ]


def halving_search(search: Search, space: Mapping[str, Any], settings: SearchSettings) -> Outcome:
    """Successive halving: `n_iter` random candidates on a few rows, the best third kept each round."""
    halving = GuardedHalving(
        search.estimator, to_distributions(space), n_candidates=settings.n_iter, factor=HALVING_FACTOR,
        min_resources="exhaust", cv=search.cv, scoring=search.scoring, refit=False, error_score=np.nan,
        return_train_score=True, random_state=search.seed, n_jobs=search.n_jobs,
    )
    halving.guard = RoundGuard(search.deadline, progress_bar(None, search.label, search.progress))
    status = "completed"
    with halving.guard.bar:
        try:
            halving.fit(search.X, search.y)
        except BudgetSpent:
            rounds = max((halving.guard.results or {}).get("iter", [-1])) + 1
            status = f"stopped: time budget spent after {rounds} successive-halving rounds"
        except crossval.CAUGHT as exc:
            status = f"failed: {last_line(exc)}"
    return halving_trials(halving.guard.results or {}), status


SEARCHES: dict[str, Callable[[Search, Mapping[str, Any], SearchSettings], Outcome]] = {
    "grid": grid_search,
    "random": random_search,
    "halving": halving_search,
    "optuna": optuna_search,
}


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
        trials, status = SEARCHES[settings.search](search, space, settings)
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


def reference(
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
    results += [reference(spec, X, y, settings, seed, metric, name) for name in at_defaults(names, also, spec.task)]
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
