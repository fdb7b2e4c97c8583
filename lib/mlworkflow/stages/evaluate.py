"""Stage `evaluate`: test-set metrics with bootstrap intervals against a baseline, threshold, groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlworkflow.core import bootstrap, calibration, crossval, drivers, fairness, metrics, parallel, text
from mlworkflow.core import gains as core_gains
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.names import metric_label
from mlworkflow.core.oof import OutOfFold
from mlworkflow.core.scoring import (
    FloatArray,
    Scored,
    align_scores,
    divide,
    encode_target,
    model_scores,
    point_metrics,
    predict_labels,
    score,
)
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError
from mlworkflow.params import EvaluateParams
from mlworkflow.records import OOF, Calibration, CostView, Drivers, EvaluateRecord, Fairness

MIN_GROUP_ROWS = 30
BOOTSTRAP_CELLS = 20_000_000  # row draws per bootstrap: 1,000 resamples of up to 20,000 rows, fewer of more
MIN_RESAMPLES = 200


# ---------------------------------------------------------------- metric table


def resamples(requested: int, rows: int) -> int:
    """The bootstrap resamples of `rows` rows: `requested`, fewer once rows × resamples would pass BOOTSTRAP_CELLS
    (never below MIN_RESAMPLES). An interval narrows as 1/√rows and its endpoints' Monte Carlo error is about its
    width/√resamples, so resamples ∝ 1/rows keep that error, in the metric's units, at its value at the cap."""
    return max(min(requested, MIN_RESAMPLES), min(requested, BOOTSTRAP_CELLS // max(rows, 1)))


def resamples_sentence(requested: int, rows: int) -> str | None:
    """What the page says when the bootstrap draws fewer resamples than `bootstrap` asks (None: as asked)."""
    drawn = resamples(requested, rows)
    if drawn == requested:
        return None
    return (f"{drawn:,} resamples of the {rows:,} test rows instead of {requested:,} (`bootstrap`): at most "
            f"{BOOTSTRAP_CELLS:,} row draws, whose intervals' endpoints vary no more than those of {requested:,} "
            f"resamples of {BOOTSTRAP_CELLS // requested:,} rows, since an interval narrows as 1/√rows")


def metric_table(model: Scored, baseline: Scored, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    """Model and baseline metrics with intervals, and the paired model − baseline difference (`n_resamples` as
    `resamples` allows on the scored rows)."""
    rows = []
    drawn = resamples(n_resamples, model.n_rows)
    for name, pair in bootstrap.compare(baseline, model, drawn, confidence, seed).items():
        own, base, delta = pair.second, pair.first, pair.gain
        rows.append({
            "metric": name, "value": own.value, "low": own.low, "high": own.high,
            "baseline": base.value, "baseline_low": base.low, "baseline_high": base.high,
            "delta": delta.value, "delta_low": delta.low, "delta_high": delta.high,
        })
    return pd.DataFrame(rows).set_index("metric")


def table_interval(table: pd.DataFrame, metric: str, prefix: str = "") -> Interval:
    """One metric's interval from a metric table ('' for the model, 'baseline' or 'delta')."""
    lead = f"{prefix}_" if prefix else ""
    row = table.loc[metric, [prefix or "value", f"{lead}low", f"{lead}high"]].to_numpy(dtype=np.float64)
    return Interval(float(row[0]), float(row[1]), float(row[2]))


# ---------------------------------------------------------------- the deciding metric


@dataclass(frozen=True)
class MetricDecision:
    """Which metric decides, where that choice came from, and why in one sentence."""

    metric: str
    source: str
    why: str


def _majority_clause(target: Target, y: pd.Series, metric: str) -> str:
    if target.task == "regression":
        return ""
    shares = y.astype(str).value_counts(normalize=True).sort_index()
    label, share = str(shares.idxmax()), float(shares.max())
    if metric == "accuracy":
        return f"; always predicting '{label}' already scores {share:.3f}, so read it against the baseline"
    return f"; accuracy alone would mislead, as always predicting '{label}' already scores {share:.3f}"


def decide_metric(target: Target, requested: str | None, y: pd.Series) -> MetricDecision:
    """The deciding metric (train's, else the task default) and a one-sentence reason."""
    decision = metrics.deciding_metric(target.task, [requested], for_evaluate=True)
    metric, source = decision.metric.name, {"given": "train"}.get(decision.source, decision.source)
    origin = {
        "train": "select and train ranked and tuned the models on it",
        "auto": f"it is the default for a {target.task} task",
        "fallback": f"train's metric, {metric_label(str(requested))}, is not computed here and this is the {target.task} default",
    }[source]
    reason = metrics.why(metric).format(positive=f"'{target.positive}'" if target.positive else "each class")
    why = f"{metric_label(metric)} decides because {origin}: {reason}{_majority_clause(target, y, metric)}."
    return MetricDecision(metric, source, why)


# ---------------------------------------------------------------- decision threshold


@dataclass(frozen=True)
class ThresholdChoice:
    """The deployment threshold, the rule that chose it, and how it did where it was chosen."""

    rule: str
    threshold: float | None
    met: bool
    note: str
    precision: float = float("nan")
    recall: float = float("nan")
    f1: float = float("nan")
    scores: str = ""  # where the training scores it was chosen on came from


def threshold_curve(truth: FloatArray, scores: FloatArray) -> pd.DataFrame:
    """Counts, precision, recall and F1 at every distinct score (predict positive if score ≥ threshold)."""
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], truth[order] == 1
    last = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    tp = np.r_[0, np.cumsum(hits)[last]].astype(np.float64)
    fp = np.r_[0, np.cumsum(~hits)[last]].astype(np.float64)
    thresholds = np.r_[np.nextafter(ordered[0], np.inf), ordered[last]]
    fn, tn = hits.sum() - tp, (~hits).sum() - fp
    return pd.DataFrame({
        "threshold": thresholds, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": divide(tp, tp + fp, np.nan), "recall": divide(tp, tp + fn),
        "f1": divide(2 * tp, 2 * tp + fp + fn),
    })


def _choice(curve: pd.DataFrame, index: int, rule: str, met: bool, note: str) -> ThresholdChoice:
    row = curve.iloc[index]
    return ThresholdChoice(
        rule, float(row["threshold"]), met, note, float(row["precision"]), float(row["recall"]), float(row["f1"])
    )


def choose_threshold(truth: FloatArray, scores: FloatArray, params: EvaluateParams) -> ThresholdChoice:
    """Apply params.threshold_rule; ties go to the highest threshold."""
    curve = threshold_curve(truth, scores)
    best_f1 = int(np.argmax(curve["f1"].to_numpy()))
    if params.threshold_rule == "max_f1":
        return _choice(curve, best_f1, "max_f1", True, "the threshold with the highest F1")
    if params.threshold_rule == "cost":
        cost = params.cost_fp * curve["fp"].to_numpy() + params.cost_fn * curve["fn"].to_numpy()
        note = (f"the lowest cost of errors at {params.cost_fp:g} per false positive and {params.cost_fn:g} per "
                f"false negative, {cost.min():,g} in all on the training rows")
        return _choice(curve, int(np.argmin(cost)), "cost", True, note)
    precision = curve["precision"].to_numpy()
    feasible = (np.nan_to_num(precision) >= params.min_precision) & (curve["tp"].to_numpy() > 0)
    if not feasible.any():
        note = (f"no threshold reaches precision {params.min_precision:.2f}, the best reaching "
                f"{np.nanmax(precision):.3f}, so the one with the highest F1")
        return _choice(curve, best_f1, "min_precision", False, note)
    index = int(np.argmax(np.where(feasible, curve["recall"].to_numpy(), -1.0)))
    note = f"the highest recall with precision ≥ {params.min_precision:.2f}"
    return _choice(curve, index, "min_precision", True, note)


def out_of_fold_scores(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target,
                       params: EvaluateParams, seed: int) -> FloatArray:
    """Positive-class scores for the training rows from a clone fitted without each row's fold."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=params.threshold_folds, shuffle=True, random_state=seed)
    method = "predict_proba" if hasattr(estimator, "predict_proba") else "decision_function"
    with parallel.configured():  # local processes, or the run's Dask cluster
        raw = cross_val_predict(clone(estimator), X, y, cv=folds, method=method, n_jobs=parallel.fit_jobs(params.n_jobs))
    columns = [str(label) for label in np.unique(y)]
    return align_scores(np.asarray(raw, dtype=np.float64), columns, target)


def kept_scores(held_out: OutOfFold, y: pd.Series, target: Target) -> FloatArray:
    """The positive class's out-of-fold probability of each training row, checked to be train's rows in order."""
    truth = np.asarray(held_out.target).astype(str)
    if len(truth) != len(y) or not np.array_equal(truth, y.astype(str).to_numpy(dtype=str)):
        raise DataError(f"does not hold the {len(y)} training rows in their order; re-run stage 'train'", source=OOF.name)
    return held_out.proba_of(target.positive)


def decision_threshold(estimator: Any, X: pd.DataFrame, y: pd.Series, target: Target, params: EvaluateParams,
                       seed: int, held_out: OutOfFold | None = None) -> ThresholdChoice:
    """Choose the binary threshold on out-of-fold training scores, so the test split stays untouched.

    The scores are train's out-of-fold predictions of the kept model (`held_out`, no refit) when given,
    else those of `threshold_folds` refits of the model.
    """
    if target.task != "binary":
        what = "the most probable class is predicted" if target.task == "multiclass" else "predictions are values"
        return ThresholdChoice("none", None, True, f"{target.task}: {what}; no threshold to choose")
    if held_out is None:
        scores = out_of_fold_scores(estimator, X, y, target, params, seed)
        origin = f"{params.threshold_folds} out-of-fold refits of the model"
    else:  # train's searches read a sample of `train.search_rows` rows: the same seed and target draw it again
        y = y.iloc[crossval.sample_positions(y, target.task, min(len(y), len(held_out.target)), seed)]
        scores = kept_scores(held_out, y, target)
        origin = f"train's out-of-fold predictions ({held_out.n_folds} folds, no refit)"
    return replace(choose_threshold(encode_target(y, target), scores, params), scores=origin)


def metrics_at(truth: FloatArray, scores: FloatArray, threshold: float) -> dict[str, float]:
    """Confusion counts, precision, recall, F1 and accuracy at one threshold."""
    called, positive = scores >= threshold, truth == 1
    tp, fp = float((called & positive).sum()), float((called & ~positive).sum())
    fn, tn = float((~called & positive).sum()), float((~called & ~positive).sum())
    return {
        "threshold": float(threshold), "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else 0.0, "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "accuracy": (tp + tn) / truth.size, "tn": tn, "fp": fp, "fn": fn, "tp": tp,
    }


def threshold_range(scored: Scored) -> tuple[float, float]:
    """The range a threshold can sensibly take: [0, 1] for probabilities, else the scores' range."""
    if scored.probabilistic:
        return 0.0, 1.0
    return float(np.min(scored.scores)), float(np.max(scored.scores))


def gains(scored: Scored) -> pd.DataFrame:
    """Lift and gains by score decile on the test split (binary tasks; empty for the others)."""
    if scored.task != "binary":
        return pd.DataFrame()
    return core_gains.gains_table(scored.truth, scored.scores).round(4)


def cost_curve(scored: Scored, params: EvaluateParams) -> pd.DataFrame:
    """The expected cost of errors per 1,000 test rows at every distinct score, with `cost_fp` and `cost_fn`
    (binary tasks; empty for the others)."""
    if scored.task != "binary":
        return pd.DataFrame(columns=["threshold", "fp", "fn", "cost_per_1000"])
    curve = threshold_curve(scored.truth, scored.scores)
    per = core_gains.cost_per_1000(curve["fp"].to_numpy(), curve["fn"].to_numpy(), scored.n_rows,
                                   params.cost_fp, params.cost_fn)
    return curve[["threshold", "fp", "fn"]].assign(cost_per_1000=per)


def cost_view(scored: Scored, curve: pd.DataFrame, params: EvaluateParams) -> CostView | None:
    """The cost per 1,000 rows at the chosen threshold and at the test split's cheapest one (hindsight); None
    without a cost curve."""
    if curve.empty:
        return None
    best = curve.iloc[int(np.argmin(curve["cost_per_1000"].to_numpy()))]
    per_1000 = None
    if scored.threshold is not None:
        at = metrics_at(scored.truth, scored.scores, scored.threshold)
        per_1000 = float(core_gains.cost_per_1000(np.array([at["fp"]]), np.array([at["fn"]]), scored.n_rows,
                                                  params.cost_fp, params.cost_fn)[0])
    return CostView(cost_fp=params.cost_fp, cost_fn=params.cost_fn, threshold=scored.threshold, per_1000=per_1000,
                    best_threshold=float(best["threshold"]), best_per_1000=float(best["cost_per_1000"]))


# ---------------------------------------------------------------- calibration before and after


def calibration_variants(model: Any, baseline: Any, X: pd.DataFrame, y: pd.Series, target: Target,
                         calibrated: Calibration | None) -> dict[str, Scored]:
    """Test-split scores of the class prior, of the model before train's calibration (when it calibrated), and of
    the model as kept; regression has none."""
    if target.task == "regression":
        return {}
    variants = {calibration.PRIOR: score(baseline, X, y, target)}
    if calibrated is None or calibrated.method == calibration.UNCALIBRATED:
        return variants | {"model (not calibrated)": score(model, X, y, target)}
    before = score(calibration.uncalibrated(model), X, y, target)
    return variants | {"before calibration": before, f"{calibrated.method} calibration (kept)": score(model, X, y, target)}


def calibration_table(variants: Mapping[str, Scored]) -> pd.DataFrame:
    """Test-split log-loss and Brier score of each variant that gives probabilities (lower is better)."""
    rows = {name: point_metrics(scored) for name, scored in variants.items() if scored.probabilistic}
    return pd.DataFrame({name: {"log_loss": row["log_loss"], "brier": row["brier"]} for name, row in rows.items()}).T


def reliability_points(scored: Scored, bins: int = calibration.RELIABILITY_BINS) -> pd.DataFrame:
    """Reliability points: the positive class's probability (binary), or the top class's confidence against whether
    it was right (multiclass), mean predicted against observed per quantile bin."""
    if scored.task == "binary":
        return calibration.reliability(scored.truth == 1, scored.scores, bins)
    top = np.argmax(scored.scores, axis=1)
    return calibration.reliability(top == scored.truth, scored.scores.max(axis=1), bins)


# ---------------------------------------------------------------- importance and groups


@dataclass(frozen=True)
class MetricScorer:
    """A scikit-learn scorer (estimator, X, y) -> float on one metric here; higher is better."""

    target: Target
    metric: str
    threshold: float | None

    def __call__(self, estimator: Any, X: pd.DataFrame, y: pd.Series) -> float:
        """Score the estimator, negated for metrics where lower is better."""
        value = point_metrics(score(estimator, X, y, self.target, self.threshold))[self.metric]
        return metrics.sign(self.metric) * value


def importance_rows(X: pd.DataFrame, y: pd.Series, target: Target, params: EvaluateParams,
                    seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The test rows permutation importance shuffles: all, or a seeded sample of `permutation_rows` (stratified
    by class), in test order; a ranking of columns needs no more and costs one prediction per row, column and repeat."""
    from sklearn.utils import resample

    limit = params.permutation_rows
    if limit is None or len(X) <= limit:
        return X, y
    strata = None if target.task == "regression" else y.astype(str).to_numpy()
    rows = resample(np.arange(len(X)), replace=False, n_samples=limit, stratify=strata, random_state=seed)
    kept = np.sort(np.asarray(rows))
    return X.iloc[kept], y.iloc[kept]


def permutation_table(estimator: Any, X: pd.DataFrame, y: pd.Series, scorer: MetricScorer,
                      params: EvaluateParams, seed: int) -> pd.DataFrame:
    """Permutation importance on the test rows given: the drop in the deciding metric when a column is shuffled."""
    from sklearn.inspection import permutation_importance

    with parallel.configured():
        result = permutation_importance(
            estimator, X, y, scoring=scorer, n_repeats=params.permutation_repeats,
            random_state=seed, n_jobs=parallel.fit_jobs(params.n_jobs),
        )
    table = pd.DataFrame({
        "feature": [str(c) for c in X.columns], "importance": result.importances_mean,
        "std": result.importances_std,
    })
    return table.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True).round(4)


def telling_terms(estimator: Any, target: Target, top: int = 10) -> pd.DataFrame:
    """The text terms a linear model weighs most towards each class (regression: towards a higher target).

    Empty unless the model is linear on sparse TF-IDF terms (`core.text`): other families see text
    through SVD components, whose weights name no word.
    """
    classes = list(target.classes) if target.task != "regression" else [f"higher {target.name}"]
    return text.telling_terms(estimator, classes, top)


def group_labels(values: pd.Series, bins: int = 4) -> npt.NDArray[np.str_]:
    """Group names for a column: its values, quantile bins for a many-valued number, '(missing)' for NaN."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.nunique() > 10:
        binned = pd.qcut(values, bins, duplicates="drop")
        names = [f"q{code + 1} {interval}" for code, interval in enumerate(binned.cat.categories)]
        values = binned.cat.rename_categories(names).astype(str).where(values.notna())
    named = values.astype(object).where(values.notna(), "(missing)")
    return np.asarray(named.astype(str).to_numpy(), dtype=np.str_)


def group_table(scored: Scored, frame: pd.DataFrame, columns: Sequence[str], metric: str, tolerance: float,
                min_rows: int = MIN_GROUP_ROWS, n_resamples: int = 200, confidence: float = 0.95,
                seed: int = 0) -> pd.DataFrame:
    """Per group of each column: rows, base rate, the deciding metric and the selection rate with intervals, their
    gaps to the whole test split, and a flag only where a gap's whole interval lies beyond the tolerance (`n_resamples` as
    `resamples` allows on the scored rows)."""
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"group column not in the test split (columns: {', '.join(map(str, frame.columns))})",
                            column=column)
    masks: dict[fairness.Key, npt.NDArray[np.bool_]] = {}
    for column in columns:
        groups = group_labels(frame[column])
        masks |= {(column, str(group)): groups == group for group in sorted(set(groups))}
    rules = fairness.Rules(metric, tolerance, min_rows, resamples(n_resamples, scored.n_rows), confidence, seed)
    return pd.DataFrame(fairness.assess(scored, masks, rules)).round(4)


def evaluate_groups(scored: Scored, frame: pd.DataFrame, metric: str, params: EvaluateParams, seed: int) -> pd.DataFrame:
    """The group table of `params.group_columns` with the params' tolerance, minimum rows and bootstrap."""
    return group_table(scored, frame, params.group_columns, metric, params.group_tolerance, params.group_min_rows,
                       params.bootstrap, params.confidence, seed)


# ---------------------------------------------------------------- what drives predictions


@dataclass(frozen=True)
class DriverReport:
    """SHAP values of a tree model, or the partial dependence of the top features, on a seeded sample of rows."""

    method: str  # "shap" or "partial_dependence"
    rows: int
    ranking: pd.DataFrame  # feature and its strength, strongest first
    explained: drivers.Explained | None
    dependence: tuple[drivers.Dependence, ...]


def explain(model: Any, X: pd.DataFrame, target: Target, params: EvaluateParams, seed: int,
            importance: pd.DataFrame, top: int = 4) -> DriverReport:
    """SHAP values on `explain_rows` sampled test rows when TreeExplainer applies, else the partial dependence of
    the `top` features by permutation importance."""
    rows = drivers.sample_rows(X, params.explain_rows, seed)
    explained = drivers.shap_values(model, rows, target)
    if explained is not None:
        return DriverReport("shap", len(rows), drivers.shap_ranking(explained), explained, ())
    explainable = [f for f in importance["feature"] if f in X.columns and not pd.api.types.is_datetime64_any_dtype(X[f])]
    features = explainable[:top]
    dependence = tuple(drivers.partial_dependence(model, rows, f, target) for f in features)
    ranking = pd.DataFrame({"feature": features, "spread": [d.spread for d in dependence]})
    return DriverReport("partial_dependence", len(rows), ranking, None, dependence)


def worked_examples(model: Any, X_train: pd.DataFrame, X_test: pd.DataFrame, target: Target,
                    threshold: float | None, report: DriverReport, rows: int = 3,
                    changed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few real test rows and what their prediction does when one of the `changed` strongest drivers changes."""
    features = [f for f in report.ranking["feature"] if f in X_test.columns and f in X_train.columns][:changed]
    return drivers.what_if_examples(model, X_train, X_test, target, threshold, features or [str(X_test.columns[0])],
                                    rows)


def drivers_record(report: DriverReport, top: int = 10) -> Drivers:
    """The drivers as evaluate.json keeps them."""
    if report.explained is not None:
        note = f"mean |SHAP value| in {report.explained.output}" + (f"; {report.explained.note}" if report.explained.note else "")
    else:
        note = "how far the average prediction moves as the feature moves over its values"
    return Drivers(method=report.method, rows=report.rows, note=note, features=_records(report.ranking.head(top)))


# ---------------------------------------------------------------- one prediction and the stage record


def predict_row(estimator: Any, row: pd.DataFrame, target: Target, threshold: float | None) -> dict[str, Any]:
    """Prediction for one row: the label (or value) and, for classifiers, the score of each class."""
    scores, probabilistic = model_scores(estimator, row, target)
    if target.task == "regression":
        return {"prediction": float(scores[0])}
    label = target.labels[int(predict_labels(scores, target.task, threshold)[0])]
    if target.task == "binary":
        per_class = {target.labels[1]: float(scores[0])}
    else:
        per_class = {name: float(value) for name, value in zip(target.labels, scores[0], strict=True)}
    return {"prediction": label, "scores": per_class, "probabilistic": probabilistic}


def _json_float(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return round(float(value), 6) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json_float(v) for k, v in row.items()} for row in table.to_dict("records")]


def _intervals(table: pd.DataFrame, prefix: str) -> dict[str, dict[str, Any]]:
    result = {}
    for name in table.index:
        interval = table_interval(table, str(name), prefix)
        result[str(name)] = {key: _json_float(getattr(interval, key)) for key in ("value", "low", "high")}
    return result


def fairness_record(groups: pd.DataFrame, metric: str, task: str, params: EvaluateParams) -> Fairness | None:
    """How the groups were judged, the flagged and the small ones (None without group columns)."""
    if "verdict" not in groups.columns:
        return None
    rules = fairness.Rules(metric, params.group_tolerance, params.group_min_rows, params.bootstrap,
                           params.confidence, 0)
    rows = [{str(k): v for k, v in row.items()} for row in groups.to_dict("records")]
    return Fairness(metric=metric, tolerance=fairness.tolerance_text(rules, task), min_rows=params.group_min_rows,
                    confidence=params.confidence, flagged=fairness.flagged(rows), small=fairness.small(rows),
                    glossary=fairness.glossary(rules, task))


def summary(family: str, decision: MetricDecision, table: pd.DataFrame, choice: ThresholdChoice,
            groups: pd.DataFrame, importance: pd.DataFrame, top: int = 10, *, judged: Fairness | None = None,
            explained: Drivers | None = None, lift: pd.DataFrame | None = None,
            cost: CostView | None = None) -> EvaluateRecord:
    """The content of evaluate.json, headline included."""
    threshold = "none" if choice.threshold is None else f"{choice.threshold:.3f} ({choice.note})"
    return EvaluateRecord.model_validate({
        "fairness": judged, "drivers": explained, "cost": cost,
        "gains": [] if lift is None else _records(lift),
        "model": family, "metric": decision.metric, "why": decision.why, "metric_source": decision.source,
        "lower_is_better": metrics.lower_is_better(decision.metric),
        "metrics": _intervals(table, ""), "baseline": _intervals(table, "baseline"),
        "difference": _intervals(table, "delta"),
        "threshold": choice.threshold, "threshold_rule": choice.rule,  # exact: deployment uses it
        "threshold_met": choice.met, "threshold_note": choice.note,
        "groups": _records(groups), "importance": _records(importance.head(top)),
        "headline": {
            "model": family, decision.metric: str(table_interval(table, decision.metric)),
            "baseline": str(table_interval(table, decision.metric, "baseline")), "threshold": threshold,
        },
    })
