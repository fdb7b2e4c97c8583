"""Stage `select`: compare model families by repeated cross-validation on the training split.

Every candidate is a Pipeline (preprocessing + model) refitted on each fold, so the preprocessing
never sees the fold it is scored on. All candidates share the same folds, which makes their
per-fold scores paired: the gap to the best is tested with the Nadeau & Bengio corrected
repeated k-fold t-test. Costs per candidate: fit and predict time per fold (wall clock, one
thread), and peak memory of one fit measured with `tracemalloc` (see `peak_memory`).
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

from mlworkflow.core import families
from mlworkflow.core.metrics import compared, deciding_scorer, display_name, get, issue, to_display
from mlworkflow.errors import DataError, ParamsError, ParamsIssue
from mlworkflow.params import SelectParams
from mlworkflow.records import SelectRecord
from mlworkflow.core.features import FeatureSpec

Split = tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, np.dtype[np.intp]]]

# Scores a fitted candidate can fail with (scikit-learn raises ValueError for most data problems).
CAUGHT = (ValueError, TypeError, ArithmeticError, MemoryError, np.linalg.LinAlgError)
IGNORED_WARNINGS = ("Found unknown categories",)  # expected: a fold holds categories unseen in training
MAX_NOTES = 3
STATUS_ORDER = {"ok": 0, "over budget": 1, "failed": 2}


# --- the plan: candidates and metrics for this task ----------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to compare: candidate families, skipped ones with the reason, metrics (deciding first)."""

    task: str
    candidates: tuple[str, ...]
    skipped: dict[str, str]
    metrics: tuple[str, ...]

    @property
    def metric(self) -> str:
        """The deciding metric (a scorer name)."""
        return self.metrics[0]


def resolve_metrics(metrics: Sequence[str], metric: str, task: str) -> tuple[str, ...]:
    """Expand "auto", check each scorer against the task; the deciding metric comes first (scorer names)."""
    families.check_task(task)
    deciding = deciding_scorer(task, [metric], "select")
    expanded = [m for name in metrics for m in (compared(task) if name == "auto" else (name,))]
    issues = [found for name in expanded if (found := issue(name, task, "select.metrics")) is not None]
    if issues:
        raise ParamsError("select", issues)
    return tuple(dict.fromkeys([deciding, *(str(get(name).scorer) for name in expanded)]))


def resolve_candidates(candidates: Sequence[str], task: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The candidates that fit the task, and {skipped family: reason}; unknown names raise."""
    for name in candidates:
        if name not in families.FAMILIES:
            families.check_family(name, task, key="select.candidates")
    fits = families.available(task)
    skipped = {name: f"classification only, not for {task}" for name in candidates if name not in fits}
    kept = tuple(name for name in candidates if name in fits)
    if not kept:
        raise ParamsError("select", [ParamsIssue("select.candidates", f"a family for task '{task}'", "none")])
    return kept, skipped


def plan(params: SelectParams, task: str) -> Plan:
    """The comparison to run for this task."""
    kept, skipped = resolve_candidates(params.candidates, task)
    return Plan(task, kept, skipped, resolve_metrics(params.metrics, params.metric, task))


# --- data and folds ------------------------------------------------------------------------------


def subsample(frame: pd.DataFrame, spec: FeatureSpec, max_rows: int | None, seed: int) -> pd.DataFrame:
    """At most max_rows rows (seeded; stratified by class for classification), in original order."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    from sklearn.utils import resample

    stratify = frame[spec.target] if spec.task != "regression" else None
    sample = resample(frame, n_samples=max_rows, replace=False, stratify=stratify, random_state=seed)
    return pd.DataFrame(sample).sort_index()


def make_splits(y: pd.Series, task: str, folds: int, repeats: int, seed: int) -> list[Split]:
    """The (train, test) index pairs every candidate shares: repeated (stratified) k-fold, seeded."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    kind = RepeatedKFold if task == "regression" else RepeatedStratifiedKFold
    cv = kind(n_splits=folds, n_repeats=repeats, random_state=seed)
    try:
        return list(cv.split(np.zeros((len(y), 1)), y))
    except ValueError as exc:
        raise DataError(
            f"cannot make {folds} folds of {len(y)} rows: {exc}", str(y.name), "select.folds"
        ) from None


# --- cross-validating one candidate --------------------------------------------------------------


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
    from sklearn.base import clone
    from sklearn.metrics import check_scoring

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


def _fold_loop(
    family: str,
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    scorers: Mapping[str, Any],
    budget_s: float | None,
) -> Outcome:
    done: list[Fold] = []
    elapsed = 0.0
    for index, split in enumerate(splits):
        try:
            fold = run_fold(pipeline, X, y, split, scorers, trace=index == 0)
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
) -> Outcome:
    """Run the folds in order; stop on the first error (status 'failed') or past the time budget.

    Native thread pools (OpenMP, BLAS) are capped at one thread, so fit times compare like with
    like across families and parallel candidates (`compare`'s n_jobs) do not oversubscribe the cores.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _fold_loop(family, pipeline, X, y, splits, scorers, budget_s)
    return Outcome(outcome.family, outcome.status, outcome.folds, outcome.message, warning_notes(caught))


def compare(
    pipelines: Mapping[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    scorers: Mapping[str, Any],
    budget_s: float | None,
    n_jobs: int = 1,
) -> list[Outcome]:
    """Cross-validate every candidate on the same folds; candidates run in n_jobs processes."""
    from sklearn.utils.parallel import Parallel, delayed

    jobs = (
        delayed(cross_validate)(name, p, X, y, splits, scorers, budget_s) for name, p in pipelines.items()
    )
    return list(Parallel(n_jobs=n_jobs)(jobs))


# --- statistics and ranking ----------------------------------------------------------------------


def corrected_ttest(differences: Sequence[float], n_train: int, n_test: int) -> tuple[float, float]:
    """One-sided corrected repeated k-fold t-test (Nadeau & Bengio) that mean(differences) > 0: (t, p).

    The variance of the k·r paired differences is inflated by (1/(k·r) + n_test/n_train), because
    the training sets of different folds overlap; the statistic follows Student's t with k·r - 1
    degrees of freedom.
    """
    from scipy.stats import t as student_t

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


def _mean_std(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None}
    return {"mean": round(float(np.mean(values)), 6), "std": round(float(np.std(values)), 6)}


def cost(outcome: Outcome) -> dict[str, float | None]:
    """Mean fit and predict seconds per fold (the traced fold's fit excluded when others ran), peak MiB."""
    if not outcome.folds:
        return {"fit_s": None, "predict_s": None, "peak_mb": None}
    untraced = outcome.folds[1:] or outcome.folds
    return {
        "fit_s": round(float(np.mean([f.fit_s for f in untraced])), 4),
        "predict_s": round(float(np.mean([f.predict_s for f in outcome.folds])), 4),
        "peak_mb": None if outcome.folds[0].peak_mb is None else round(outcome.folds[0].peak_mb, 2),
    }


def significance(
    outcome: Outcome, best: Outcome | None, metric: str, sizes: tuple[int, int], alpha: float
) -> dict[str, Any]:
    """Gap to the best (≥ 0, in score units) and the corrected t-test of best > this candidate."""
    if outcome.status != "ok" or best is None:
        return {"gap": None, "p_value": None, "significant": None}
    mine, theirs = np.asarray(outcome.scores(metric)), np.asarray(best.scores(metric))
    gap = round(float(theirs.mean() - mine.mean()), 6)
    if outcome.family == best.family:
        return {"gap": 0.0, "p_value": None, "significant": False}
    _, p_value = corrected_ttest(theirs - mine, *sizes)
    return {"gap": gap, "p_value": round(p_value, 6), "significant": bool(p_value < alpha)}


def ranking_row(
    outcome: Outcome, metrics: Sequence[str], best: Outcome | None, sizes: tuple[int, int], alpha: float
) -> dict[str, Any]:
    """One candidate's line of select.json's ranking (metrics in display units)."""
    shown = {display_name(m): _mean_std([to_display(m, s) for s in outcome.scores(m)]) for m in metrics}
    tested = significance(outcome, best, metrics[0], sizes, alpha)
    deciding = _mean_std(outcome.scores(metrics[0]))
    return {
        "family": outcome.family,
        "status": outcome.status,
        "message": outcome.message,
        "folds": len(outcome.folds),
        "score": deciding["mean"],
        "score_std": deciding["std"],
        "metrics": shown,
        **cost(outcome),
        **tested,
        "notes": list(outcome.notes),
    }


def rank(
    outcomes: Sequence[Outcome], metrics: Sequence[str], splits: Sequence[Split], alpha: float
) -> list[dict[str, Any]]:
    """Ranking rows: 'ok' candidates by mean deciding score (best first), then over budget, then failed."""
    ok = sorted(
        (o for o in outcomes if o.status == "ok"), key=lambda o: -float(np.mean(o.scores(metrics[0])))
    )
    rest = sorted((o for o in outcomes if o.status != "ok"), key=lambda o: STATUS_ORDER[o.status])
    sizes = (len(splits[0][0]), len(splits[0][1]))
    best = ok[0] if ok else None
    return [ranking_row(o, metrics, best, sizes, alpha) for o in [*ok, *rest]]


def choose(ranking: Sequence[Mapping[str, Any]], top_k: int) -> list[str]:
    """The top_k families that completed cross-validation, best first; none at all is an error."""
    ok = [str(row["family"]) for row in ranking if row["status"] == "ok"]
    if not ok:
        reasons = "; ".join(f"{row['family']}: {row['status']} ({row['message']})" for row in ranking)
        raise DataError(f"no candidate completed cross-validation — {reasons}", source="select")
    return ok[:top_k]


# --- the artifact --------------------------------------------------------------------------------


def headline(ranking: Sequence[Mapping[str, Any]], metric: str, chosen: Sequence[str]) -> dict[str, str]:
    """Short label: value pairs for the run's index page."""
    best = ranking[0]
    shown = best["metrics"][display_name(metric)]
    statuses = [row["status"] for row in ranking]
    counts = {status: statuses.count(status) for status in STATUS_ORDER if status in statuses}
    ties = [row["family"] for row in ranking[1:] if row["significant"] is False]
    return {
        "best family": str(best["family"]),
        display_name(metric): mean_pm_std(shown),
        "chosen": ", ".join(chosen),
        "candidates": ", ".join(f"{n} {status}" for status, n in counts.items()),
        "not significantly worse": ", ".join(ties) or "none",
    }


def record(
    chosen_plan: Plan,
    ranking: list[dict[str, Any]],
    outcomes: Sequence[Outcome],
    splits: Sequence[Split],
    params: SelectParams,
    rows: int,
    seed: int,
) -> SelectRecord:
    """The content of select.json."""
    chosen = choose(ranking, params.top_k)
    return SelectRecord.model_validate({
        "task": chosen_plan.task,
        "metric": chosen_plan.metric,
        "metrics": list(chosen_plan.metrics),
        "alpha": params.alpha,
        "cv": {
            "folds": params.folds,
            "repeats": params.repeats,
            "rows": rows,
            "seed": seed,
            "n_train": len(splits[0][0]),
            "n_test": len(splits[0][1]),
        },
        "time_budget_s": params.time_budget_s,
        "skipped": dict(chosen_plan.skipped),
        "ranking": ranking,
        "chosen": chosen,
        "scores": {
            o.family: [round(s, 6) for s in o.scores(chosen_plan.metric)] for o in outcomes if o.folds
        },
        "headline": headline(ranking, chosen_plan.metric, chosen),
    })


# --- score formatting (for the headline) and the candidates ---------------------------------------


def decimals_for(value: float) -> int:
    """Decimals that show a score sensibly: 4 for 0.9123, 2 for 12.34, none for 58,753."""
    size = abs(value)
    return 0 if size >= 1000 else 2 if size >= 10 else 4


def mean_pm_std(stats: Mapping[str, float | None] | None) -> str:
    """'0.9057 ± 0.0128' (or '58,753 ± 3,278'); '—' when there is nothing to show."""
    if not stats or stats["mean"] is None or stats["std"] is None:
        return "—"
    digits = decimals_for(stats["mean"])
    return f"{stats['mean']:,.{digits}f} ± {stats['std']:,.{digits}f}"


def build_candidates(spec: FeatureSpec, candidates: Sequence[str], seed: int) -> dict[str, Any]:
    """{family: unfitted Pipeline} for the candidates."""
    return {name: families.make_pipeline(spec, name, seed) for name in candidates}
