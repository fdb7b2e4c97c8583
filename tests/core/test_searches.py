"""The tuning of each family: user spaces, failures, the defaults and the reference, budgets, the best result."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_predict, cross_val_score

from mlworkflow.core import crossval, families, metrics, searches, trials
from mlworkflow.core.features import FeatureSpec
from mlworkflow.errors import MlwError, ParamsError
from mlworkflow.params import section_from_namespace
from mlworkflow.stages import train

TASKS = ("binary", "multiclass", "regression")
SEARCHES = ("grid", "random", "halving", "optuna")
FAST = trials.SearchSettings("optuna", n_iter=4, grid_points=2, folds=2, n_jobs=1)  # the params' default search


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


def run(task: str, family: str = "logistic", **changes: Any) -> searches.SearchResult:
    """Tune one family on the tiny frame of a task."""
    X, y, spec = tiny(task)
    settings = dataclasses.replace(FAST, **changes)
    return searches.tune(spec, family, X, y, settings, seed=0, metric=str(metrics.default(task).scorer))


@functools.cache
def standard(task: str, search: str) -> searches.SearchResult:
    """The default-space search of the logistic family, run once per session (results are immutable)."""
    return run(task, search=search)


# --- spaces ----------------------------------------------------------------------------------------


def test_user_space_overrides_one_parameter_and_routes_short_names() -> None:
    space = searches.merge_space("svm", "binary", {"svm": {"C": [1.0, 10.0]}})
    assert space["model__estimator__C"] == [1.0, 10.0]
    assert "model__estimator__gamma" in space  # defaults for the other parameters stay
    result = run("binary", search="grid", space={"logistic": {"C": [0.5, 2.0]}})
    assert [t.params for t in result.trials] == [{"model__C": 0.5}, {"model__C": 2.0}, {}]  # + the defaults


def test_space_errors_name_the_key_with_a_hint() -> None:
    with pytest.raises(ParamsError, match=r"train\.space\.logistc.*Did you mean 'logistic'"):
        searches.merge_space("logistic", "binary", {"logistc": {"C": [1.0]}})
    with pytest.raises(ParamsError, match=r"train\.space\.logistic\.model__Cc.*Did you mean 'model__C'"):
        run("binary", space={"logistic": {"Cc": [1.0]}})
    with pytest.raises(ParamsError, match=r"space\.knn\.n_neighbors.*low < high"):
        section_from_namespace("train", {"space": {"knn": {"n_neighbors": {"low": 9, "high": 3}}}})


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


def test_a_search_whose_fits_all_fail_is_reported_not_raised() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [-1.0]}})
    assert result.status.startswith("failed") and "'C' parameter" in result.status
    assert result.best is not None and result.best.params == {}  # the defaults are kept


def test_failed_candidates_are_noted_and_the_rest_still_count() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [-1.0, 1.0]}})
    assert result.status == "completed" and result.top is not None and result.top.params == {"model__C": 1.0}
    assert result.best is not None and result.best.params == {}  # C = 1 is the default: no gain over it
    table = train.trials_table(result)
    assert "'C' parameter" in table["note"].iloc[-1] and math.isnan(table["roc_auc"].iloc[-1])


def test_best_of_picks_the_highest_cv_score() -> None:
    def result(family: str, *scores: float) -> searches.SearchResult:
        tried = tuple(trials.Trial({"model__C": 1.0}, s, 0.0, s) for s in scores)
        return searches.SearchResult(family, "random", "neg_log_loss", tried)

    weak, strong, failed = result("knn", -0.5, -0.4), result("svm", -0.6, -0.3), result("mlp", math.nan)
    assert searches.best_of([weak, failed, strong]) is strong


def test_the_defaults_are_always_a_trial_and_the_hgb_reference_joins() -> None:
    result = run("binary", search="grid", space={"logistic": {"C": [1e-4]}})
    assert result.trials[-1].params == {} and math.isfinite(result.trials[-1].score)
    assert result.best is not None and result.best.score >= result.trials[0].score


def test_at_defaults_lists_the_other_chosen_and_the_reference_once_when_not_tuned() -> None:
    assert searches.at_defaults(["logistic"], ["knn", "logistic"], "binary") == ["knn", families.REFERENCE]
    assert searches.at_defaults([families.REFERENCE], ["knn", families.REFERENCE], "binary") == ["knn"]
    assert searches.at_defaults(["logistic"], ["naive_bayes"], "regression") == [families.REFERENCE]


def test_families_at_defaults_are_cross_validated_on_the_same_folds_and_compete() -> None:
    X, y, spec = tiny("binary")
    results = searches.tune_all(spec, ["logistic"], X, y, FAST, 0, "roc_auc", also=["knn"])
    assert [(r.family, r.search) for r in results] == [
        ("logistic", "optuna"), ("knn", "defaults"), (families.REFERENCE, "defaults")]
    knn = results[1]
    assert [t.params for t in knn.trials] == [{}] and knn.oof is not None
    assert np.array_equal(knn.oof.fold, results[0].oof.fold)  # the searches' folds: an ensemble can combine them
    alone = cross_val_score(families.make_pipeline(spec, "knn", 0), X, y, cv=crossval.make_cv("binary", 2, 0),
                            scoring=searches.scorer("roc_auc", y, spec))
    assert knn.best_score == pytest.approx(float(np.mean(alone)))


def test_best_of_raises_when_nothing_scored() -> None:
    failed = trials.Trial({}, math.nan, math.nan, math.nan, error="boom")
    result = searches.SearchResult("logistic", "grid", "roc_auc", (failed,), "failed: boom")
    with pytest.raises(MlwError, match=r"every search failed.*logistic: failed: boom"):
        searches.best_of([result])


# --- out-of-fold predictions and the budget ---------------------------------------------------------


@pytest.mark.parametrize("search", SEARCHES)
def test_the_best_trials_out_of_fold_predictions_come_with_the_result(search: str) -> None:
    result = standard("binary", search)
    X, y, spec = tiny("binary")
    best = result.best
    assert best is not None and result.oof is not None
    pipeline = families.make_pipeline(spec, "logistic", 0).set_params(**best.params)
    cv = crossval.make_cv("binary", FAST.folds, 0)
    expected = cross_val_predict(pipeline, X, y, cv=cv, method="predict_proba")
    np.testing.assert_allclose(result.oof.predictions, expected)
    assert result.oof.n_folds == FAST.folds and result.oof.classes == ("no", "yes")


def test_a_regression_search_keeps_its_predictions() -> None:
    result = standard("regression", "random")
    assert result.oof is not None and result.oof.predictions.shape == (90,) and not result.oof.is_classifier


def test_an_expired_deadline_stops_the_search_whatever_its_own_budget() -> None:
    X, y, spec = tiny("binary")
    settings = dataclasses.replace(FAST, search="random", n_iter=5, time_budget_s=None)
    result = searches.tune(spec, "logistic", X, y, settings, 0, "roc_auc", until=time.monotonic() - 1.0)
    assert result.status.startswith("stopped: time budget spent after 1 of 5") and len(result.trials) == 2


def test_the_budget_is_the_wall_time_of_all_families_together(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, spec = tiny("binary")
    untils: list[float | None] = []
    real = searches.tune

    def spy(*args: Any, **kwargs: Any) -> searches.SearchResult:
        untils.append(args[8] if len(args) > 8 else kwargs.get("until"))
        return real(*args, **kwargs)

    monkeypatch.setattr(searches, "tune", spy)
    settings = dataclasses.replace(FAST, search="random", n_iter=1, time_budget_s=50.0)
    searches.tune_all(spec, ["logistic", "knn"], X, y, settings, 0, "roc_auc")
    assert len(untils) == 2 and untils[0] == untils[1] and untils[0] is not None
    assert untils[0] <= time.monotonic() + 50.0


# --- the winner's curse: tuned settings and families must clearly beat the defaults ------------------------


def scored(params: dict[str, Any], folds: tuple[float, ...]) -> trials.Trial:
    return trials.Trial(params, float(np.mean(folds)), float(np.std(folds)), math.nan, fold_scores=folds)


def test_clearly_better_needs_a_paired_gain_above_one_corrected_standard_error() -> None:
    base = scored({}, (0.80, 0.84, 0.78, 0.86, 0.82))
    steady = scored({"model__C": 2.0}, tuple(s + 0.004 for s in base.fold_scores))  # +0.004 on every fold: clear
    assert searches.clearly_better(steady, base) and not searches.clearly_better(base, steady)
    noisy = scored({"model__C": 3.0}, (0.83, 0.82, 0.79, 0.85, 0.84))  # +0.006: gains 0.03, -0.02, 0.01, -0.01, 0.02
    statistic, _ = crossval.corrected_ttest(np.subtract(noisy.fold_scores, base.fold_scores), 4, 1)
    assert 0 < statistic < searches.CLEAR_GAIN_T and not searches.clearly_better(noisy, base)
    assert searches.clearly_better(noisy, base, t_bar=statistic / 2)
    unpaired = dataclasses.replace(noisy, fold_scores=())  # a successive-halving round: the higher mean counts
    assert searches.clearly_better(unpaired, base) and not searches.clearly_better(base, unpaired)


def test_the_defaults_stay_unless_the_top_trial_clearly_beats_them() -> None:
    base = (0.80, 0.84, 0.78, 0.86, 0.82)
    defaults = scored({}, base)
    lucky = scored({"model__C": 3.0}, (0.83, 0.82, 0.79, 0.85, 0.84))  # higher mean, gain inside the noise
    result = searches.SearchResult("logistic", "optuna", "roc_auc", (lucky, defaults))
    assert result.top is lucky and result.best is defaults and result.kept_defaults
    assert result.best_score == defaults.score
    assert searches.defaults_sentence(result).startswith("defaults kept: the best trial gained +0.0060 over them")
    better = scored({"model__C": 0.5}, tuple(s + 0.01 for s in base))
    clear = searches.SearchResult("logistic", "optuna", "roc_auc", (lucky, better, defaults))
    assert clear.best is better and not clear.kept_defaults and searches.defaults_sentence(clear) == ""
    halving = dataclasses.replace(lucky, fold_scores=())  # halving rounds keep no fold scores: the top counts
    assert searches.SearchResult("logistic", "halving", "roc_auc", (halving, defaults)).best is halving


def test_the_reference_defaults_get_no_head_start_over_a_higher_scoring_family() -> None:
    base = (0.80, 0.84, 0.78, 0.86, 0.82)
    reference = searches.SearchResult(families.REFERENCE, "defaults", "roc_auc", (scored({}, base),))
    lucky = searches.SearchResult("svm", "optuna", "roc_auc", (scored({}, (0.83, 0.82, 0.79, 0.85, 0.84)),))
    weak = searches.SearchResult("knn", "optuna", "roc_auc", (scored({}, tuple(s - 0.05 for s in base)),))
    assert searches.ranked([weak, reference, lucky]) == [lucky, reference, weak]
    assert searches.best_of([reference, lucky]) is lucky


def test_kept_defaults_come_with_their_own_out_of_fold_predictions() -> None:
    X, y, spec = tiny("binary")
    settings = dataclasses.replace(FAST, search="grid", folds=3, space={"logistic": {"C": [1.05, 1.1]}})
    result = searches.tune(spec, "logistic", X, y, settings, 0, "neg_log_loss")
    assert result.kept_defaults and result.best is not None and result.best.params == {}
    expected = cross_val_predict(families.make_pipeline(spec, "logistic", 0), X, y,
                                 cv=crossval.make_cv("binary", 3, 0), method="predict_proba")
    assert result.oof is not None
    np.testing.assert_allclose(result.oof.predictions, expected)
