"""Tests for stage `train`: the families to tune, the tuning verb, curves and their diagnosis, the saved model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier

from mlworkflow import io
from mlworkflow.core import calibration, crossval, ensemble, families, metrics, searches, trials
from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import TrainParams
from mlworkflow.stages import train
from mlworkflow.views import train as view
from tests.core.test_calibration import few_rows_five_classes
from tests.core.test_searches import TASKS, run, standard, tiny
from tests.metrickit import LABEL_SETS, direct, relabel

FAST = {"folds": 2, "n_iter": 4, "grid_points": 2, "n_jobs": 1, "time_budget_s": None}


# --- inputs and metric -------------------------------------------------------------------------


def test_split_xy_names_a_missing_column() -> None:
    X, y, spec = tiny("binary")
    features, target = train.split_xy(X.assign(t=y), spec)
    assert list(features.columns) == ["a", "b", "c"] and target.name == "t"
    with pytest.raises(DataError, match=r"column 'c'.*re-run stage 'preprocess'"):
        train.split_xy(X.drop(columns="c").assign(t=y), spec)


def test_families_to_tune_takes_the_top_k_and_checks_them() -> None:
    chosen = ["hist_gradient_boosting", "logistic", "knn"]
    assert train.families_to_tune(chosen, 2, "binary") == ("hist_gradient_boosting", "logistic")
    with pytest.raises(DataError, match=r"select.json.*no 'chosen'"):
        train.families_to_tune([], 1, "binary")
    with pytest.raises(ParamsError, match=r"naive_bayes.*classification only"):
        train.families_to_tune(["naive_bayes"], 1, "regression")


def test_families_at_defaults_are_the_other_chosen_and_the_reference() -> None:
    assert train.families_at_defaults(["logistic", "knn"], 1, "binary") == ("knn", "hist_gradient_boosting")
    assert train.families_at_defaults(["hist_gradient_boosting", "knn"], 2, "binary") == ()
    assert train.families_at_defaults(["knn", "naive_bayes"], 1, "regression") == ("hist_gradient_boosting",)














# --- the four searches ---------------------------------------------------------------------------














# --- failures and budgets ------------------------------------------------------------------------

















# --- tables, progress ----------------------------------------------------------------------------


def test_trials_table_is_best_first_rounded_and_positive_for_errors() -> None:
    result = run("regression", search="random", n_iter=5)
    table = train.trials_table(result, top=3)
    assert len(table) == 3 and list(table.columns) == [
        "alpha",
        "root_mean_squared_error",
        "sd",
        "train root_mean_squared_error",
    ]
    scores = table["root_mean_squared_error"]
    assert scores.is_monotonic_increasing and (scores > 0).all()
    assert (scores == scores.round(4)).all()








# --- curves --------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_learning_and_validation_curves(task: str) -> None:
    X, y, spec = tiny(task, rows=120)
    params = TrainParams.model_validate(FAST)
    result = standard(task, "grid")
    learning = train.learning_curve_frame(spec, result, X, y, params, 0)
    assert list(learning.columns) == ["training rows", "train", "train sd", "validation", "validation sd"]
    assert len(learning) == len(train.LEARNING_SIZES) + 1 and learning["training rows"].is_monotonic_increasing
    assert learning[["train", "validation"]].notna().all().all()
    validation = train.validation_curve_frame(spec, result, X, y, params, 0)
    assert (
        validation.columns[0] == ("alpha" if task == "regression" else "C")
        and len(validation) == train.CURVE_POINTS
    )
    assert isinstance(view.plot_curve(validation, result.metric, "validation curve"), Figure)
    assert train.learning_diagnosis(learning, result.metric).sentence
    assert train.validation_diagnosis(validation, result.metric).sentence.startswith("Validation")


def test_the_learning_curves_last_point_is_the_searchs_own_cross_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, spec = tiny("binary", rows=120)
    params = TrainParams.model_validate({**FAST, "folds": 3})
    result = searches.tune(spec, "logistic", X, y, train.search_settings(params, len(X)), 0, "roc_auc")
    asked: list[list[float]] = []
    real = train.learning_curve

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(list(kwargs["train_sizes"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "learning_curve", spy)
    learning = train.learning_curve_frame(spec, result, X, y, params, 0)
    best = result.best
    assert best is not None and asked == [list(train.LEARNING_SIZES)]  # no refit on all of each fold's rows
    assert learning["training rows"].iloc[-1] == 80
    assert learning["validation"].iloc[-1] == pytest.approx(best.score)
    assert learning["train"].iloc[-1] == pytest.approx(best.train_score)


def test_large_data_is_cross_validated_on_fewer_folds() -> None:
    params = TrainParams.model_validate({"folds": 5})
    assert params.large_data_rows == 20_000 and params.validation_curve is True
    assert train.fold_count(params, 19_999) == 5 and train.fold_count(params, 20_000) == train.LARGE_DATA_FOLDS
    assert train.fold_count(params, None) == 5 and train.search_settings(params, 50_000).folds == 3
    never = TrainParams.model_validate({"folds": 5, "large_data_rows": None})
    assert train.fold_count(never, 10**6) == 5 and train.fold_count(params.model_copy(update={"folds": 2}), 10**6) == 2
    plan = view.plan_table(["logistic"], "roc_auc", params, 26_048)
    assert "3 folds over 26,048 training rows (`folds` = 5, at most 3" in plan.loc["cross-validation", "plan"]
    assert plan.loc["time budget", "plan"] == "600 s for all searches"


def test_the_validation_curve_sweeps_a_stratified_sample_of_large_data(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, _ = tiny("binary", rows=120)
    monkeypatch.setattr(train, "CURVE_ROWS", 40)
    rows, target = train.curve_rows(X, y, "binary", 0)
    assert len(rows) == len(target) == 40 and list(rows.index) == list(target.index)
    assert abs(float((target == "yes").mean()) - float((y == "yes").mean())) < 0.03
    assert len(train.curve_rows(X.head(30), y.head(30), "binary", 0)[0]) == 30
    assert train.NOT_SWEPT.verdict == "not checked" and "validation_curve = False" in train.NOT_SWEPT.sentence


def test_curve_param_defaults_per_family_and_checks_requests() -> None:
    forest = searches.merge_space("random_forest", "binary", {})
    assert train.curve_param("random_forest", "binary", forest, None) == "model__min_samples_leaf"
    svm = searches.merge_space("svm", "regression", {})
    assert train.curve_param("svm", "regression", svm, "epsilon") == "model__regressor__epsilon"
    with pytest.raises(ParamsError, match=r"train\.validation_param.*'gama'.*Did you mean 'gamma'"):
        train.curve_param("svm", "regression", svm, "gama")


def curve(
    train_scores: list[float], valid_scores: list[float], x_name: str = "training rows"
) -> pd.DataFrame:
    """A hand-made curve frame."""
    n = len(train_scores)
    return pd.DataFrame(
        {
            x_name: [100 * (i + 1) for i in range(n)],
            "train": train_scores,
            "train sd": [0.0] * n,
            "validation": valid_scores,
            "validation sd": [0.0] * n,
        }
    )


def test_learning_diagnosis_reads_the_gap_and_the_trend() -> None:
    over = train.learning_diagnosis(curve([1.0, 0.99, 0.99], [0.70, 0.75, 0.80]), "roc_auc")
    assert over.verdict == "overfitting, still learning" and "a gap of 0.1900 (24%)" in over.sentence
    fine = train.learning_diagnosis(curve([0.86, 0.85, 0.85], [0.84, 0.845, 0.845]), "roc_auc")
    assert (
        fine.verdict == "no overfitting" and "underfits" in fine.sentence and "levelled off" in fine.sentence
    )
    errors = train.learning_diagnosis(curve([0.10, 0.10], [0.50, 0.50]), "neg_root_mean_squared_error")
    assert (
        errors.verdict == "overfitting"
        and "Root mean squared error 0.1000 vs validation 0.5000" in errors.sentence
    )


def test_validation_diagnosis_names_both_sides() -> None:
    sweep = curve([0.70, 0.85, 0.99], [0.69, 0.83, 0.75], x_name="C")
    result = train.validation_diagnosis(sweep, "roc_auc")
    assert result.verdict == "peak inside range"
    assert (
        "peaks at C=200" in result.sentence
        and "C=300" in result.sentence
        and "overfitting" in result.sentence
    )
    assert "C=100 even the train score drops" in result.sentence
    edge = train.validation_diagnosis(curve([0.7, 0.8], [0.6, 0.7], x_name="C"), "roc_auc")
    assert edge.verdict == "peak at edge" and "widening" in edge.sentence


# --- the final model and train.json --------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_saved_model_loads_and_predicts_identically(task: str, tmp_path: Path) -> None:
    X, y, spec = tiny(task)
    result = standard(task, "grid")
    model = train.fit_final(spec, result, X, y, 0)
    assert [name for name, _ in model.steps] == ["preprocess", "model"]
    best = result.best
    assert best is not None and all(model.get_params()[k] == v for k, v in best.params.items())
    loaded = io.read_model(io.write_model(tmp_path / "model.skops", model))
    assert train.same_predictions(model, loaded, X)
    if task != "regression":
        assert np.array_equal(model.predict_proba(X), loaded.predict_proba(X))


def test_record_is_strict_json_with_a_headline() -> None:
    result = standard("regression", "optuna")
    diagnoses = {"learning": train.Diagnosis("no overfitting", "…")}
    content = train.record(result, [result], diagnoses).model_dump()
    json.dumps(content, allow_nan=False)
    best = result.best
    assert best is not None
    assert content["family"] == "logistic" and content["best_params"] == best.params
    assert content["cv_score"]["mean"] == pytest.approx(-best.score) and content["cv_score"]["mean"] > 0
    assert content["metric"] == "neg_root_mean_squared_error" and content["greater_is_better"] is False
    tuning = {"tuning"} if result.kept_defaults else set()  # the defaults kept over a higher trial: said why
    assert set(content["headline"]) == {"model", "cv root_mean_squared_error", "search", "fit", *tuning}
    assert content["headline"]["fit"] == "no overfitting" and len(content["trials"]) == 5
    assert content["headline"]["search"] == f"{len(result.trials)} settings tried by Bayesian search (Optuna, TPE sampler)"


# --- real data -----------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    ("file", "target", "task", "family"),
    [
        ("penguins.csv", "species", "multiclass", "knn"),
        ("california_housing.csv", "median_house_value", "regression", "svm"),
    ],
)
def test_tunes_and_saves_on_real_data(
    shared_data: Path, tmp_path: Path, file: str, target: str, task: str, family: str
) -> None:
    from mlworkflow.params import PreprocessParams
    from mlworkflow.stages import preprocess

    raw = io.read_file(shared_data / file)
    raw = raw.sample(n=300, random_state=0) if len(raw) > 300 else raw
    classes = [] if task == "regression" else sorted(raw[target].dropna().astype(str).unique())
    meta = {"target": target, "task": task, "classes": classes}
    frame, _ = preprocess.clean(raw, meta, PreprocessParams())
    spec = preprocess.infer_spec(frame, meta, PreprocessParams())
    X, y = train.split_xy(frame, spec)
    params = TrainParams.model_validate({**FAST, "search": "optuna", "n_iter": 3, "folds": 3})
    result = searches.tune(spec, family, X, y, train.search_settings(params), 0, str(metrics.default(task).scorer))
    assert result.status == "completed" and result.best is not None
    model = train.fit_final(spec, result, X, y, 0)
    assert train.same_predictions(model, io.read_model(io.write_model(tmp_path / "m.skops", model)), X)
    sweep = train.validation_curve_frame(spec, result, X, y, params, 0)
    assert (
        sweep.columns[0] == ("C" if family == "svm" else "n_neighbors") and sweep["validation"].notna().all()
    )





def test_tune_all_adds_the_default_hgb_reference_unless_it_is_tuned() -> None:
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "search": "grid", "space": {"logistic": {"C": [1.0]}}})
    metric = str(metrics.default("binary").scorer)
    results = train.tune_all(spec, ["logistic"], X, y, params, seed=0, metric=metric)
    assert [(r.family, r.search) for r in results] == [
        ("logistic", "grid"),
        ("hist_gradient_boosting", "defaults"),
    ]
    tuned, reference = results
    assert tuned.best is not None and reference.best is not None
    expected = tuned if tuned.best_score > reference.best_score else reference
    assert searches.best_of(results) is expected and searches.ranked(results)[0] is expected


def test_search_settings_carry_the_train_params() -> None:
    params = TrainParams.model_validate({**FAST, "search": "halving", "space": {"svm": {"C": [1.0]}}})
    settings = train.search_settings(params)
    assert (settings.search, settings.n_iter, settings.grid_points, settings.folds, settings.n_jobs) == ("halving", 4, 2, 2, 1)
    assert settings.time_budget_s is None and settings.space == {"svm": {"C": [1.0]}}


# --- the positive class, whatever its sort order ---------------------------------------------------------


@pytest.mark.parametrize(("labels", "positive"), LABEL_SETS, ids=lambda v: str(v))
@pytest.mark.parametrize("metric", ["average_precision", "roc_auc", "neg_log_loss", "neg_brier_score", "f1"])
def test_cv_score_of_the_tuning_metric_matches_sklearn_whatever_the_positive_class(
    labels: Any, positive: Any, metric: str
) -> None:
    X, yes_no, spec = tiny("binary")
    y = relabel(yes_no, labels, positive)
    spec = spec.model_copy(update={"classes": tuple(sorted(map(str, labels))), "positive_class": str(positive)})
    settings = trials.SearchSettings("random", n_iter=1, grid_points=2, folds=3, n_jobs=1)
    defaults = searches.tune(spec, "logistic", X, y, settings, seed=0, metric=metric).trials[-1]
    folds = crossval.make_cv("binary", 3, 0).split(X, y)
    expected = [
        direct(families.make_pipeline(spec, "logistic", 0).fit(X.iloc[fit], y.iloc[fit]), X.iloc[held], y.iloc[held],
               positive, [metric])[metric]
        for fit, held in folds
    ]
    assert defaults.params == {}
    assert defaults.score == pytest.approx(float(np.mean(expected)), abs=1e-12)


# --- probabilities no worse than the class prior's --------------------------------------------------------


def few_rows_tuned(*names: str) -> tuple[pd.DataFrame, pd.Series, Any, tuple[searches.SearchResult, ...]]:
    """The 303-row five-class problem, each family searched briefly on the deciding metric (balanced accuracy)."""
    X, y, spec = few_rows_five_classes()
    settings = trials.SearchSettings("random", n_iter=2, grid_points=2, folds=5, n_jobs=1)
    return X, y, spec, tuple(searches.tune(spec, name, X, y, settings, 0, "balanced_accuracy") for name in names)


def test_the_kept_model_is_calibrated_when_its_probabilities_are_worse_than_the_prior() -> None:
    X, y, spec, results = few_rows_tuned("decision_tree")
    params = TrainParams.model_validate({"folds": 5})
    kept = train.keep(spec, results, X, y, params, 0)
    assert kept.result is results[0] and kept.check is not None and kept.passed_over == {}
    assert kept.check.raw.log_loss > kept.check.prior.log_loss > kept.check.chosen.log_loss
    model = train.fit_final(spec, kept.result, X, y, 0, kept.check)
    assert isinstance(model.named_steps["model"], CalibratedClassifierCV)
    content = train.record(kept.result, results, {}, kept=kept).model_dump()
    assert content["calibration"]["method"] == "sigmoid" and content["calibration"]["trusted"] is True
    assert content["headline"]["probabilities"].startswith("sigmoid calibration, out-of-fold log-loss")


def test_a_family_that_stays_worse_than_the_prior_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, spec, results = few_rows_tuned("decision_tree", "logistic")
    real = calibration.check_out_of_fold

    def tree_untrusted(family: str, *args: Any, **kwargs: Any) -> calibration.Check:
        found = real(family, *args, **kwargs)
        return found if family != "decision_tree" else dataclasses.replace(found, method=calibration.UNCALIBRATED)

    monkeypatch.setattr(calibration, "check_out_of_fold", tree_untrusted)
    best = searches.best_of(results)
    assert best.family == "decision_tree"
    kept = train.keep(spec, results, X, y, TrainParams.model_validate({"folds": 5}), 0)
    assert kept.result.family == "logistic" and list(kept.passed_over) == ["decision_tree"]
    assert "worse than the class prior's" in kept.passed_over["decision_tree"]
    assert "Passed over: Decision tree: out-of-fold log-loss" in kept.sentence
    monkeypatch.setattr(calibration, "check_out_of_fold", lambda family, *a, **k: dataclasses.replace(
        real(family, *a, **k), method=calibration.UNCALIBRATED, raw=calibration.Losses(9.0, 1.0)))
    with pytest.raises(DataError, match="no tuned family's probabilities beat the class prior's"):
        train.keep(spec, results, X, y, TrainParams.model_validate({"folds": 5}), 0)


def test_the_check_refits_nothing_and_the_kept_predictions_are_calibrated(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, spec, results = few_rows_tuned("decision_tree")
    expected = calibration.check("decision_tree", searches.tuned_pipeline(spec, results[0], 0), X, y, 5, 0)

    real = calibration.out_of_fold

    def no_refit(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        assert isinstance(estimator, DummyClassifier), "the check refitted the model"  # the prior's fits only
        return real(estimator, *args, **kwargs)

    monkeypatch.setattr(calibration, "out_of_fold", no_refit)
    kept = train.keep(spec, results, X, y, TrainParams.model_validate({"folds": 5}), 0)
    assert kept.check == expected and kept.check.method == "sigmoid"
    predictions = train.kept_out_of_fold(kept)
    assert results[0].oof is not None and predictions.predictions.shape == results[0].oof.predictions.shape
    assert calibration.losses(y, predictions.predictions, list(predictions.classes)) == kept.check.chosen


def test_regression_keeps_the_best_search_without_a_check() -> None:
    result = standard("regression", "optuna")
    X, y, spec = tiny("regression")
    kept = train.keep(spec, [result], X, y, TrainParams.model_validate(FAST), 0)
    assert kept.result is result and kept.check is None and kept.as_record() is None
    assert train.kept_out_of_fold(kept) is result.oof
    assert "calibration" not in train.record(result, [result], {}, kept=kept).model_dump()


# --- what the optional steps did to the final model -------------------------------------------------


def final_with_steps(selection: str, imbalance: str) -> tuple[Any, Any, searches.SearchResult]:
    """A tuned logistic model with the optional steps, fitted on all rows; (spec, model, result)."""
    from mlworkflow.core.features import TransformerSettings

    X, y, spec = tiny("binary")
    spec = spec.model_copy(update={"transformer": TransformerSettings(feature_selection=selection, imbalance=imbalance)})
    result = searches.tune(spec, "logistic", X, y, trials.SearchSettings("random", 2, 2, 2, 1, None, {}), 0,
                           "roc_auc")
    return spec, train.fit_final(spec, result, X, y, 0), result


def test_step_choice_lists_the_kept_features_and_the_balancing() -> None:
    spec, model, result = final_with_steps("model", "smote")
    steps = train.step_choice(spec, "logistic", model)
    assert steps is not None and steps["kept"] and "a" in steps["kept"]
    assert sorted(steps["kept"] + steps["dropped"]) == sorted(model.named_steps["preprocess"].get_feature_names_out())
    assert "SMOTE" in steps["imbalance_note"] and "extremely randomized trees" in steps["cost"]
    content = train.record(result, [result], {}, steps=steps).model_dump()
    assert content["steps"]["kept"] == steps["kept"]
    assert content["headline"]["features kept"] == len(steps["kept"])


def test_without_the_steps_train_json_is_as_before() -> None:
    spec, model, result = final_with_steps("none", "none")
    assert train.step_choice(spec, "logistic", model) is None
    content = train.record(result, [result], {}).model_dump()
    assert "steps" not in content and "features kept" not in content["headline"]
    weighted, model, _ = final_with_steps("none", "class_weight")
    steps = train.step_choice(weighted, "logistic", model)
    assert steps is not None and steps["kept"] == [] and steps["imbalance"] == "class_weight"


# --- an ensemble of the tuned families -----------------------------------------------------------------------


def two_families() -> tuple[Any, pd.DataFrame, pd.Series, tuple[searches.SearchResult, ...], train.Kept, TrainParams]:
    """Logistic and k-NN tuned on the tiny binary frame, and the model train keeps of them: (spec, X, y, results,
    kept, params)."""
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "folds": 3, "n_iter": 1, "top_k": 2})
    results = train.tune_all(spec, ["logistic", "knn"], X, y, params, 0, "roc_auc")
    return spec, X, y, results, train.keep(spec, results, X, y, params, 0), params


def tuned_alone(family: str) -> tuple[Any, pd.Series, tuple[searches.SearchResult, ...], train.Kept, TrainParams]:
    """One family tuned at `top_k: 1` on the tiny binary frame, and the model train keeps: (spec, y, results, kept,
    params); the results hold the HGB reference's defaults too unless the family is the reference."""
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "folds": 3, "n_iter": 1, "top_k": 1})
    results = tuple(train.tune_all(spec, [family], X, y, params, 0, "roc_auc"))
    return spec, y, results, train.keep(spec, results, X, y, params, 0), params


def test_no_ensemble_is_tried_when_only_the_reference_is_tuned_and_train_json_says_so() -> None:
    spec, y, results, kept, params = tuned_alone("hist_gradient_boosting")
    chosen = train.try_ensemble(spec, results, kept, y, params, 0)
    assert not chosen.kept and chosen.scores is None and "`train.top_k` ≥ 2" in chosen.sentence
    content = train.with_ensemble(train.record(kept.result, results, {}, kept=kept), chosen, results).model_dump()
    assert content["family"] == kept.result.family and content["ensemble"]["kept"] is False
    assert content["ensemble"]["cv_score"] == {} and content["ensemble"]["sentence"] == chosen.sentence


def test_train_json_says_when_the_defaults_were_kept_over_a_higher_scoring_trial() -> None:
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "search": "grid", "folds": 3, "space": {"logistic": {"C": [1.05]}}})
    result = train.tune_all(spec, ["logistic"], X, y, params, 0, "neg_log_loss")[0]
    assert result.kept_defaults  # C = 1.05 against the default 1.0: a hair either way, never a clear gain
    headline = train.record(result, [result], {}).headline
    assert headline["tuning"].startswith("defaults kept: the best trial gained +") and "(the bar is 1)" in headline["tuning"]
    content = train.record(result, [result], {}).model_dump()
    assert content["best_params"] == {}
    plain = dataclasses.replace(result, trials=result.trials[:1])
    assert "tuning" not in train.record(plain, [plain], {}).headline


def test_with_top_k_1_the_reference_defaults_join_the_ensemble_tried() -> None:
    spec, y, results, kept, params = tuned_alone("logistic")
    chosen = train.try_ensemble(spec, results, kept, y, params, 0)
    assert chosen.scores is not None and len(chosen.scores.ensemble) == 3  # nested over the search's three folds
    assert chosen.members and set(chosen.members) <= {"logistic", "hist_gradient_boosting"}
    alone = train.try_ensemble(spec, results[:1], dataclasses.replace(kept, result=results[0]), y, params, 0)
    assert alone.scores is None  # without the reference's defaults there was nothing to combine
    off = train.try_ensemble(spec, results, kept, y, params.model_copy(update={"ensemble": "none"}), 0)
    assert off.scores is None and "is none" in off.sentence


def test_a_kept_ensemble_is_train_jsons_model_with_its_members_and_nested_score() -> None:
    spec, X, y, results, kept, params = two_families()
    chosen = train.try_ensemble(spec, results, kept, y, params, 0)
    scores = chosen.scores
    assert scores is not None and len(scores.ensemble) == 3
    if not chosen.kept:  # the tiny frame may not reward it: the same choice with its ensemble built, to record one
        members = [m for m in ensemble.members(spec, results, 0) if m.family in chosen.members]
        chosen = dataclasses.replace(chosen, estimator=ensemble.build("greedy", members, chosen.weights, "binary", None, 1))
    model = train.fit_ensemble(chosen, X, y)
    content = train.with_ensemble(train.record(kept.result, results, {}, kept=kept), chosen, results).model_dump()
    json.dumps(content, allow_nan=False)
    assert content["family"] == "ensemble" and set(content["best_params"]) == set(chosen.members)
    assert content["cv_score"]["mean"] == pytest.approx(np.mean(scores.ensemble))
    assert content["calibration"]["method"] == "none" and content["calibration"]["trusted"]
    assert content["headline"]["model"] == chosen.label and content["ensemble"]["kept"]
    assert train.step_choice(spec, kept.result.family, model) is None  # no steps: as for a single model
    summary = view.final_summary(kept.result, model, model, X)["final model"]
    assert summary["estimator"] == "VotingClassifier" and summary["reloaded model predicts identically"]
    table = view.ensemble_table(chosen)
    assert list(table.index) == ["fold 1", "fold 2", "fold 3", "mean"]
    assert table.loc["mean", "ensemble"] == pytest.approx(np.mean(scores.ensemble), abs=1e-4)
    assert view.ensemble_table(dataclasses.replace(chosen, scores=None)) is None  # no table after 'No ensemble'


def test_search_rows_are_all_rows_below_the_cap_and_a_stratified_sample_above() -> None:
    X, y, spec = tiny("binary", rows=3000)
    params = TrainParams(search_rows=1000)
    below = TrainParams()
    assert train.search_rows(X, y, below, spec.task, 0)[0] is X and train.search_rows_sentence(len(X), below) is None
    sample, target = train.search_rows(X, y, params, spec.task, 0)
    assert len(sample) == len(target) == 1000 and sample.index.equals(target.index)
    assert abs((target == "yes").mean() - (y == "yes").mean()) < 0.001
    assert "1,000 of 3,000 rows" in str(train.search_rows_sentence(len(X), params))
    assert train.search_rows_sentence(len(X), TrainParams(search_rows=None)) is None


def test_a_forest_refitted_on_more_rows_than_searched_draws_the_searched_rows_per_tree() -> None:
    X, y, spec = tiny("binary", rows=90)
    result = run("binary", family="random_forest", search="random", n_iter=1)
    assert train.searched_rows(result) == 90
    same = train.fit_final(spec, result, X, y, 0).named_steps["model"]  # as many rows as searched: unchanged
    assert same.max_samples is None and same.estimators_[0].tree_.weighted_n_node_samples[0] == 90
    more_X, more_y, _ = tiny("binary", rows=400, seed=1)
    forest = train.fit_final(spec, result, more_X, more_y, 0).named_steps["model"]
    assert forest.max_samples == 90  # each tree's bootstrap draws 90 of the 400 rows, as in the search
    assert {tree.tree_.weighted_n_node_samples[0] for tree in forest.estimators_} == {90.0}


def test_bagged_draws_leave_models_without_bootstrap_or_with_their_own_draws_alone() -> None:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline

    forest = Pipeline([("model", RandomForestClassifier())])
    assert train.bagged_draws(forest, 100, 800) == {"model__max_samples": 100}
    assert train.bagged_draws(forest, 100, 100) == {} and train.bagged_draws(forest, None, 800) == {}
    assert train.bagged_draws(Pipeline([("model", RandomForestClassifier(max_samples=0.5))]), 100, 800) == {}
    assert train.bagged_draws(Pipeline([("model", ExtraTreesClassifier())]), 100, 800) == {}  # no bootstrap
    assert train.bagged_draws(Pipeline([("model", RandomForestClassifier(bootstrap=False))]), 100, 800) == {}


def test_a_kept_ensembles_forest_draws_the_searched_rows_per_tree_when_refitted_on_more() -> None:
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "folds": 3, "n_iter": 1, "search_rows": 1000})
    results = tuple(train.tune_all(spec, ["random_forest"], X, y, params, 0, "roc_auc"))
    kept = train.keep(spec, results, X, y, params, 0)
    chosen = train.try_ensemble(spec, results, kept, y, params, 0)
    members = ensemble.members(spec, results, 0)
    forced = dataclasses.replace(chosen, estimator=ensemble.build("greedy", members, (1.0, 1.0), "binary", None, 1))
    more_X, more_y, _ = tiny("binary", rows=300, seed=1)
    model = train.fit_ensemble(forced, more_X, more_y)
    assert model.named_estimators_["random_forest"].named_steps["model"].max_samples == len(X)
    assert forced.estimator.get_params()["random_forest__model__max_samples"] is None  # the choice is left as it was
    assert train.fit_ensemble(forced, X, y).named_estimators_["random_forest"].named_steps["model"].max_samples is None


def test_the_reload_check_predicts_every_row_of_a_small_frame_and_an_even_spread_of_a_large_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []

    class Counting:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            seen.append(len(X))
            return np.asarray(X["a"])

    monkeypatch.setattr(train, "CHECK_ROWS", 50)
    X, _, _ = tiny("binary", rows=40)
    assert train.same_predictions(Counting(), Counting(), X) and seen == [40, 40]
    X, _, _ = tiny("binary", rows=400)
    assert train.same_predictions(Counting(), Counting(), X) and seen[2:] == [50, 50]
