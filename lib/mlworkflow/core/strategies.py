"""The four search strategies over a space, each within a time budget, and how each reads a space.

"grid" (a few points per range), "random" (scipy distributions), "halving" (scikit-learn's
HalvingRandomSearchCV, stopped between rounds once the time budget is spent) and "optuna" (TPE, a Bayesian
search, with median pruning between folds and an optional patience). Each strategy evaluates its candidates
with `trials.evaluate` and returns its trials and how it ended; `SEARCHES` maps a search's name to its strategy.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the class importable)
from sklearn.model_selection import HalvingRandomSearchCV, ParameterGrid, ParameterSampler
from tqdm import tqdm  # type: ignore[import-untyped]

from mlworkflow.core import crossval, oof
from mlworkflow.core.trials import Search, SearchSettings, Trial, evaluate, last_line, plain
from mlworkflow.errors import MlwError

if TYPE_CHECKING:
    import optuna

HALVING_FACTOR = 3
PRUNE_AFTER = 5  # Optuna trials always run to their last fold before the median pruner may stop one


# --- how each strategy reads a space ---------------------------------------------------------------


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


# --- the four searches -----------------------------------------------------------------------------

Outcome = tuple[list[Trial], str]


def progress_bar(total: int | None, label: str, enabled: bool) -> Any:
    """A text progress bar on stderr: out of stdout, so compared notebook outputs stay stable."""
    return tqdm(total=total, desc=label, unit="trial", file=sys.stderr, disable=not enabled, ncols=90)


def budget_note(done: int, planned: int | None) -> str:
    """The status of a search stopped by its time budget."""
    of = f" of {planned}" if planned else ""
    return f"stopped: time budget spent after {done}{of} trials"


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
