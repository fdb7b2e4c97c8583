"""Stage `select`: plan, folds, cross-validation with failures and budgets, the corrected t-test, select.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from mlworkflow import io
from mlworkflow.core import families
from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import SelectParams
from mlworkflow.records import Ranked, SelectRecord
from mlworkflow.stages import select
from mlworkflow.stages.preprocess import FeatureSpec, build_preprocessor
from mlworkflow.views import select as view
from tests.core.test_families import tiny

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
    splits = select.make_splits(y, task, params.folds, params.repeats, seed=0)
    scorers = select.make_scorers(plan.metrics, task, select.positive_label(y, spec))
    pipelines = select.build_candidates(spec, plan.candidates, seed=0)
    outcomes = select.compare(pipelines, frame, y, splits, scorers, params.time_budget_s, params.n_jobs)
    ranking = select.rank(outcomes, plan.metrics, splits, params.alpha)
    return select.record(plan, ranking, outcomes, splits, params, len(frame), seed=0)


# --- plan ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", families.TASKS)
def test_auto_metrics_put_the_deciding_metric_first(task: str) -> None:
    metrics = select.resolve_metrics(("auto",), "auto", task)
    assert metrics[0] == select.AUTO_METRIC[task]
    assert metrics == select.AUTO_METRICS[task]


def test_explicit_deciding_metric_is_added_once_and_first() -> None:
    assert select.resolve_metrics(("accuracy", "f1"), "f1", "binary") == ("f1", "accuracy")


def test_classification_metric_for_regression_names_key_and_reason() -> None:
    with pytest.raises(ParamsError) as caught:
        select.resolve_metrics(("r2",), "roc_auc", "regression")
    assert "select.metric" in str(caught.value)
    assert "'roc_auc' (a classification scorer)" in str(caught.value)


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


def test_positive_label_matches_the_spec_by_text_and_keeps_the_label_type() -> None:
    spec = FeatureSpec(target="t", task="binary", numeric=("x",), positive_class="1")
    assert select.positive_label(pd.Series([0, 1, 1], name="t"), spec) == 1
    missing = FeatureSpec(target="t", task="binary", numeric=("x",), positive_class="2")
    with pytest.raises(DataError, match="positive class '2'") as caught:
        select.positive_label(pd.Series([0, 1, 1], name="t"), missing)
    assert caught.value.column == "t"


def test_binary_scorers_use_the_positive_class_with_text_labels() -> None:
    frame, y, spec = tiny("binary")
    model = families.make_pipeline(spec, "logistic", 0).fit(frame, y)
    scorers = select.make_scorers(("f1", "average_precision", "roc_auc"), "binary", "yes")
    scores = {name: scorer(model, frame, y) for name, scorer in scorers.items()}
    assert all(0.5 < value <= 1.0 for value in scores.values())
    flipped = select.make_scorer("f1", "binary", "no")(model, frame, y)
    assert flipped != pytest.approx(scores["f1"])


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


def test_splits_are_seeded_and_cover_folds_times_repeats() -> None:
    _, y, _ = tiny("multiclass")
    splits = select.make_splits(y, "multiclass", 4, 3, seed=1)
    again = select.make_splits(y, "multiclass", 4, 3, seed=1)
    assert len(splits) == 12
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    assert sorted(np.concatenate([test for _, test in splits[:4]])) == list(range(len(y)))


def test_too_few_rows_for_the_folds_is_a_data_error() -> None:
    with pytest.raises(DataError, match="cannot make 5 folds of 3 rows") as caught:
        select.make_splits(pd.Series([1.0, 2.0, 3.0], name="price"), "regression", 5, 1, seed=0)
    assert caught.value.column == "price"


# --- the corrected t-test --------------------------------------------------------------------------


def test_corrected_ttest_matches_a_hand_computed_example() -> None:
    # differences 0.02, 0.01, 0.03, 0.02: mean 0.02, sample variance 0.0002 / 3;
    # corrected variance (1/4 + 20/80) * 0.0002 / 3 = 1/30000, so t = 0.02 * sqrt(30000) = 2 * sqrt(3).
    statistic, p_value = select.corrected_ttest([0.02, 0.01, 0.03, 0.02], n_train=80, n_test=20)
    assert statistic == pytest.approx(2 * math.sqrt(3))
    assert p_value == pytest.approx(student_t.sf(2 * math.sqrt(3), df=3))
    assert p_value == pytest.approx(0.02018, abs=1e-4)
    naive = student_t.sf(0.02 / math.sqrt(0.0002 / 3 / 4), df=3)
    assert p_value > naive, "the correction makes the test more conservative"


def test_corrected_ttest_degenerate_cases() -> None:
    assert select.corrected_ttest([0.0, 0.0, 0.0], 10, 5) == (0.0, 0.5)
    assert select.corrected_ttest([0.1, 0.1], 10, 5) == (math.inf, 0.0)
    assert select.corrected_ttest([-0.1, 0.1], 10, 5)[1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least 2"):
        select.corrected_ttest([0.1], 10, 5)


# --- the whole comparison --------------------------------------------------------------------------


@pytest.mark.parametrize("task", families.TASKS)
def test_compare_ranks_every_candidate_for_every_task(task: str) -> None:
    candidates = (*FAST, "hist_gradient_boosting")
    summary = run(task, candidates)
    json.dumps(summary, allow_nan=False)
    ranking = summary["ranking"]
    assert summary["metric"] == select.AUTO_METRIC[task]
    assert {row["family"] for row in ranking} | set(summary["skipped"]) == set(candidates)
    assert all(row["status"] == "ok" and row["folds"] == 6 for row in ranking)
    scores = [row["score"] for row in ranking]
    assert scores == sorted(scores, reverse=True)
    assert ranking[0]["gap"] == 0.0 and ranking[0]["p_value"] is None
    assert all(row["gap"] >= 0 and 0 <= row["p_value"] <= 1 for row in ranking[1:])
    assert summary["chosen"] == [row["family"] for row in ranking[:2]]
    assert all(len(values) == 6 for values in summary["scores"].values())
    assert all(row["fit_s"] > 0 and row["peak_mb"] > 0 for row in ranking)
    assert 3 <= len(summary["headline"]) <= 6


def test_regression_reports_errors_as_positive_numbers() -> None:
    summary = run("regression", ("logistic", "decision_tree"))
    metrics = summary["ranking"][0]["metrics"]
    assert set(metrics) == {"root_mean_squared_error", "mean_absolute_error", "r2"}
    assert metrics["root_mean_squared_error"]["mean"] > 0
    assert all(value < 0 for values in summary["scores"].values() for value in values), "scorer sign kept"
    assert summary["skipped"] == {}


def test_results_are_deterministic_for_a_seed() -> None:
    first, second = run("binary"), run("binary")
    assert first["scores"] == second["scores"]
    assert [r["p_value"] for r in first["ranking"]] == [r["p_value"] for r in second["ranking"]]


def test_a_failing_candidate_is_reported_not_raised() -> None:
    frame, y, spec = tiny("binary")
    splits = select.make_splits(y, "binary", 3, 1, seed=0)
    scorers = select.make_scorers(("roc_auc",), "binary", "yes")
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
        in view.notes_table(SelectRecord.model_construct(skipped={}, ranking=[Ranked(**r) for r in ranking])).loc["broken", "note"]
    )


def test_a_candidate_over_its_time_budget_stops_after_one_fold() -> None:
    frame, y, spec = tiny("multiclass")
    splits = select.make_splits(y, "multiclass", 3, 2, seed=0)
    scorers = select.make_scorers(("balanced_accuracy",), "multiclass", None)
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


def test_a_non_finite_score_fails_the_candidate() -> None:
    frame, y, spec = tiny("regression")
    splits = select.make_splits(y, "regression", 2, 1, seed=0)
    scorers = {"r2": lambda model, X, y: float("nan")}
    outcome = select.cross_validate(
        "logistic", families.make_pipeline(spec, "logistic", 0), frame, y, splits, scorers, None
    )
    assert outcome.status == "failed" and outcome.message == "no finite r2 on fold 1"


def test_warnings_become_notes() -> None:
    frame, y, spec = tiny("multiclass")
    splits = select.make_splits(y, "multiclass", 2, 1, seed=0)
    scorers = select.make_scorers(("accuracy",), "multiclass", None)
    pipeline = families.make_pipeline(spec, "logistic", 0, max_iter=1)
    outcome = select.cross_validate("logistic", pipeline, frame, y, splits, scorers, None)
    assert outcome.status == "ok"
    assert outcome.notes and outcome.notes[0].startswith("ConvergenceWarning:")


def test_parallel_candidates_match_sequential_ones() -> None:
    sequential = run("binary", ("logistic", "naive_bayes"))
    parallel = run("binary", ("logistic", "naive_bayes"), n_jobs=2)
    assert parallel["scores"] == sequential["scores"]


def test_peak_memory_sees_numpy_allocations() -> None:
    with select.peak_memory(True) as peak:
        block = np.ones(4 * 2**20 // 8)
    del block
    assert peak[0] == pytest.approx(4.0, rel=0.1)
    with select.peak_memory(False) as nothing:
        pass
    assert nothing == []


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
    splits = select.make_splits(y, spec.task, params.folds, params.repeats, seed=42)
    scorers = select.make_scorers(plan.metrics, spec.task, None)
    outcomes = select.compare(select.build_candidates(spec, plan.candidates, 42), X, y, splits, scorers, 60.0)
    summary = select.record(
        plan, select.rank(outcomes, plan.metrics, splits, 0.05), outcomes, splits, params, len(X), 42
    )
    assert all(row["status"] == "ok" for row in summary["ranking"])
    assert summary["ranking"][0]["metrics"]["balanced_accuracy"]["mean"] > 0.95
    assert summary["metric"] == "balanced_accuracy" and len(summary["chosen"]) == 2
