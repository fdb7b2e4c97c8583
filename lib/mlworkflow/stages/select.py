"""Stage `select`: compare model families by repeated cross-validation on the training split.

Every candidate is a Pipeline (preprocessing + model) refitted on each fold, so the preprocessing
never sees the fold it is scored on. All candidates share the same folds, which makes their
per-fold scores paired: the gap to the best is tested with the Nadeau & Bengio corrected
repeated k-fold t-test. Costs per candidate: fit and predict time per fold (wall clock, one
thread), and peak memory of one fit (`core.crossval` runs each candidate's folds).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from mlworkflow.core import crossval, families, imbalance, parallel, stability, steps
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.metrics import (
    compared,
    deciding_scorer,
    display_name,
    get,
    issue,
    make_scorers,
    to_display,
)
from mlworkflow.core.names import family_label, metric_label
from mlworkflow.core.target import positive_label
from mlworkflow.errors import DataError, ParamsError, ParamsIssue
from mlworkflow.params import SelectParams
from mlworkflow.records import SelectRecord

STATUS_ORDER = {"ok": 0, "over budget": 1, "failed": 2}
PRIOR_METRIC = "neg_log_loss"  # a classifier worse than the class prior on it is never chosen
CALIBRATION_METRICS = ("neg_brier_score", "neg_log_loss")  # what resampling and class weights distort
CALIBRATION_BINS = 10


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
    prior = [PRIOR_METRIC] if task != "regression" else []  # the check against the class prior reads it
    return tuple(dict.fromkeys([deciding, *(str(get(name).scorer) for name in expanded), *prior]))


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
    optional_after: int | None = None,
) -> list[crossval.Outcome]:
    """Cross-validate every candidate on the same folds; candidates run in n_jobs processes.

    `optional_after` (`FoldDesign.optional_after`, the folds of one repeat): the candidates run repeat by repeat,
    and a repeat after the first starts only when, at each completed candidate's pace so far, it ends within
    `budget_s` for every one of them, so all are compared on the same repeats and no fit is wasted.
    """
    per_repeat = optional_after or len(splits)
    outcomes = run_candidates(pipelines, X, y, splits[:per_repeat], scorers, budget_s, n_jobs, trace=True)
    for start in range(per_repeat, len(splits), per_repeat):
        slow = past_budget(outcomes, start // per_repeat, budget_s)
        if slow:
            return stopped(outcomes, slow, start // per_repeat, len(splits) // per_repeat, budget_s)
        going = {o.family: pipelines[o.family] for o in outcomes if o.status == "ok"}
        more = run_candidates(going, X, y, splits[start : start + per_repeat], scorers, None, n_jobs, trace=False)
        outcomes = [joined(o, more, start // per_repeat + 1) for o in outcomes]
    return outcomes


def run_candidates(
    pipelines: Mapping[str, Any], X: pd.DataFrame, y: pd.Series, splits: Sequence[crossval.Split],
    scorers: Mapping[str, Any], budget_s: float | None, n_jobs: int, trace: bool,
) -> list[crossval.Outcome]:
    """Every candidate cross-validated on these folds, in n_jobs processes (or on the run's Dask cluster)."""
    from sklearn.utils.parallel import Parallel, delayed

    jobs = (
        delayed(crossval.cross_validate)(name, p, X, y, splits, scorers, budget_s, trace)
        for name, p in pipelines.items()
    )
    with parallel.configured():  # local processes, or the run's Dask cluster
        return list(Parallel(n_jobs=parallel.fit_jobs(n_jobs))(jobs))


def past_budget(outcomes: Sequence[crossval.Outcome], repeats_done: int, budget_s: float | None) -> list[str]:
    """The completed candidates whose next repeat, at their pace so far, would end past the budget."""
    if budget_s is None:
        return []
    spent = {o.family: sum(f.fit_s + f.predict_s for f in o.folds) for o in outcomes if o.status == "ok"}
    return [family for family, seconds in spent.items() if seconds * (1 + 1 / repeats_done) > budget_s]


def stopped(outcomes: Sequence[crossval.Outcome], slow: Sequence[str], done: int, planned: int,
            budget_s: float | None) -> list[crossval.Outcome]:
    """The outcomes after the repeats stopped early, the candidates that set the limit saying so."""
    why = f"its next repeat would pass the {budget_s:g} s budget: every candidate ran {done} of {planned} repeats"
    return [dataclasses.replace(o, message=why) if o.family in slow else o for o in outcomes]


def joined(outcome: crossval.Outcome, more: Sequence[crossval.Outcome], repeat: int) -> crossval.Outcome:
    """A candidate's outcome with its next repeat's folds (a failure there fails it, naming the repeat), notes merged."""
    found = [m for m in more if m.family == outcome.family]
    if not found:
        return outcome
    nxt = found[0]
    notes = tuple(dict.fromkeys([*outcome.notes, *nxt.notes]))[: crossval.MAX_NOTES]
    message = f"{nxt.message} (repeat {repeat})" if nxt.message else ""
    return crossval.Outcome(outcome.family, nxt.status, outcome.folds + nxt.folds, message, notes)


def fold_design(params: SelectParams, rows: int) -> stability.FoldDesign:
    """The folds to compare on for this many rows (`select.repeats`, "auto": `stability.auto_repeats`)."""
    return stability.design(params.folds, params.repeats, rows)


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


def choose(ranking: Sequence[Mapping[str, Any]], top_k: int, untrusted: Mapping[str, str] | None = None) -> list[str]:
    """The top_k families that completed cross-validation, best first, leaving out those whose probabilities are
    `untrusted` (family: reason). When every one is untrusted, all go on: raw probabilities of a small-data model
    are often overconfident, and train keeps one only if calibrated it beats the prior (else it stops)."""
    ok = [str(row["family"]) for row in ranking if row["status"] == "ok"]
    if not ok:
        reasons = "; ".join(f"{row['family']}: {row['status']} ({row['message']})" for row in ranking)
        raise DataError(f"no candidate completed cross-validation — {reasons}", source="select")
    kept = [family for family in ok if family not in (untrusted or {})]
    return (kept or ok)[:top_k]


# --- probabilities no worse than the class prior's ------------------------------------------------


def prior_outcome(y: pd.Series, splits: Sequence[crossval.Split], scorers: Mapping[str, Any]) -> crossval.Outcome | None:
    """The class prior (the dummy baseline) cross-validated on the candidates' folds; None for regression."""
    if PRIOR_METRIC not in scorers:
        return None
    from sklearn.dummy import DummyClassifier

    X = pd.DataFrame({"constant": np.zeros(len(y))}, index=y.index)
    scorer = {PRIOR_METRIC: scorers[PRIOR_METRIC]}
    return crossval.cross_validate("class prior", DummyClassifier(strategy="prior"), X, y, splits, scorer, None)


def untrusted(outcomes: Sequence[crossval.Outcome], prior: crossval.Outcome | None) -> dict[str, str]:
    """{family: reason} for the completed candidates whose mean out-of-fold log-loss is worse than the prior's."""
    if prior is None or not prior.folds:
        return {}
    bar = -float(np.mean(prior.scores(PRIOR_METRIC)))
    losses = {o.family: -float(np.mean(o.scores(PRIOR_METRIC))) for o in outcomes if o.status == "ok"}
    return {
        family: f"out-of-fold log-loss {loss:.4f} is worse than the class prior's {bar:.4f}: its probabilities "
        "would mislead, whatever the deciding metric says"
        for family, loss in losses.items() if loss > bar
    }


def prior_check(outcomes: Sequence[crossval.Outcome], prior: crossval.Outcome | None) -> dict[str, Any] | None:
    """select.json's record of the check (None for regression)."""
    if prior is None or not prior.folds:
        return None
    return {"prior_log_loss": round(-float(np.mean(prior.scores(PRIOR_METRIC))), 6),
            "untrusted": untrusted(outcomes, prior)}


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


def untrusted_headline(checked: Mapping[str, Any] | None, chosen: Sequence[str] = ()) -> dict[str, str]:
    """The headline's line naming the families whose probabilities are worse than the prior's (none: no line),
    saying so when they were passed on because every candidate was (train calibrates and checks again)."""
    names = list(checked["untrusted"]) if checked else []
    passed_on = " — every candidate was: train calibrates and checks again" if set(chosen) & set(names) else ""
    return {"worse than the class prior": ", ".join(names) + passed_on} if names else {}


def record(
    chosen_plan: Plan,
    ranking: list[dict[str, Any]],
    outcomes: Sequence[crossval.Outcome],
    splits: Sequence[crossval.Split],
    params: SelectParams,
    rows: int,
    seed: int,
    effect: Mapping[str, Any] | None = None,
    prior: crossval.Outcome | None = None,
) -> SelectRecord:
    """The content of select.json; `effect` is what the optional steps did (`step_effect`), `prior` the class prior
    cross-validated on the same folds (`prior_outcome`; None for regression): worse families are not chosen."""
    checked = prior_check(outcomes, prior)
    order = choose(ranking, len(ranking), checked["untrusted"] if checked else None)
    steadier = prefer_steadier(order, outcomes, chosen_plan.metric, splits, params.alpha)
    chosen = chosen_first(order, steadier)[: params.top_k]
    steadiness = stability_record(steadier, order[0], outcomes, chosen_plan.metric)
    cv = cv_record(fold_design(params, rows), outcomes, splits, seed)
    shown = {} if effect is None else effect_headline(effect, chosen_plan.metric)
    return SelectRecord.model_validate({
        "task": chosen_plan.task,
        "metric": chosen_plan.metric,
        "metrics": list(chosen_plan.metrics),
        "alpha": params.alpha,
        "cv": cv,
        "time_budget_s": params.time_budget_s,
        "skipped": dict(chosen_plan.skipped),
        "ranking": ranking,
        "chosen": chosen,
        "scores": {
            o.family: [round(s, 6) for s in o.scores(chosen_plan.metric)] for o in outcomes if o.folds
        },
        "steps": effect,
        "probabilities": checked,
        "stability": steadiness,
        "headline": {**headline(ranking, chosen_plan.metric, chosen), **shown, **untrusted_headline(checked, chosen),
                     **cv_headline(cv), **choice_headline(steadiness)},
    })


# --- small data: repeats, and the steadier of the candidates the test cannot tell apart --------------


def cv_record(design: stability.FoldDesign, outcomes: Sequence[crossval.Outcome], splits: Sequence[crossval.Split],
              seed: int) -> dict[str, Any]:
    """select.json's folds: the repeats planned, those every completed candidate ran (compared), and the rule."""
    ran = [len(o.folds) for o in outcomes if o.status == "ok"] or [len(splits)]
    return {
        "folds": design.folds, "repeats": max(1, min(ran) // design.folds), "rows": design.rows, "seed": seed,
        "n_train": len(splits[0][0]), "n_test": len(splits[0][1]), "planned": design.repeats, "rule": design.rule,
    }


def cv_headline(cv: Mapping[str, Any]) -> dict[str, str]:
    """The folds, for the run's index page when auto repeats set them (none when the params fixed them)."""
    if not str(cv["rule"]).startswith("auto"):
        return {}
    cut = f" (of {cv['planned']} planned: time budget)" if cv["repeats"] < cv["planned"] else ""
    return {"cross-validation": f"{cv['folds']} folds × {cv['repeats']} repeats{cut}, {cv['rows']:,} rows"}


def prefer_steadier(order: Sequence[str], outcomes: Sequence[crossval.Outcome], metric: str,
                    splits: Sequence[crossval.Split], alpha: float) -> stability.Preference | None:
    """The family to choose over the best eligible one (`order[0]`) because it is steadier (`stability.steadiest`)."""
    scores = {o.family: o.scores(metric) for o in outcomes if o.family in order}
    return stability.steadiest(order[0], scores, order, (len(splits[0][0]), len(splits[0][1])), alpha)


def chosen_first(order: Sequence[str], steadier: stability.Preference | None) -> list[str]:
    """The eligible families in choice order: the steadier one first when there is one, then by mean score."""
    first = [steadier.family] if steadier is not None else []
    return [*first, *(family for family in order if family not in first)]


def stability_record(steadier: stability.Preference | None, best: str, outcomes: Sequence[crossval.Outcome],
                     metric: str) -> dict[str, Any]:
    """select.json's stability part: the rule, the preference (None: the best stays first) and its sentence."""
    scores = {o.family: o.scores(metric) for o in outcomes}
    return {"rule": stability.RULE, "preferred": None if steadier is None else steadier.as_dict(),
            "sentence": preference_sentence(steadier, best, scores[best], display_name(metric))}


def preference_sentence(steadier: stability.Preference | None, best: str, scores: Sequence[float], name: str) -> str:
    """Why the first family was chosen, in one sentence (score units as shown)."""
    digits = decimals_for(abs(float(np.mean(scores)))) if scores else 4
    if steadier is None:
        spread = f"{float(np.std(scores)):,.{digits}f}" if scores else "—"
        return (f"{family_label(best)} chosen: the best mean {metric_label(name)}; no candidate whose gap is not significant varies clearly "
                f"less (fold sd {spread}, ratio bar {stability.steadier_ratio(len(scores)):.2f}).")
    one = steadier
    return (f"{family_label(one.family)} chosen over {family_label(one.over)}: the gap ({one.gap:,.{digits}f}) is not significant "
            f"(p = {one.p_value:.2f}) and its fold scores vary less (sd {one.std:,.{digits}f} vs "
            f"{one.std_over:,.{digits}f}, below {one.ratio_bar:.2f} × over {one.folds} folds).")


def choice_headline(steadiness: Mapping[str, Any]) -> dict[str, str]:
    """The headline's line on a steadier family chosen over the best-scoring one (none when the best stays first)."""
    return {"choice": str(steadiness["sentence"])} if steadiness["preferred"] is not None else {}


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


# --- what the optional steps did: the chosen family with and without them, on the same folds -------


def without_steps(spec: FeatureSpec) -> FeatureSpec:
    """The spec with no feature selection and no imbalance handling (the comparison's baseline)."""
    settings = spec.transformer.model_copy(update={"feature_selection": "none", "imbalance": "none"})
    return spec.model_copy(update={"transformer": settings})


def prior_gate(
    spec: FeatureSpec, y: pd.Series, splits: Sequence[crossval.Split], scorers: Mapping[str, Any]
) -> crossval.Outcome | None:
    """The class prior to hold candidates' raw probabilities to (`prior_outcome`), or None with imbalance handling.

    Resampling and class weights distort probabilities by design (bank marketing with SMOTE: every family's
    out-of-fold log-loss above the prior's), so select then compares on the deciding metric alone and
    `train` checks the tuned model against the prior after calibrating it.
    """
    return None if spec.transformer.imbalance != "none" else prior_outcome(y, splits, scorers)


def has_steps(spec: FeatureSpec) -> bool:
    """Whether preprocess asked for feature selection or imbalance handling."""
    return spec.transformer.feature_selection != "none" or spec.transformer.imbalance != "none"


def step_notes(spec: FeatureSpec, candidates: Sequence[str]) -> dict[str, str]:
    """What the optional steps do to each candidate family, in one sentence each."""
    settings, notes = spec.transformer, {}
    for name in candidates:
        parts = [steps.selection_cost(settings.feature_selection)]
        parts.append(imbalance.family_note(settings.imbalance, name, families.BY_NAME[name].class_weight))
        if families.BY_NAME[name].native is not None and settings.imbalance == "smote":
            parts.append("SMOTE needs complete numbers: it takes the imputed one-hot encoding")
        elif families.BY_NAME[name].native is not None and settings.feature_selection != "none":
            parts.append("its category codes are split as numbers (selection may drop named categories)")
        notes[name] = "; ".join(parts)
    return notes


def out_of_fold(pipeline: Any, X: pd.DataFrame, y: pd.Series, splits: Sequence[crossval.Split]) -> Any:
    """Out-of-fold class probabilities over the first repeat's folds (each row predicted once)."""
    from sklearn.model_selection import cross_val_predict

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cross_val_predict(pipeline, X, y, cv=list(splits), method="predict_proba")


def calibration_rows(y: pd.Series, proba: Any, classes: Any, positive: Any, variant: str) -> list[dict[str, Any]]:
    """Reliability points: mean predicted probability and observed frequency per quantile bin.

    Binary: of the positive class; multiclass: of the predicted class being right.
    """
    from sklearn.calibration import calibration_curve

    truth, labels = np.asarray(y), np.asarray(classes)
    if positive is not None:
        hit, score = truth == positive, proba[:, list(labels).index(positive)]
    else:
        hit, score = labels[proba.argmax(axis=1)] == truth, proba.max(axis=1)
    observed, predicted = calibration_curve(hit, score, n_bins=CALIBRATION_BINS, strategy="quantile")
    return [{"variant": variant, "predicted": round(float(p), 6), "observed": round(float(o), 6)}
            for p, o in zip(predicted, observed, strict=True)]


def effect_scorers(chosen_plan: Plan, positive: Any) -> dict[str, Any]:
    """The plan's metrics plus Brier score and log-loss for classification (what resampling distorts)."""
    extra = () if chosen_plan.task == "regression" else CALIBRATION_METRICS
    names = tuple(dict.fromkeys([*chosen_plan.metrics, *extra]))
    return make_scorers(names, chosen_plan.task, positive, key="select.metrics")


def effect_sentence(
    family: str, spec: FeatureSpec, rows: Mapping[str, Mapping[str, Any]], metric: str, p_value: float | None
) -> str:
    """The effect of the steps on the deciding metric in one sentence (display units)."""
    name, settings = display_name(metric), spec.transformer
    with_, without = rows["with steps"][name], rows["without"][name]
    steps_set = f"feature_selection={settings.feature_selection}, imbalance={settings.imbalance}"
    tested = "" if p_value is None else f" (corrected t-test that they help: p = {p_value:.3g})"
    return (f"{family_label(family)} with {steps_set}: cross-validated {metric_label(name)} {mean_pm_std(with_)} against "
            f"{mean_pm_std(without)} without them, on the same folds{tested}.")


def effect_headline(effect: Mapping[str, Any], metric: str) -> dict[str, str]:
    """The deciding metric with and without the steps, for the run's index page."""
    name = display_name(metric)
    scores = [mean_pm_std(effect["scores"][label][name]) for label in ("with steps", "without")]
    return {f"{name} with / without steps": " / ".join(scores)}


def step_effect(
    spec: FeatureSpec, ranking: Sequence[Mapping[str, Any]], X: pd.DataFrame, y: pd.Series,
    splits: Sequence[crossval.Split], chosen_plan: Plan, params: SelectParams, seed: int,
) -> dict[str, Any] | None:
    """The best family cross-validated with and without the optional steps on the same folds (None without steps)."""
    if not has_steps(spec):
        return None
    family = choose(ranking, 1)[0]
    positive = positive_label(y, spec.task, spec.positive_class)
    scorers = effect_scorers(chosen_plan, positive)
    variants = {"with steps": spec, "without": without_steps(spec)}
    pipelines = {label: families.make_pipeline(s, family, seed) for label, s in variants.items()}
    outcomes = {label: crossval.cross_validate(family, p, X, y, splits, scorers, params.time_budget_s)
                for label, p in pipelines.items()}
    shown = {label: {display_name(m): _mean_std([to_display(m, v) for v in o.scores(m)]) for m in scorers}
             for label, o in outcomes.items()}
    paired = [o for o in outcomes.values() if o.status == "ok"]
    p_value = None
    if len(paired) == 2:
        gains = np.asarray(paired[0].scores(chosen_plan.metric)) - np.asarray(paired[1].scores(chosen_plan.metric))
        p_value = round(crossval.corrected_ttest(gains, len(splits[0][0]), len(splits[0][1]))[1], 6)
    curve: list[dict[str, Any]] = []
    if spec.task != "regression" and spec.transformer.imbalance != "none":
        first = splits[: params.folds]
        for label, pipeline in pipelines.items():
            classes = np.unique(np.asarray(y))  # the order of predict_proba's columns
            curve += calibration_rows(y, out_of_fold(pipeline, X, y, first), classes, positive, label)
    return {
        "family": family,
        "feature_selection": spec.transformer.feature_selection,
        "imbalance": spec.transformer.imbalance,
        "families": step_notes(spec, [str(row["family"]) for row in ranking]),
        "metrics": list(scorers),
        "scores": shown,
        "status": {label: o.status if o.status == "ok" else f"{o.status}: {o.message}" for label, o in outcomes.items()},
        "p_value": p_value,
        "calibration": curve,
        "distortion": imbalance.DISTORTION if spec.transformer.imbalance != "none" else "",
        "sentence": effect_sentence(family, spec, shown, chosen_plan.metric, p_value),
    }
