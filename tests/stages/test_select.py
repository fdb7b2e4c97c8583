"""Stage `select`: plan, folds, cross-validation with failures and budgets, the corrected t-test, select.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from mlworkflow import io
from mlworkflow.core import crossval, families, metrics, stability
from mlworkflow.core.features import FeatureSpec, build_preprocessor
from mlworkflow.core.target import positive_label
from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import SelectParams
from mlworkflow.records import Ranked, SelectRecord
from mlworkflow.stages import select
from mlworkflow.views import select as view
from mlworkflow.views.labels import family_label
from tests.core.test_calibration import few_rows_five_classes
from tests.core.test_families import tiny
from tests.metrickit import LABEL_SETS, direct, relabel

FAST = ("logistic", "decision_tree", "naive_bayes")


class Broken(ClassifierMixin, BaseEstimator):
    """A model that always fails to fit, the way scikit-learn estimators fail on bad data."""

    def fit(self, X: Any, y: Any) -> Broken:
        raise ValueError("broken on purpose\nsecond line")


def run(task: str, candidates: tuple[str, ...] = FAST, **changes: Any) -> dict[str, Any]:
    """The whole stage on a tiny frame, as the notebook runs it."""
    frame, y, spec = tiny(task)
    params = SelectParams.model_validate(
        {"candidates": candidates, "folds": 3, "repeats": 2, "top_k": 2, **changes}
    )
    plan = select.plan(params, task)
    design = select.fold_design(params, len(frame))
    splits = crossval.make_splits(y, task, design.folds, design.repeats, seed=0)
    scorers = metrics.make_scorers(plan.metrics, task, positive_label(y, spec.task, spec.positive_class))
    pipelines = select.build_candidates(spec, plan.candidates, seed=0)
    outcomes = select.compare(
        pipelines, frame, y, splits, scorers, params.time_budget_s, params.n_jobs, design.optional_after
    )
    ranking = select.rank(outcomes, plan.metrics, splits, params.alpha)
    prior = select.prior_outcome(y, splits, scorers)
    return select.record(plan, ranking, outcomes, splits, params, len(frame), seed=0, prior=prior)


# --- plan ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", families.TASKS)
def test_auto_metrics_put_the_deciding_metric_first(task: str) -> None:
    resolved = select.resolve_metrics(("auto",), "auto", task)
    assert resolved[0] == metrics.default(task).scorer
    assert resolved == metrics.compared(task)


def test_explicit_deciding_metric_is_added_once_and_first() -> None:
    # log-loss is always scored for classification: select checks it against the class prior's
    assert select.resolve_metrics(("accuracy", "f1"), "f1", "binary") == ("f1", "accuracy", "neg_log_loss")


def test_classification_metric_for_regression_names_key_and_reason() -> None:
    with pytest.raises(ParamsError) as caught:
        select.resolve_metrics(("r2",), "roc_auc", "regression")
    assert "select.metric" in str(caught.value)
    assert "'roc_auc' (a classification scorer)" in str(caught.value)


def test_an_unknown_task_names_the_params_key_that_sets_it() -> None:
    with pytest.raises(ParamsError) as caught:
        select.resolve_metrics(("auto",), "auto", "ranking")
    moved = str(caught.value.with_source("params/smoke.yaml"))
    assert moved.startswith("params/smoke.yaml: key 'data.task': expected one of binary, multiclass, regression")


def test_binary_metric_for_multiclass_suggests_an_alternative() -> None:
    with pytest.raises(ParamsError, match="try 'f1_macro'") as caught:
        select.resolve_metrics(("f1",), "auto", "multiclass")
    assert "select.metrics" in str(caught.value)


def test_regression_skips_naive_bayes_with_a_reason() -> None:
    kept, skipped = select.resolve_candidates(("logistic", "naive_bayes"), "regression")
    assert kept == ("logistic",)
    assert skipped == {"naive_bayes": "classification only, not for regression"}


def test_no_candidate_left_for_the_task_is_an_error() -> None:
    with pytest.raises(ParamsError, match=r"select\.candidates"):
        select.resolve_candidates(("naive_bayes",), "regression")


def test_params_refuse_unknown_family_with_a_hint() -> None:
    with pytest.raises(ValueError, match="Did you mean 'knn'"):
        SelectParams(candidates=("knm",))


def test_params_refuse_unknown_scorer_with_a_hint() -> None:
    with pytest.raises(ValueError, match="Did you mean 'roc_auc'"):
        SelectParams(metric="roc_acu")


# --- labels, scorers, rows and folds ---------------------------------------------------------------


def test_subsample_is_seeded_stratified_and_keeps_row_order() -> None:
    frame, y, spec = tiny("binary")
    frame = frame.assign(t=y)
    first = select.subsample(frame, spec, 60, seed=3)
    assert len(first) == 60 and first.index.is_monotonic_increasing
    assert first.equals(select.subsample(frame, spec, 60, seed=3))
    assert (
        first["t"]
        .value_counts(normalize=True)
        .round(1)
        .equals(frame["t"].value_counts(normalize=True).round(1))
    )
    assert select.subsample(frame, spec, None, seed=3) is frame








# --- the corrected t-test --------------------------------------------------------------------------








# --- the whole comparison --------------------------------------------------------------------------


@pytest.mark.parametrize("task", families.TASKS)
def test_compare_ranks_every_candidate_for_every_task(task: str) -> None:
    candidates = (*FAST, "hist_gradient_boosting")
    summary = run(task, candidates)
    json.dumps(summary.model_dump(), allow_nan=False)
    ranking = summary.model_dump()["ranking"]
    assert summary.metric == metrics.default(task).scorer
    assert {row["family"] for row in ranking} | set(summary.skipped) == set(candidates)
    assert all(row["status"] == "ok" and row["folds"] == 6 for row in ranking)
    scores = [row["score"] for row in ranking]
    assert scores == sorted(scores, reverse=True)
    assert ranking[0]["gap"] == 0.0 and ranking[0]["p_value"] is None
    assert all(row["gap"] >= 0 and 0 <= row["p_value"] <= 1 for row in ranking[1:])
    assert summary.chosen == [row["family"] for row in ranking[:2]]
    assert all(len(values) == 6 for values in summary.scores.values())
    assert all(row["fit_s"] > 0 and row["peak_mb"] > 0 for row in ranking)
    assert 3 <= len(summary.headline) <= 6


def test_regression_reports_errors_as_positive_numbers() -> None:
    summary = run("regression", ("logistic", "decision_tree"))
    shown = summary.model_dump()["ranking"][0]["metrics"]
    assert set(shown) == {"root_mean_squared_error", "mean_absolute_error", "r2"}
    assert shown["root_mean_squared_error"]["mean"] > 0
    assert all(value < 0 for values in summary.scores.values() for value in values), "scorer sign kept"
    assert summary.skipped == {}


def test_results_are_deterministic_for_a_seed() -> None:
    first, second = run("binary"), run("binary")
    assert first.scores == second.scores
    assert [r.p_value for r in first.ranking] == [r.p_value for r in second.ranking]


def test_a_failing_candidate_is_reported_not_raised() -> None:
    frame, y, spec = tiny("binary")
    splits = crossval.make_splits(y, "binary", 3, 1, seed=0)
    scorers = metrics.make_scorers(("roc_auc",), "binary", "yes")
    pipelines = {
        "broken": Pipeline([("preprocess", build_preprocessor(spec)), ("model", Broken())]),
        "logistic": families.make_pipeline(spec, "logistic", 0),
    }
    outcomes = select.compare(pipelines, frame, y, splits, scorers, budget_s=None)
    ranking = select.rank(outcomes, ("roc_auc",), splits, alpha=0.05)
    broken = ranking[-1]
    assert broken["family"] == "broken" and broken["status"] == "failed"
    assert broken["message"] == "ValueError on fold 1: broken on purpose"
    assert broken["folds"] == 0 and broken["score"] is None and broken["gap"] is None
    assert select.choose(ranking, top_k=2) == ["logistic"]
    assert (
        "ValueError on fold 1"
        in view.notes_table(SelectRecord.model_construct(skipped={}, ranking=[Ranked(**r) for r in ranking])).loc[family_label("broken"), "note"]
    )


def test_a_candidate_over_its_time_budget_stops_after_one_fold() -> None:
    frame, y, spec = tiny("multiclass")
    splits = crossval.make_splits(y, "multiclass", 3, 2, seed=0)
    scorers = metrics.make_scorers(("balanced_accuracy",), "multiclass", None)
    pipelines = select.build_candidates(spec, ("logistic",), 0)
    outcomes = select.compare(pipelines, frame, y, splits, scorers, budget_s=1e-9)
    row = select.rank(outcomes, ("balanced_accuracy",), splits, alpha=0.05)[0]
    assert row["status"] == "over budget" and row["folds"] == 1
    assert row["message"] == "over its 1e-09 s budget after 1 of 6 folds"
    assert row["gap"] is None and row["significant"] is None
    assert row["metrics"]["balanced_accuracy"]["mean"] is not None, "the folds it ran are kept"


def test_no_completed_candidate_is_an_error_naming_each() -> None:
    with pytest.raises(DataError, match="no candidate completed") as caught:
        run("binary", ("logistic", "knn"), time_budget_s=1e-9)
    assert "logistic: over budget" in str(caught.value) and "knn: over budget" in str(caught.value)








def test_parallel_candidates_match_sequential_ones() -> None:
    sequential = run("binary", ("logistic", "naive_bayes"))
    parallel = run("binary", ("logistic", "naive_bayes"), n_jobs=2)
    assert parallel.scores == sequential.scores





# --- a real dataset --------------------------------------------------------------------------------


@pytest.mark.shared
def test_penguins_multiclass_selection(shared_data: Path) -> None:
    frame = io.read_file(shared_data / "penguins.csv").dropna(subset=["species"])
    spec = FeatureSpec(
        target="species",
        task="multiclass",
        classes=("Adelie", "Chinstrap", "Gentoo"),
        numeric=("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"),
        categorical=("island", "sex"),
    )
    params = SelectParams(
        candidates=("logistic", "hist_gradient_boosting", "knn", "naive_bayes"), folds=3, repeats=1
    )
    plan = select.plan(params, spec.task)
    X, y = frame[list(spec.features)], frame[spec.target]
    splits = crossval.make_splits(y, spec.task, params.folds, params.repeats, seed=42)
    scorers = metrics.make_scorers(plan.metrics, spec.task, None)
    outcomes = select.compare(select.build_candidates(spec, plan.candidates, 42), X, y, splits, scorers, 60.0)
    summary = select.record(
        plan, select.rank(outcomes, plan.metrics, splits, 0.05), outcomes, splits, params, len(X), 42
    )
    assert all(row.status == "ok" for row in summary.ranking)
    assert summary.ranking[0].metrics["balanced_accuracy"].mean > 0.95  # type: ignore[operator]
    assert summary.metric == "balanced_accuracy" and len(summary.chosen) == 2


# --- the positive class, whatever its sort order ---------------------------------------------------------


@pytest.mark.parametrize(("labels", "positive"), LABEL_SETS, ids=lambda v: str(v))
def test_cv_scores_of_every_metric_match_sklearn_whatever_the_positive_class(labels: Any, positive: Any) -> None:
    frame, yes_no, spec = tiny("binary")
    y = relabel(yes_no, labels, positive)
    spec = spec.model_copy(update={"classes": tuple(sorted(map(str, labels))), "positive_class": str(positive)})
    names = metrics.scorers("binary")
    scorers = metrics.make_scorers(names, "binary", positive_label(y, spec.task, spec.positive_class))
    splits = crossval.make_splits(y, "binary", 3, 1, seed=0)
    pipeline = families.make_pipeline(spec, "logistic", 0)
    outcome = select.compare({"logistic": pipeline}, frame, y, splits, scorers, None)[0]
    assert outcome.status == "ok"
    for fold, (train, test) in zip(outcome.folds, splits, strict=True):
        model = families.make_pipeline(spec, "logistic", 0).fit(frame.iloc[train], y.iloc[train])
        assert fold.scores == pytest.approx(direct(model, frame.iloc[test], y.iloc[test], positive, names), abs=1e-12)


# --- probabilities no worse than the class prior's --------------------------------------------------------


def test_a_family_whose_log_loss_is_worse_than_the_prior_is_not_chosen() -> None:
    frame, y, spec = few_rows_five_classes()
    params = SelectParams.model_validate({"candidates": ("decision_tree", "logistic", "naive_bayes"), "folds": 5,
                                          "repeats": 1, "top_k": 2})
    plan = select.plan(params, "multiclass")
    splits = crossval.make_splits(y, "multiclass", params.folds, params.repeats, seed=0)
    scorers = metrics.make_scorers(plan.metrics, "multiclass", None)
    outcomes = select.compare(select.build_candidates(spec, plan.candidates, 0), frame, y, splits, scorers, None)
    ranking = select.rank(outcomes, plan.metrics, splits, params.alpha)
    prior = select.prior_outcome(y, splits, scorers)
    summary = select.record(plan, ranking, outcomes, splits, params, len(frame), seed=0, prior=prior)
    assert ranking[0]["family"] == "decision_tree", "the tree wins on balanced accuracy"
    assert summary.probabilities is not None
    assert summary.probabilities.prior_log_loss == pytest.approx(1.328, abs=0.01)  # −Σ p log p of the classes, about
    assert "decision_tree" in summary.probabilities.untrusted
    assert "worse than the class prior's 1.32" in summary.probabilities.untrusted["decision_tree"]
    assert "decision_tree" not in summary.chosen and summary.chosen[0] == "logistic"
    assert summary.headline["worse than the class prior"].startswith("decision_tree")
    assert "not chosen: out-of-fold log-loss" in view.notes_table(summary).loc[family_label("decision_tree"), "note"]


def test_the_prior_scores_the_same_folds_and_regression_has_no_check() -> None:
    _, y, _ = tiny("binary")
    splits = crossval.make_splits(y, "binary", 3, 2, seed=0)
    scorers = metrics.make_scorers(("roc_auc", "neg_log_loss"), "binary", "yes")
    prior = select.prior_outcome(y, splits, scorers)
    assert prior is not None and len(prior.folds) == 6
    train, test = splits[0]
    share = (y.iloc[train] == "yes").mean()
    expected = log_loss(y.iloc[test] == "yes", np.full(len(test), share), labels=[False, True])
    assert -prior.folds[0].scores["neg_log_loss"] == pytest.approx(expected)
    assert select.prior_outcome(y, splits, {"r2": None}) is None
    assert "neg_log_loss" in select.resolve_metrics(("accuracy",), "auto", "multiclass")
    assert select.resolve_metrics(("r2",), "auto", "regression") == ("neg_root_mean_squared_error", "r2")


def test_untrusted_families_go_on_only_when_every_candidate_is_untrusted() -> None:
    ranking = [{"family": f, "status": "ok", "message": ""} for f in ("knn", "logistic", "svm")]
    assert select.choose(ranking, 2, {"knn": "worse"}) == ["logistic", "svm"]
    assert select.choose(ranking, 2, {f: "worse" for f in ("knn", "logistic", "svm")}) == ["knn", "logistic"]
    checked = {"untrusted": {"knn": "worse"}}
    assert select.untrusted_headline(checked, ["logistic"]) == {"worse than the class prior": "knn"}
    assert "train calibrates" in select.untrusted_headline(checked, ["knn"])["worse than the class prior"]
    assert select.untrusted_headline(None, ["knn"]) == {}


# --- feature selection and class imbalance: the best family with and without them ------------------


def run_with_steps(selection: str, imbalance: str, task: str = "binary") -> SelectRecord:
    """The stage on a tiny frame whose spec asks for the optional steps, effect included."""
    from mlworkflow.core.features import TransformerSettings

    frame, y, spec = tiny(task)
    spec = spec.model_copy(update={"transformer": TransformerSettings(feature_selection=selection, imbalance=imbalance)})
    params = SelectParams(candidates=("logistic", "knn"), folds=3, repeats=2, top_k=1)
    plan = select.plan(params, task)
    splits = crossval.make_splits(y, task, params.folds, params.repeats, seed=0)
    scorers = metrics.make_scorers(plan.metrics, task, positive_label(y, spec.task, spec.positive_class))
    outcomes = select.compare(select.build_candidates(spec, plan.candidates, 0), frame, y, splits, scorers, None)
    ranking = select.rank(outcomes, plan.metrics, splits, params.alpha)
    effect = select.step_effect(spec, ranking, frame, y, splits, plan, params, seed=0)
    return select.record(plan, ranking, outcomes, splits, params, len(frame), 0, effect)


def test_without_the_steps_select_json_is_as_before() -> None:
    summary = run("binary")
    assert summary.steps is None and "steps" not in summary.model_dump()
    assert not any("with / without steps" in key for key in summary.headline)


def test_the_steps_effect_compares_the_best_family_with_and_without_them_on_the_same_folds() -> None:
    summary = run_with_steps("model", "undersample")
    effect = summary.steps
    assert effect is not None and effect.family == summary.ranking[0].family
    assert set(effect.scores) == {"with steps", "without"} and set(effect.status.values()) == {"ok"}
    assert {"brier_score", "log_loss", "roc_auc"} <= set(effect.scores["with steps"])
    assert effect.scores["with steps"]["roc_auc"] == summary.ranking[0].metrics["roc_auc"]  # same folds, same pipeline
    assert effect.p_value is not None and 0.0 <= effect.p_value <= 1.0
    assert {row["variant"] for row in effect.calibration} == {"with steps", "without"}
    assert all(0.0 <= row["predicted"] <= 1.0 for row in effect.calibration)
    assert "probabilities" in effect.distortion
    assert "above the mean importance" in effect.families["knn"]
    assert "roc_auc with / without steps" in summary.headline
    assert SelectRecord.model_validate_json(summary.model_dump_json()) == summary


def test_class_weights_are_documented_where_a_family_takes_none() -> None:
    effect = run_with_steps("none", "class_weight").steps
    assert effect is not None
    assert effect.families["knn"].startswith("no feature selection; unaffected: knn takes no class weights")
    assert "class_weight='balanced'" in effect.families["logistic"]


def test_feature_selection_alone_draws_no_calibration_curve_for_regression() -> None:
    effect = run_with_steps("permutation", "none", task="regression").steps
    assert effect is not None and effect.calibration == [] and effect.distortion == ""
    assert "brier_score" not in effect.scores["without"]


def test_with_imbalance_handling_the_raw_probabilities_are_not_held_to_the_class_prior() -> None:
    from mlworkflow.core.features import TransformerSettings

    _, y, spec = tiny("binary")
    splits = crossval.make_splits(y, "binary", 3, 1, seed=0)
    scorers = metrics.make_scorers(("roc_auc", "neg_log_loss"), "binary", "yes")
    prior = select.prior_gate(spec, y, splits, scorers)
    assert prior is not None and prior.status == "ok"
    resampled = spec.model_copy(update={"transformer": TransformerSettings(imbalance="smote")})
    assert select.prior_gate(resampled, y, splits, scorers) is None


# --- small data: repeats, and the steadier of the candidates the test cannot tell apart ----------------


def outcome(family: str, scores: list[float]) -> crossval.Outcome:
    """A completed candidate with these fold ROC AUCs (fixed costs)."""
    return crossval.Outcome(family, "ok", tuple(crossval.Fold({"roc_auc": s}, 0.01, 0.001, 1.0) for s in scores))


def tied(svm: list[float], forest: list[float]) -> SelectRecord:
    """select.json of an svm and a random forest with these fold scores, on 5 folds × 4 repeats of 200 rows."""
    y = pd.Series(np.tile(["no", "yes"], 100), name="t")
    params = SelectParams(candidates=("svm", "random_forest"), folds=5, repeats=4, top_k=1)
    splits = crossval.make_splits(y, "binary", 5, 4, seed=0)
    outcomes = [outcome("svm", svm), outcome("random_forest", forest)]
    ranking = select.rank(outcomes, ("roc_auc",), splits, params.alpha)
    plan = select.Plan("binary", params.candidates, {}, ("roc_auc",))
    return select.record(plan, ranking, outcomes, splits, params, len(y), seed=0)


def alternating(mean: float, spread: float, n: int = 20) -> list[float]:
    """n fold scores with this mean and standard deviation."""
    return [mean + spread * (-1) ** i for i in range(n)]


def test_a_tie_goes_to_the_steadier_family_and_the_headline_says_why() -> None:
    summary = tied(alternating(0.80, 0.04), alternating(0.796, 0.01))
    assert summary.ranking[0].family == "svm", "svm has the better mean"
    assert summary.ranking[1].significant is False
    assert summary.chosen == ["random_forest"]
    assert summary.stability is not None and summary.stability.preferred is not None
    assert summary.stability.preferred.over == "svm" and summary.stability.preferred.gap == pytest.approx(0.004)
    assert summary.headline["choice"].startswith(
        "Random forest chosen over Support vector machine: the gap (0.0040) is not significant (p = 0.")
    assert "its fold scores vary less (sd 0.0100 vs 0.0400, below 0.68 × over 20 folds)" in summary.headline["choice"]
    assert "vary least" in summary.stability.rule
    assert view.choice_table(summary)["choice"] == summary.headline["choice"]


def test_a_significant_gap_keeps_the_best_first_however_steady_the_other() -> None:
    best = alternating(0.80, 0.04)
    summary = tied(best, [0.25 * s + 0.55 for s in best])  # sd 0.01 but 0.05 lower on every fold
    assert summary.ranking[1].significant is True
    assert summary.chosen == ["svm"] and "choice" not in summary.headline
    assert summary.stability is not None and summary.stability.preferred is None
    assert summary.stability.sentence.startswith("Support vector machine chosen: the best mean ROC AUC")


def test_with_top_k_two_the_best_scoring_family_still_goes_to_train() -> None:
    order = ["svm", "random_forest", "knn"]
    steadier = stability.Preference("knn", "svm", 0.01, 0.3, 0.01, 0.04, 0.68, 20)
    assert select.chosen_first(order, steadier)[:2] == ["knn", "svm"]
    assert select.chosen_first(order, None) == order


def test_auto_repeats_repeat_the_folds_on_few_rows_and_not_on_many() -> None:
    summary = run("binary", ("logistic", "naive_bayes"), repeats="auto", folds=3)
    assert (summary.cv.repeats, summary.cv.planned) == (10, 10)
    assert all(len(scores) == 30 for scores in summary.scores.values())
    assert summary.headline["cross-validation"] == "3 folds × 10 repeats, 120 rows"
    assert summary.cv.rule is not None and summary.cv.rule.startswith("auto: 10 repeats of 3 folds")
    assert select.fold_design(SelectParams(), 20_000).repeats == 1, "plain folds from 10,000 rows on"
    assert select.fold_design(SelectParams(), 5_000).repeats == 2, "select's default subsample keeps 2 repeats"
    assert "cross-validation" not in run("binary", ("logistic",)).headline, "set repeats: no line"


def test_the_t_test_uses_every_repeat() -> None:
    summary = run("binary", ("logistic", "naive_bayes"), repeats=4)
    best, other = (summary.ranking[0].family, summary.ranking[1].family)
    differences = np.asarray(summary.scores[best]) - np.asarray(summary.scores[other])
    assert len(differences) == 12, "3 folds × 4 repeats"
    n_test = summary.cv.n_test
    variance = differences.var(ddof=1) * (1 / 12 + n_test / summary.cv.n_train)
    expected = student_t.sf(differences.mean() / np.sqrt(variance), df=11)
    assert summary.ranking[1].p_value == pytest.approx(expected, abs=1e-6)
    first_repeat = differences[:3]
    alone = student_t.sf(first_repeat.mean() / np.sqrt(first_repeat.var(ddof=1) * (1 / 3 + n_test / summary.cv.n_train)), df=2)
    assert summary.ranking[1].p_value != pytest.approx(alone, abs=1e-6), "not the first repeat alone"


def paced(monkeypatch: pytest.MonkeyPatch, seconds: dict[str, float], fail_on: int | None = None) -> list[str]:
    """Folds that take these fit seconds per model class (a fake clock: no wall-clock assert); the calls made."""
    calls: list[str] = []

    def fold(pipeline: Any, *args: Any, **kwargs: Any) -> crossval.Fold:
        calls.append(type(pipeline.named_steps["model"]).__name__)
        if fail_on is not None and len(calls) == fail_on:
            raise ValueError("singular on purpose")
        return crossval.Fold({"accuracy": 0.5}, seconds[calls[-1]], 0.0, None)

    monkeypatch.setattr(crossval, "run_fold", fold)
    return calls


def repeated(budget_s: float) -> list[crossval.Outcome]:
    """Logistic regression and k-NN compared on 3 folds × 3 auto repeats with this budget."""
    frame, y, spec = tiny("binary")
    design = stability.FoldDesign(3, 3, len(y), auto=True)
    splits = crossval.make_splits(y, "binary", design.folds, design.repeats, seed=0)
    pipelines = select.build_candidates(spec, ("logistic", "knn"), 0)
    return select.compare(pipelines, frame, y, splits, {}, budget_s, 1, design.optional_after)


@pytest.mark.parametrize(("budget_s", "repeats"), [(5.0, 1), (7.0, 2), (9.0, 3)])
def test_a_repeat_after_the_first_starts_only_when_every_candidate_would_end_it_within_the_budget(
    monkeypatch: pytest.MonkeyPatch, budget_s: float, repeats: int
) -> None:
    calls = paced(monkeypatch, {"LogisticRegression": 1.0, "KNeighborsClassifier": 1.0})  # 3 s per repeat
    outcomes = repeated(budget_s)
    assert [(o.status, len(o.folds)) for o in outcomes] == [("ok", 3 * repeats)] * 2
    assert len(calls) == 2 * 3 * repeats, "no fit run beyond the repeats compared"
    stop = f"its next repeat would pass the {budget_s:g} s budget: every candidate ran {repeats} of 3 repeats"
    assert [o.message for o in outcomes] == ["" if repeats == 3 else stop] * 2


def test_the_slowest_candidate_sets_the_repeats_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    paced(monkeypatch, {"LogisticRegression": 1.0, "KNeighborsClassifier": 2.0})
    logistic, knn = repeated(10.0)
    assert len(logistic.folds) == len(knn.folds) == 3 and logistic.message == ""
    assert knn.message == "its next repeat would pass the 10 s budget: every candidate ran 1 of 3 repeats"


def test_a_failure_in_a_later_repeat_fails_the_candidate_naming_the_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    paced(monkeypatch, {"LogisticRegression": 0.1, "KNeighborsClassifier": 0.1}, fail_on=11)  # k-NN, repeat 2, fold 2
    logistic, knn = repeated(100.0)
    assert logistic.status == "ok" and len(logistic.folds) == 9
    assert knn.status == "failed" and len(knn.folds) == 4
    assert knn.message == "ValueError on fold 2: singular on purpose (repeat 2)"


def test_the_first_repeat_is_never_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    paced(monkeypatch, {"LogisticRegression": 2.0, "KNeighborsClassifier": 0.1})
    logistic, knn = repeated(3.0)
    assert logistic.status == "over budget" and logistic.message == "over its 3 s budget after 2 of 3 folds"
    assert knn.status == "ok" and len(knn.folds) == 9, "the others go on without it"
