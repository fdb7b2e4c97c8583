"""Tests for stage `train`: the families to tune, the tuning verb, curves and their diagnosis, the saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlworkflow import io
from mlworkflow.core import crossval, families, metrics, searches
from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import TrainParams
from mlworkflow.stages import train
from mlworkflow.views import train as view
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
    assert len(learning) == 5 and learning["training rows"].is_monotonic_increasing
    assert learning[["train", "validation"]].notna().all().all()
    validation = train.validation_curve_frame(spec, result, X, y, params, 0)
    assert (
        validation.columns[0] == ("alpha" if task == "regression" else "C")
        and len(validation) == train.CURVE_POINTS
    )
    assert isinstance(view.plot_curve(validation, result.metric, "validation curve"), Figure)
    assert train.learning_diagnosis(learning, result.metric).sentence
    assert train.validation_diagnosis(validation, result.metric).sentence.startswith("Validation")


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
        and "root_mean_squared_error 0.1000 vs validation 0.5000" in errors.sentence
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
    assert set(content["headline"]) == {"model", "cv root_mean_squared_error", "search", "fit"}
    assert content["headline"]["fit"] == "no overfitting" and len(content["trials"]) == 5


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
    assert searches.best_of(results).best_score == max(r.best_score for r in results)


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
    settings = searches.SearchSettings("random", n_iter=1, grid_points=2, folds=3, n_jobs=1)
    defaults = searches.tune(spec, "logistic", X, y, settings, seed=0, metric=metric).trials[-1]
    folds = crossval.make_cv("binary", 3, 0).split(X, y)
    expected = [
        direct(families.make_pipeline(spec, "logistic", 0).fit(X.iloc[fit], y.iloc[fit]), X.iloc[held], y.iloc[held],
               positive, [metric])[metric]
        for fit, held in folds
    ]
    assert defaults.params == {}
    assert defaults.score == pytest.approx(float(np.mean(expected)), abs=1e-12)
