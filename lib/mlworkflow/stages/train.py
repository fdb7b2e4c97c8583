"""Stage `train`: tune the chosen model families, check over/underfitting, refit the best on all rows.

Four searches, chosen by `train.search`: "grid" (a few points per range), "random" (scipy
distributions), "halving" (scikit-learn's HalvingRandomSearchCV) and "optuna" (TPE, a Bayesian
search). Every search cross-validates the whole pipeline, so the preprocessor is fitted inside each
fold. Scores keep scikit-learn's sign (higher is better) until they are shown: errors such as
`neg_root_mean_squared_error` are reported as positive numbers under their plain name.
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import loguniform, randint, uniform
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the class importable)
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import (
    HalvingRandomSearchCV,
    KFold,
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
    cross_validate,
    learning_curve,
    validation_curve,
)
from tqdm import tqdm  # type: ignore[import-untyped]

from mlworkflow.core import families
from mlworkflow.errors import DataError, MlwError, ParamsError, ParamsIssue, did_you_mean
from mlworkflow.params import TrainParams
from mlworkflow.stages import select
from mlworkflow.stages.preprocess import FeatureSpec

if TYPE_CHECKING:
    import optuna

# The parameter whose validation curve shows over/underfitting best, per family (first one in the space).
CURVE_PARAMS: dict[str, tuple[str, ...]] = {
    "logistic": ("C", "alpha"),
    "decision_tree": ("max_depth", "min_samples_leaf"),
    "random_forest": ("min_samples_leaf", "max_depth"),
    "hist_gradient_boosting": ("max_leaf_nodes", "learning_rate"),
    "svm": ("C", "gamma"),
    "knn": ("n_neighbors",),
    "naive_bayes": ("var_smoothing",),
    "mlp": ("alpha",),
}
CURVE_POINTS = 6
LEARNING_SIZES = (0.2, 0.4, 0.6, 0.8, 1.0)
OVERFIT_GAP = 0.05  # relative train–validation gap above which the model overfits
STILL_LEARNING = 0.01  # relative validation gain over the last step above which more data would help
HALVING_FACTOR = 3


# --- inputs and metric ---------------------------------------------------------------------------


def split_xy(frame: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, pd.Series]:
    """The spec's feature columns and the target of a training frame."""
    missing = [c for c in (*spec.features, spec.target) if c not in frame.columns]
    if missing:
        raise DataError("is missing from the training frame; re-run stage 'preprocess'", missing[0], "train.parquet")
    return frame[list(spec.features)], frame[spec.target]


def families_to_tune(selection: Mapping[str, Any], top_k: int, task: str) -> tuple[str, ...]:
    """The first `top_k` families select chose, each checked to fit the task."""
    chosen = selection.get("chosen")
    names = [chosen] if isinstance(chosen, str) else list(chosen or [])
    if not names:
        raise DataError("has no 'chosen' model family; re-run stage 'select'", source="select.json")
    for name in names[:top_k]:
        families.check_family(str(name), task, key="select.json: chosen")
    return tuple(str(name) for name in names[:top_k])


def resolve_metric(metric: str, task: str, selected: str | None = None) -> str:
    """The scorer to tune for: `metric`, or for 'auto' the one select used, else the task's default."""
    name = metric if metric != "auto" else selected or select.AUTO_METRIC[task]
    names = sorted(get_scorer_names())
    if name not in names and f"neg_{name}" in names:
        name = f"neg_{name}"
    if name not in names:
        hint = did_you_mean(name, names)
        raise ParamsError("train", [ParamsIssue("train.metric", "a scikit-learn scorer name", repr(name), hint)])
    if (problem := select.metric_problem(name, task)) is not None:
        raise ParamsError("train", [ParamsIssue("train.metric", f"a scorer for a {task} task", f"'{name}' ({problem})")])
    return name


def score_sign(metric: str) -> float:
    """-1 for error scorers ('neg_…', shown as positive numbers), else 1."""
    return -1.0 if metric.startswith("neg_") else 1.0


def score_name(metric: str) -> str:
    """The metric's display name: 'neg_root_mean_squared_error' → 'root_mean_squared_error'."""
    return metric.removeprefix("neg_")


def make_scoring(metric: str, y: pd.Series, spec: FeatureSpec) -> Any:
    """The scorer, as select builds it (binary scorers that depend on it get the positive class)."""
    return select.make_scorer(metric, spec.task, select.positive_label(y, spec))


def make_cv(task: str, folds: int, seed: int) -> Any:
    """Shuffled K folds, stratified for classification."""
    splitter = KFold if task == "regression" else StratifiedKFold
    return splitter(n_splits=folds, shuffle=True, random_state=seed)


SEARCH_LABELS = {
    "grid": "grid search",
    "random": "random search",
    "halving": "successive halving (HalvingRandomSearchCV)",
    "optuna": "Bayesian search (Optuna, TPE sampler)",
}


def plan_table(names: Sequence[str], metric: str, params: TrainParams, rows: int) -> pd.DataFrame:
    """What this stage will do: families, metric, search, candidates, folds and time budget."""
    better = "lower" if score_sign(metric) < 0 else "higher"
    grid = params.search == "grid"
    plan = {
        "families": ", ".join(names),
        "metric": f"{score_name(metric)} ({better} is better)",
        "search": SEARCH_LABELS[params.search],
        "candidates": f"{params.grid_points} values per range" if grid else f"{params.n_iter} per family",
        "cross-validation": f"{params.folds} folds over {rows} training rows",
        "time budget": "none" if params.time_budget_s is None else f"{params.time_budget_s:g} s per family",
    }
    return pd.Series(plan, name="plan").to_frame()


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


REFERENCE = "hist_gradient_boosting"  # the default model every tuned model must beat in CV


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


def evaluate(search: Search, candidate: Mapping[str, Any]) -> Trial:
    """Cross-validate one candidate; if every fold fails it scores NaN and keeps the reason."""
    params = {name: plain(value) for name, value in candidate.items()}
    try:
        estimator = clone(search.estimator).set_params(**params)
        scores = cross_validate(
            estimator, search.X, search.y, cv=search.cv, scoring=search.scoring, n_jobs=search.n_jobs,
            return_train_score=True, error_score=np.nan,
        )
    except select.CAUGHT as exc:  # every fold failed (scikit-learn raises ValueError), or a bad parameter
        return Trial(params, math.nan, math.nan, math.nan, error=last_line(exc))
    test, train = np.asarray(scores["test_score"]), np.asarray(scores["train_score"])
    failed = int(np.isnan(test).sum())
    note = f"{failed} of {len(test)} folds failed" if failed else ""
    return Trial(params, float(np.mean(test)), float(np.std(test)), float(np.mean(train)), note)


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


def grid_search(search: Search, space: Mapping[str, Any], params: TrainParams) -> Outcome:
    """Every combination of `grid_points` values per range (and every choice of each list)."""
    return run_candidates(search, list(ParameterGrid(to_grid(space, params.grid_points))))


def random_search(search: Search, space: Mapping[str, Any], params: TrainParams) -> Outcome:
    """`n_iter` candidates drawn at random (seeded) from the space's distributions."""
    sampler = ParameterSampler(to_distributions(space), params.n_iter, random_state=search.seed)
    return run_candidates(search, list(sampler))


def optuna_search(search: Search, space: Mapping[str, Any], params: TrainParams) -> Outcome:
    """`n_iter` trials of Optuna's TPE sampler (seeded), stopping early once the budget is spent."""
    import optuna

    trials: list[Trial] = []

    def objective(trial: optuna.trial.Trial) -> float:
        trials.append(evaluate(search, {name: suggest(trial, name, spec) for name, spec in space.items()}))
        return trials[-1].score  # NaN marks the trial failed, and TPE ignores it

    def after_trial(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        bar.update()
        if search.over_budget():
            study.stop()

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=max(2, min(10, params.n_iter // 3)))
    try:
        with progress_bar(params.n_iter, search.label, search.progress) as bar:
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=params.n_iter, callbacks=[after_trial])
    finally:
        optuna.logging.set_verbosity(verbosity)
    done = len(trials) == params.n_iter
    return trials, "completed" if done else budget_note(len(trials), params.n_iter)


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


def halving_search(search: Search, space: Mapping[str, Any], params: TrainParams) -> Outcome:
    """Successive halving: `n_iter` random candidates on a few rows, the best third kept each round."""
    halving = GuardedHalving(
        search.estimator, to_distributions(space), n_candidates=params.n_iter, factor=HALVING_FACTOR,
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
        except select.CAUGHT as exc:
            status = f"failed: {last_line(exc)}"
    return halving_trials(halving.guard.results or {}), status


SEARCHES: dict[str, Callable[[Search, Mapping[str, Any], TrainParams], Outcome]] = {
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

    @property
    def best(self) -> Trial | None:
        """The best scored trial (successive halving: of the last round reached), or None."""
        scored = [t for t in self.trials if math.isfinite(t.score)]
        if not scored:
            return None
        last = max(t.iteration for t in scored)
        return max((t for t in scored if t.iteration == last), key=lambda t: t.score)

    @property
    def best_score(self) -> float:
        """The best trial's mean CV score (scikit-learn sign), -inf if none scored."""
        return self.best.score if self.best is not None else -math.inf


def deadline(budget_s: float | None) -> float:
    """The monotonic time at which a search with this budget must stop starting candidates."""
    return math.inf if budget_s is None else time.monotonic() + budget_s


def tune(
    spec: FeatureSpec, family: str, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int,
    metric: str, progress: bool = False,
) -> SearchResult:
    """Run the configured search for one family; failed trials and a spent budget are recorded, not raised."""
    estimator = families.make_pipeline(spec, family, seed)
    space = merge_space(family, spec.task, params.space)
    check_space(space, estimator, family)
    search = Search(
        estimator, X, y, make_cv(spec.task, params.folds, seed), make_scoring(metric, y, spec), params.n_jobs,
        seed, f"{family} ({params.search})", deadline(params.time_budget_s), progress,
    )
    with quiet():
        trials, status = SEARCHES[params.search](search, space, params)
        if status == "completed" and not any(math.isfinite(t.score) for t in trials):
            status = f"failed: {next((t.error for t in trials if t.error), 'no trial scored')}"
        trials = [*trials, defaults_trial(search, trials)]
    return SearchResult(family, params.search, metric, tuple(trials), status)


def defaults_trial(search: Search, trials: Sequence[Trial]) -> Trial:
    """The family's default configuration, always tried: tuning never ends below the defaults in CV."""
    last = max((t.iteration for t in trials), default=0)
    return dataclasses.replace(evaluate(search, {}), iteration=last)


def reference(
    spec: FeatureSpec, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int, metric: str
) -> SearchResult:
    """A default HistGradientBoosting, cross-validated like the searches: the bar a tuned model must clear."""
    estimator = families.make_pipeline(spec, REFERENCE, seed)
    search = Search(
        estimator, X, y, make_cv(spec.task, params.folds, seed), make_scoring(metric, y, spec), params.n_jobs,
        seed, f"{REFERENCE} (defaults)",
    )
    with quiet():
        trial = evaluate(search, {})
    return SearchResult(REFERENCE, "defaults", metric, (trial,), "completed" if not trial.error else trial.error)


def tune_all(
    spec: FeatureSpec, names: Sequence[str], X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int,
    metric: str, progress: bool = False,
) -> tuple[SearchResult, ...]:
    """Tune each family in turn (top_k of select's ranking), plus the default-HGB reference when not tuned."""
    results = [tune(spec, name, X, y, params, seed, metric, progress) for name in names]
    if REFERENCE not in names and REFERENCE in families.available(spec.task):
        results.append(reference(spec, X, y, params, seed, metric))
    return tuple(results)


def best_of(results: Sequence[SearchResult]) -> SearchResult:
    """The search whose best trial scored highest; MlwError if no search scored at all."""
    scored = [result for result in results if result.best is not None]
    if not scored:
        reasons = "; ".join(f"{result.family}: {result.status}" for result in results)
        raise MlwError(f"every search failed, no model to fit ({reasons})")
    return max(scored, key=lambda result: result.best_score)


def best_trial(result: SearchResult) -> Trial:
    """The result's best trial, or MlwError naming the family when it has none."""
    if result.best is None:
        raise MlwError(f"search for '{result.family}' has no scored trial ({result.status})")
    return result.best


def tuned_pipeline(spec: FeatureSpec, result: SearchResult, seed: int) -> Any:
    """The unfitted pipeline of the result's family with its best parameters."""
    return families.make_pipeline(spec, result.family, seed).set_params(**best_trial(result).params)


def fit_final(spec: FeatureSpec, result: SearchResult, X: pd.DataFrame, y: pd.Series, seed: int) -> Any:
    """The tuned pipeline fitted on all training rows."""
    with quiet():
        return tuned_pipeline(spec, result, seed).fit(X, y)


def same_predictions(model: Any, other: Any, X: pd.DataFrame) -> bool:
    """Whether two fitted pipelines predict exactly the same on X."""
    return bool(np.array_equal(np.asarray(model.predict(X)), np.asarray(other.predict(X))))


def final_summary(result: SearchResult, model: Any, reloaded: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The saved pipeline in words: steps, estimator, tuned parameters, rows, and the reload check."""
    tuned = {short_name(k): value_label(v) for k, v in best_trial(result).params.items()}
    summary = {
        "steps": " → ".join(name for name, _ in model.steps),
        "estimator": type(model.named_steps["model"]).__name__,
        **tuned,
        "fitted on rows": len(X),
        "reloaded model predicts identically": same_predictions(model, reloaded, X),
    }
    return pd.Series(summary, name="final model").to_frame()


# --- tables ----------------------------------------------------------------------------------------


def display_value(value: Any) -> Any:
    """A parameter value for a table cell (lists and None as text, floats to 4 significant digits)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value if isinstance(value, int | str | bool) else "None" if value is None else json.dumps(value)


def trials_table(result: SearchResult, top: int = 10, decimals: int = 4) -> pd.DataFrame:
    """The `top` best trials, best first: parameters, CV score (mean, sd) and the train score."""
    name, sign = score_name(result.metric), score_sign(result.metric)
    rows = [
        {
            "trial": number,
            **({"round": t.iteration, "rows": t.resources} if result.search == "halving" else {}),
            **{short_name(k): display_value(v) for k, v in t.params.items()},
            name: sign * t.score, "sd": t.std, f"train {name}": sign * t.train_score, "note": t.error,
        }
        for number, t in enumerate(result.trials, start=1)
    ]
    keys = [(-t.iteration, -t.score if math.isfinite(t.score) else math.inf) for t in result.trials]
    order = sorted(range(len(rows)), key=lambda i: keys[i])
    table = pd.DataFrame([rows[i] for i in order[:top]]).set_index("trial")
    if not table["note"].astype(bool).any():
        table = table.drop(columns="note")
    scores = [name, "sd", f"train {name}"]  # parameters already show 4 significant digits
    table[scores] = table[scores].round(decimals)
    return table


def search_table(results: Sequence[SearchResult], decimals: int = 4) -> pd.DataFrame:
    """One row per tuned family: trials run, best CV score (mean, sd) and how the search ended."""
    rows = []
    for result in results:
        best, sign = result.best, score_sign(result.metric)
        rows.append({
            "family": result.family,
            "search": result.search,
            "trials": len(result.trials),
            f"cv {score_name(result.metric)}": sign * best.score if best else math.nan,
            "sd": best.std if best else math.nan,
            "status": result.status,
        })
    return pd.DataFrame(rows).set_index("family").round(decimals)


# --- learning and validation curves ----------------------------------------------------------------


def is_number(value: Any) -> bool:
    """Whether a parameter value is a real number (booleans and None are choices)."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def curve_frame(x_name: str, x: Sequence[Any], train: Any, valid: Any, metric: str) -> pd.DataFrame:
    """Mean and sd of train and validation scores (display sign) per point of a curve."""
    train, valid, sign = np.asarray(train, dtype=float), np.asarray(valid, dtype=float), score_sign(metric)
    numeric = all(is_number(v) for v in x)
    return pd.DataFrame({
        x_name: pd.Series(list(x), dtype=None if numeric else object),  # keep None a choice, not NaN
        "train": sign * train.mean(axis=1),
        "train sd": train.std(axis=1),
        "validation": sign * valid.mean(axis=1),
        "validation sd": valid.std(axis=1),
    })


def learning_curve_frame(
    spec: FeatureSpec, result: SearchResult, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int
) -> pd.DataFrame:
    """Train and validation scores of the tuned pipeline as the number of training rows grows."""
    with quiet():
        sizes, train, valid = learning_curve(
            tuned_pipeline(spec, result, seed), X, y, train_sizes=np.array(LEARNING_SIZES),
            cv=make_cv(spec.task, params.folds, seed), scoring=make_scoring(result.metric, y, spec),
            n_jobs=params.n_jobs, shuffle=True, random_state=seed, error_score=np.nan,
        )
    return curve_frame("training rows", [int(s) for s in sizes], train, valid, result.metric)


def curve_param(family: str, space: Mapping[str, Any], requested: str | None) -> str:
    """The validation curve's parameter: the requested one, else the family's usual complexity knob."""
    if requested is not None:
        matches = [name for name in space if requested in (name, short_name(name))]
        if not matches:
            names = [short_name(name) for name in space]
            hint = did_you_mean(requested, names)
            issue = ParamsIssue("train.validation_param", f"a parameter of the search space ({', '.join(names)})",
                                repr(requested), hint)
            raise ParamsError("train", [issue])
        return matches[0]
    preferred = [name for knob in CURVE_PARAMS.get(family, ()) for name in space if short_name(name) == knob]
    ranges = [name for name, spec in space.items() if isinstance(spec, Mapping)]
    candidates = preferred or ranges or list(space)
    if not candidates:
        raise ParamsError("train", [ParamsIssue(f"train.space.{family}", "at least one parameter", "none")])
    return candidates[0]


def validation_curve_frame(
    spec: FeatureSpec, result: SearchResult, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int
) -> pd.DataFrame:
    """Train and validation scores as one parameter sweeps its range, the others at their tuned values."""
    space = merge_space(result.family, spec.task, params.space)
    name = curve_param(result.family, space, params.validation_param)
    values = grid_values(space[name], CURVE_POINTS)
    with quiet():
        train, valid = validation_curve(
            tuned_pipeline(spec, result, seed), X, y, param_name=name, param_range=values,
            cv=make_cv(spec.task, params.folds, seed), scoring=make_scoring(result.metric, y, spec),
            n_jobs=params.n_jobs, error_score=np.nan,
        )
    return curve_frame(short_name(name), values, train, valid, result.metric)


@dataclass(frozen=True)
class Diagnosis:
    """A short verdict and the sentence that explains it."""

    verdict: str
    sentence: str


NOT_CHECKED = Diagnosis("not checked", "The learning curve was skipped (`learning_curve = False`).")


def gap(row: pd.Series, metric: str) -> float:
    """How much better the train score is than the validation score (positive = train better)."""
    return float(score_sign(metric) * (row["train"] - row["validation"]))


def learning_diagnosis(curve: pd.DataFrame, metric: str) -> Diagnosis:
    """Over- or underfitting read from the learning curve: the final gap and the last gain."""
    last, name = curve.iloc[-1], score_name(metric)
    rows, train_score, valid_score = int(last.iloc[0]), float(last["train"]), float(last["validation"])
    absolute = gap(last, metric)
    relative = absolute / max(abs(valid_score), 1e-12)
    scores = f"train {name} {train_score:.4f} vs validation {valid_score:.4f} with {rows} rows"
    if relative > OVERFIT_GAP:
        verdict = "overfitting"
        text = (f"Overfitting: {scores}, a gap of {absolute:.4f} ({relative:.0%}); more data or stronger "
                "regularisation would help.")
    else:
        verdict = "no overfitting"
        text = (f"No sign of overfitting: {scores}, a gap of only {absolute:.4f} ({relative:.0%}); if the score "
                "is too low, the model underfits (try a more flexible model or less regularisation).")
    gain = 0.0 if len(curve) < 2 else score_sign(metric) * (valid_score - float(curve["validation"].iloc[-2]))
    if gain / max(abs(valid_score), 1e-12) > STILL_LEARNING:
        return Diagnosis(f"{verdict}, still learning", f"{text} The validation score still improves with more rows.")
    return Diagnosis(verdict, f"{text} The validation score has levelled off: more rows alone would help little.")


def value_label(value: Any) -> str:
    """A parameter value as short text."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def validation_diagnosis(curve: pd.DataFrame, metric: str) -> Diagnosis:
    """Where the validation score peaks, and which side of the range over- or underfits."""
    param, name, sign = str(curve.columns[0]), score_name(metric), score_sign(metric)
    valid = sign * curve["validation"].to_numpy(dtype=float)
    if not np.isfinite(valid).any():
        return Diagnosis("failed", f"Every fit of the {param} sweep failed.")
    best = int(np.nanargmax(valid))
    gaps = np.array([gap(row, metric) for _, row in curve.iterrows()])
    parts = [f"Validation {name} peaks at {param}={value_label(curve.iloc[best, 0])} "
             f"({curve['validation'].iloc[best]:.4f}, train {curve['train'].iloc[best]:.4f})."]
    widest = int(np.nanargmax(gaps))
    if widest != best and gaps[widest] > gaps[best]:
        parts.append(f"At {param}={value_label(curve.iloc[widest, 0])} the train–validation gap grows to "
                     f"{gaps[widest]:.4f}: overfitting.")
    weakest = int(np.nanargmin(sign * curve["train"].to_numpy(dtype=float)))
    if weakest not in (best, widest):
        parts.append(f"At {param}={value_label(curve.iloc[weakest, 0])} even the train score drops to "
                     f"{curve['train'].iloc[weakest]:.4f}: underfitting.")
    edge = best in (0, len(curve) - 1)
    if edge:
        parts.append(f"The peak is at the edge of the range tried: consider widening the range of {param}.")
    return Diagnosis("peak at edge" if edge else "peak inside range", " ".join(parts))


# --- plots -----------------------------------------------------------------------------------------


def curve_positions(values: pd.Series) -> tuple[np.ndarray[Any, Any], list[str] | None, bool]:
    """x positions, tick labels (None for a numeric axis) and whether a log scale suits them."""
    if not all(is_number(v) for v in values):
        return np.arange(len(values), dtype=float), [value_label(v) for v in values], False
    x = values.to_numpy(dtype=float)
    return x, None, bool(x.min() > 0 and x.max() / x.min() >= 20)


def tuned_value(result: SearchResult, param: str) -> Any:
    """The tuned value of a parameter, by its short name (None if it was not tuned)."""
    return next((v for k, v in best_trial(result).params.items() if short_name(k) == param), None)


def mark_position(mark: Any, labels: list[str] | None) -> float | None:
    """Where a value sits on a curve's x axis: itself (numeric axis), its tick's index, or None."""
    if mark is None:
        return None
    if labels is None:
        return float(mark)
    label = value_label(mark)
    return float(labels.index(label)) if label in labels else None


def plot_curve(curve: pd.DataFrame, metric: str, title: str, mark: Any = None) -> Figure:
    """Train and validation score (mean ± sd band) along a curve; `mark` draws the tuned value."""
    x, labels, log = curve_positions(curve.iloc[:, 0])
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for column, colour in (("train", "C0"), ("validation", "C1")):
        mean, sd = curve[column].to_numpy(dtype=float), curve[f"{column} sd"].to_numpy(dtype=float)
        ax.plot(x, mean, "o-", color=colour, label=column)
        ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.2)
    if labels is not None:
        ax.set_xticks(x, labels)
    if (at := mark_position(mark, labels)) is not None:
        ax.axvline(at, color="grey", linestyle="--", label="tuned value")
    if log:
        ax.set_xscale("log")
    ax.set(xlabel=str(curve.columns[0]), ylabel=score_name(metric), title=title)
    ax.legend()
    return fig


def plot_search(result: SearchResult) -> Figure:
    """Each trial's CV score in the order run, with the best so far (halving: coloured by round)."""
    sign = score_sign(result.metric)
    raw = np.array([t.score for t in result.trials], dtype=float)
    number = np.arange(1, len(raw) + 1)
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    if result.search == "halving":
        points = ax.scatter(number, sign * raw, c=[t.iteration for t in result.trials], cmap="viridis")
        fig.colorbar(points, ax=ax, label="round")
    else:
        ax.plot(number, sign * raw, "o", label="trial")
        best = np.fmax.accumulate(np.where(np.isnan(raw), -np.inf, raw))
        ax.step(number, sign * best, where="post", label="best so far")
        ax.legend()
    ax.set(xlabel="trial", ylabel=score_name(result.metric), title=f"{result.family}: {result.search} search")
    return fig


# --- the artifact --------------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """NaN as None and NumPy scalars as Python values, recursively (train.json stays strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    value = plain(value)
    return None if isinstance(value, float) and not math.isfinite(value) else value


def record(
    result: SearchResult, results: Sequence[SearchResult], diagnoses: Mapping[str, Diagnosis], top: int = 10
) -> dict[str, Any]:
    """The content of train.json: the chosen family, its best parameters and CV score, the trials."""
    best, name, sign = best_trial(result), score_name(result.metric), score_sign(result.metric)
    mean = sign * best.score
    fit = diagnoses["learning"].verdict if "learning" in diagnoses else "not checked"
    headline = {
        "model": result.family,
        f"cv {name}": f"{mean:.4f} ± {best.std:.4f}",
        "search": f"{result.search}, {len(result.trials)} trials",
        "fit": fit,
    }
    content: dict[str, Any] = json_ready({
        "family": result.family,
        "best_params": best.params,
        "cv_score": {"mean": mean, "std": best.std, "train_mean": sign * best.train_score},
        "metric": result.metric,
        "score_name": name,
        "greater_is_better": sign > 0,
        "search": result.search,
        "status": result.status,
        "n_trials": len(result.trials),
        "trials": trials_table(result, top).reset_index().to_dict(orient="records"),
        "searches": search_table(results).reset_index().to_dict(orient="records"),
        "diagnosis": {key: {"verdict": d.verdict, "sentence": d.sentence} for key, d in diagnoses.items()},
        "headline": headline,
    })
    return content
