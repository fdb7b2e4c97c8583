"""Tests for stage `train`: searches, spaces, budgets and failures, curves, the saved model."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import randint

from mlworkflow import io
from mlworkflow.errors import DataError, MlwError, ParamsError
from mlworkflow.params import TrainParams, section_from_namespace
from mlworkflow.stages import train
from mlworkflow.stages.preprocess import FeatureSpec

TASKS = ("binary", "multiclass", "regression")
SEARCHES = ("grid", "random", "halving", "optuna")
FAST = {"folds": 2, "n_iter": 4, "grid_points": 2, "n_jobs": 1, "time_budget_s": None}


def tiny(task: str, rows: int = 90, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, FeatureSpec]:
    """A small frame with two numeric and one categorical feature, and a target for the task."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.normal(size=rows), "c": rng.choice(["x", "y", "z"], rows)}
    )
    signal = X["a"] + (X["c"] == "x") + rng.normal(scale=0.5, size=rows)
    labels = {
        "binary": np.where(signal > 0.3, "yes", "no"),
        "multiclass": np.array(["hi", "lo", "mid"])[np.digitize(signal, [-0.2, 0.8])],
        "regression": signal.to_numpy(),
    }[task]
    classes = sorted(set(labels)) if task != "regression" else []
    positive = "yes" if task == "binary" else None
    spec = FeatureSpec(
        target="t",
        task=task,
        classes=classes,
        positive_class=positive,
        numeric=("a", "b"),
        categorical=("c",),
    )
    return X, pd.Series(labels, name="t"), spec


def run(task: str, family: str = "logistic", **settings: object) -> train.SearchResult:
    """Tune one family on the tiny frame of a task."""
    X, y, spec = tiny(task)
    params = TrainParams.model_validate({**FAST, **settings})
    return train.tune(spec, family, X, y, params, seed=0, metric=train.resolve_metric("auto", task))


@functools.cache
def standard(task: str, search: str) -> train.SearchResult:
    """The default-space search of the logistic family, run once per session (results are immutable)."""
    return run(task, search=search)


# --- inputs and metric -------------------------------------------------------------------------


def test_split_xy_names_a_missing_column() -> None:
    X, y, spec = tiny("binary")
    features, target = train.split_xy(X.assign(t=y), spec)
    assert list(features.columns) == ["a", "b", "c"] and target.name == "t"
    with pytest.raises(DataError, match=r"column 'c'.*re-run stage 'preprocess'"):
        train.split_xy(X.drop(columns="c").assign(t=y), spec)


def test_families_to_tune_takes_the_top_k_and_checks_them() -> None:
    selection = {"chosen": ["hist_gradient_boosting", "logistic", "knn"]}
    assert train.families_to_tune(selection, 2, "binary") == ("hist_gradient_boosting", "logistic")
    with pytest.raises(DataError, match=r"select.json.*no 'chosen'"):
        train.families_to_tune({"chosen": []}, 1, "binary")
    with pytest.raises(ParamsError, match=r"naive_bayes.*classification only"):
        train.families_to_tune({"chosen": ["naive_bayes"]}, 1, "regression")


def test_resolve_metric_auto_selected_and_errors() -> None:
    assert train.resolve_metric("auto", "regression") == "neg_root_mean_squared_error"
    assert train.resolve_metric("auto", "binary", selected="average_precision") == "average_precision"
    assert train.resolve_metric("root_mean_squared_error", "regression") == "neg_root_mean_squared_error"
    with pytest.raises(ParamsError, match=r"train\.metric.*'roc_acu'.*Did you mean 'roc_auc'"):
        train.resolve_metric("roc_acu", "binary")
    with pytest.raises(ParamsError, match=r"train\.metric.*regression task.*classification scorer"):
        train.resolve_metric("roc_auc", "regression")


# --- search spaces -----------------------------------------------------------------------------


def test_grid_values_and_distributions_follow_the_spec() -> None:
    assert train.grid_values({"low": 1e-3, "high": 10.0, "log": True}, 3) == [0.001, 0.1, 10.0]
    assert train.grid_values({"low": 1, "high": 50, "log": True, "type": "int"}, 3) == [1, 7, 50]
    assert train.grid_values({"low": 2, "high": 3, "type": "int"}, 5) == [2, 3]
    assert train.grid_values(["a", None], 3) == ["a", None]
    uniform = train.distribution({"low": 0.0, "high": 2.0})
    assert uniform.support() == (0.0, 2.0)
    log = train.distribution({"low": 1e-3, "high": 1.0, "log": True}).rvs(size=200, random_state=0)
    assert log.min() >= 1e-3 and log.max() <= 1.0 and np.median(log) < 0.1
    integers = train.distribution({"low": 1, "high": 5, "type": "int"})
    assert isinstance(integers.dist, type(randint)) and integers.support() == (1, 5)


def test_optuna_suggestions_cover_ranges_and_structured_choices() -> None:
    space = {
        "h": [[32], [64, 32]],
        "c": {"low": 0.1, "high": 10.0, "log": True},
        "k": {"low": 1, "high": 3, "type": "int"},
    }
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        values = {name: train.suggest(trial, name, spec) for name, spec in space.items()}
        assert values["h"] in ([32], [64, 32]) and 0.1 <= values["c"] <= 10.0 and values["k"] in (1, 2, 3)
        study.tell(trial, 0.0)


def test_user_space_overrides_one_parameter_and_routes_short_names() -> None:
    space = train.merge_space("svm", "binary", {"svm": {"C": [1.0, 10.0]}})
    assert space["model__estimator__C"] == [1.0, 10.0]
    assert "model__estimator__gamma" in space  # defaults for the other parameters stay
    result = run("binary", search="grid", space={"logistic": {"C": [0.5, 2.0]}})
    assert [t.params for t in result.trials] == [{"model__C": 0.5}, {"model__C": 2.0}, {}]  # + the defaults


def test_space_errors_name_the_key_with_a_hint() -> None:
    with pytest.raises(ParamsError, match=r"train\.space\.logistc.*Did you mean 'logistic'"):
        train.merge_space("logistic", "binary", {"logistc": {"C": [1.0]}})
    with pytest.raises(ParamsError, match=r"train\.space\.logistic\.model__Cc.*Did you mean 'model__C'"):
        run("binary", space={"logistic": {"Cc": [1.0]}})
    with pytest.raises(ParamsError, match=r"space\.knn\.n_neighbors.*low < high"):
        section_from_namespace("train", {"space": {"knn": {"n_neighbors": {"low": 9, "high": 3}}}})


# --- the four searches ---------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("search", SEARCHES)
def test_every_search_tunes_every_task(search: str, task: str) -> None:
    result = standard(task, search)
    best = result.best
    assert result.status == "completed" and best is not None
    assert len(result.trials) == {"grid": 2, "random": 4, "halving": 6, "optuna": 4}[search] + 1  # + defaults
    tuned = next(t for t in result.trials if t.params)
    ((name, value),) = tuned.params.items()
    assert name == ("model__alpha" if task == "regression" else "model__C") and value > 0
    assert best.score >= result.trials[-1].score  # never below the defaults
    if task == "regression":
        assert best.score < 0 < train.search_table([result]).iloc[0]["cv root_mean_squared_error"]
    else:
        assert 0 < best.score <= 1 and best.train_score >= best.score - 0.2


@pytest.mark.parametrize("search", ["random", "halving", "optuna"])
def test_searches_are_deterministic_for_a_seed(search: str) -> None:
    assert run("binary", search=search).trials == standard("binary", search).trials


def test_halving_keeps_the_best_third_on_more_rows() -> None:
    result = run("multiclass", search="halving", n_iter=6)
    searched = [t for t in result.trials if t.params]  # without the defaults trial
    rounds = pd.Series([t.iteration for t in searched]).value_counts().sort_index()
    assert rounds.tolist() == [6, 2]
    rows = {t.iteration: t.resources for t in searched}
    assert rows == {0: 30, 1: 90}
    best = result.best
    assert best is not None and best.iteration == 1


def test_tree_family_with_a_categorical_choice() -> None:
    result = run(
        "binary",
        family="random_forest",
        search="random",
        n_iter=2,
        space={"random_forest": {"n_estimators": [10]}},
    )
    assert result.status == "completed" and {"model__max_depth", "model__n_estimators"} <= set(
        result.trials[0].params
    )


# --- failures and budgets ------------------------------------------------------------------------


def test_a_search_whose_fits_all_fail_is_reported_not_raised() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [-1.0]}})
    assert result.status.startswith("failed") and "'C' parameter" in result.status
    assert result.best is not None and result.best.params == {}  # the defaults are kept


def test_failed_candidates_are_noted_and_the_rest_still_count() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [-1.0, 1.0]}})
    assert (
        result.status == "completed" and result.best is not None and result.best.params == {"model__C": 1.0}
    )
    table = train.trials_table(result)
    assert "'C' parameter" in table["note"].iloc[-1] and math.isnan(table["roc_auc"].iloc[-1])


def test_a_failing_halving_search_is_reported() -> None:
    result = run("regression", search="halving", space={"logistic": {"alpha": [-1.0, -2.0]}})
    assert result.status.startswith("failed")
    assert result.best is not None and result.best.params == {}  # the defaults are kept


@pytest.mark.parametrize("search", SEARCHES)
def test_a_spent_budget_stops_the_search_after_the_first_trial(search: str) -> None:
    result = run(
        "binary", search=search, time_budget_s=1e-9, n_iter=6, space={"logistic": {"C": [0.1, 1.0, 10.0]}}
    )
    assert result.status.startswith("stopped: time budget spent"), result.status
    assert result.best is not None
    expected = 4 if search == "halving" else 2  # halving stops between rounds; + the defaults trial
    assert len(result.trials) == expected


def test_best_of_picks_the_highest_cv_score() -> None:
    def result(family: str, *scores: float) -> train.SearchResult:
        trials = tuple(train.Trial({"model__C": 1.0}, s, 0.0, s) for s in scores)
        return train.SearchResult(family, "random", "neg_log_loss", trials)

    weak, strong, failed = result("knn", -0.5, -0.4), result("svm", -0.6, -0.3), result("mlp", math.nan)
    assert train.best_of([weak, failed, strong]) is strong


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


def test_progress_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "search": "optuna"})
    train.tune(spec, "logistic", X, y, params, 0, "roc_auc", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "logistic (optuna)" in captured.err and "4/4" in captured.err


def test_optuna_logging_is_restored() -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    run("binary", search="optuna")
    assert optuna.logging.get_verbosity() == optuna.logging.INFO


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
    assert isinstance(train.plot_curve(validation, result.metric, "validation curve"), Figure)
    assert train.learning_diagnosis(learning, result.metric).sentence
    assert train.validation_diagnosis(validation, result.metric).sentence.startswith("Validation")


def test_curve_param_defaults_per_family_and_checks_requests() -> None:
    forest = train.merge_space("random_forest", "binary", {})
    assert train.curve_param("random_forest", forest, None) == "model__min_samples_leaf"
    svm = train.merge_space("svm", "regression", {})
    assert train.curve_param("svm", svm, "epsilon") == "model__regressor__epsilon"
    with pytest.raises(ParamsError, match=r"train\.validation_param.*'gama'.*Did you mean 'gamma'"):
        train.curve_param("svm", svm, "gama")


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


def test_search_plot_for_sequential_and_halving_searches() -> None:
    assert isinstance(train.plot_search(standard("binary", "optuna")), Figure)
    assert isinstance(train.plot_search(standard("binary", "halving")), Figure)
    labels = train.curve_frame("max_depth", [None, 8], [[0.8], [0.9]], [[0.7], [0.8]], "roc_auc")
    assert labels["max_depth"].tolist() == [None, 8]
    figure = train.plot_curve(labels, "roc_auc", "categorical axis", mark=8)
    assert [line.get_xdata()[0] for line in figure.axes[0].lines][-1] == 1.0  # the tuned value's tick
    assert train.mark_position(0.5, None) == 0.5 and train.mark_position("x", ["a"]) is None
    result, best = standard("binary", "grid"), standard("binary", "grid").best
    assert best is not None and train.tuned_value(result, "C") == best.params["model__C"]
    assert train.tuned_value(result, "gamma") is None


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
    content = train.record(result, [result], diagnoses)
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
    result = train.tune(spec, family, X, y, params, 0, train.resolve_metric("auto", task))
    assert result.status == "completed" and result.best is not None
    model = train.fit_final(spec, result, X, y, 0)
    assert train.same_predictions(model, io.read_model(io.write_model(tmp_path / "m.skops", model)), X)
    sweep = train.validation_curve_frame(spec, result, X, y, params, 0)
    assert (
        sweep.columns[0] == ("C" if family == "svm" else "n_neighbors") and sweep["validation"].notna().all()
    )


def test_the_defaults_are_always_a_trial_and_the_hgb_reference_joins() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [1e-4]}})
    assert result.trials[-1].params == {} and math.isfinite(result.trials[-1].score)
    assert result.best is not None and result.best.score >= result.trials[0].score


def test_tune_all_adds_the_default_hgb_reference_unless_it_is_tuned() -> None:
    X, y, spec = tiny("binary")
    params = TrainParams.model_validate({**FAST, "search": "grid", "space": {"logistic": {"C": [1.0]}}})
    metric = train.resolve_metric("auto", "binary")
    results = train.tune_all(spec, ["logistic"], X, y, params, seed=0, metric=metric)
    assert [(r.family, r.search) for r in results] == [
        ("logistic", "grid"),
        ("hist_gradient_boosting", "defaults"),
    ]
    assert train.best_of(results).best_score == max(r.best_score for r in results)


def test_best_of_raises_when_nothing_scored() -> None:
    failed = train.Trial({}, math.nan, math.nan, math.nan, error="boom")
    result = train.SearchResult("logistic", "grid", "roc_auc", (failed,), "failed: boom")
    with pytest.raises(MlwError, match=r"every search failed.*logistic: failed: boom"):
        train.best_of([result])
