"""Stage `select`: compare model families by repeated cross-validation on the training split.

Every candidate is a Pipeline (preprocessing + model) refitted on each fold, so the preprocessing
never sees the fold it is scored on. All candidates share the same folds, which makes their
per-fold scores paired: the gap to the best is tested with the Nadeau & Bengio corrected
repeated k-fold t-test. Costs per candidate: fit and predict time per fold (wall clock, one
thread), and peak memory of one fit (`core.crossval` runs each candidate's folds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow.core import crossval, families
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.metrics import compared, deciding_scorer, display_name, get, issue, to_display
from mlworkflow.errors import DataError, ParamsError, ParamsIssue
from mlworkflow.params import SelectParams
from mlworkflow.records import SelectRecord

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
    families.check_task(task, key="data.task")
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


# --- data ------------------------------------------------------------------------------------


def subsample(frame: pd.DataFrame, spec: FeatureSpec, max_rows: int | None, seed: int) -> pd.DataFrame:
    """At most max_rows rows (seeded; stratified by class for classification), in original order."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    from sklearn.utils import resample

    stratify = frame[spec.target] if spec.task != "regression" else None
    sample = resample(frame, n_samples=max_rows, replace=False, stratify=stratify, random_state=seed)
    return pd.DataFrame(sample).sort_index()


# --- comparing them ----------------------------------------------------------------------------


def compare(
    pipelines: Mapping[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[crossval.Split],
    scorers: Mapping[str, Any],
    budget_s: float | None,
    n_jobs: int = 1,
) -> list[crossval.Outcome]:
    """Cross-validate every candidate on the same folds; candidates run in n_jobs processes."""
    from sklearn.utils.parallel import Parallel, delayed

    jobs = (
        delayed(crossval.cross_validate)(name, p, X, y, splits, scorers, budget_s) for name, p in pipelines.items()
    )
    return list(Parallel(n_jobs=n_jobs)(jobs))


# --- statistics and ranking ----------------------------------------------------------------------


def _mean_std(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None}
    return {"mean": round(float(np.mean(values)), 6), "std": round(float(np.std(values)), 6)}


def cost(outcome: crossval.Outcome) -> dict[str, float | None]:
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
    outcome: crossval.Outcome, best: crossval.Outcome | None, metric: str, sizes: tuple[int, int], alpha: float
) -> dict[str, Any]:
    """Gap to the best (≥ 0, in score units) and the corrected t-test of best > this candidate."""
    if outcome.status != "ok" or best is None:
        return {"gap": None, "p_value": None, "significant": None}
    mine, theirs = np.asarray(outcome.scores(metric)), np.asarray(best.scores(metric))
    gap = round(float(theirs.mean() - mine.mean()), 6)
    if outcome.family == best.family:
        return {"gap": 0.0, "p_value": None, "significant": False}
    _, p_value = crossval.corrected_ttest(theirs - mine, *sizes)
    return {"gap": gap, "p_value": round(p_value, 6), "significant": bool(p_value < alpha)}


def ranking_row(
    outcome: crossval.Outcome, metrics: Sequence[str], best: crossval.Outcome | None, sizes: tuple[int, int], alpha: float
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
    outcomes: Sequence[crossval.Outcome], metrics: Sequence[str], splits: Sequence[crossval.Split], alpha: float
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
    outcomes: Sequence[crossval.Outcome],
    splits: Sequence[crossval.Split],
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
