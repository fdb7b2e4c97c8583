"""The metric catalogue: every record agrees with scikit-learn, look-ups, task checks, the deciding metric, scorers."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.metrics import check_scoring, get_scorer

from mlworkflow.core import families, metrics
from mlworkflow.core.metrics import CATALOGUE, RESPONSE, Metric
from mlworkflow.errors import ParamsError
from tests.core.test_families import tiny
from tests.metrickit import LABEL_SETS, direct, relabel

# --- the catalogue against scikit-learn ------------------------------------------------------------------


@pytest.mark.parametrize("metric", [m for m in CATALOGUE if m.scorer], ids=lambda m: m.name)
def test_every_scorer_agrees_with_sklearn_on_direction_and_response(metric: Metric) -> None:
    scorer = get_scorer(str(metric.scorer))
    assert scorer._sign == metric.sign, "direction"
    assert scorer._response_method == RESPONSE[metric.needs], "what it needs"
    assert metric.tasks, "a scorer fits some task"


@pytest.mark.parametrize("metric", CATALOGUE, ids=lambda m: m.name)
def test_every_record_is_consistent(metric: Metric) -> None:
    assert metric.tasks | metric.evaluated <= set(families.TASKS)
    if metric.scorer is not None:
        assert (metric.better == "lower") == metric.scorer.startswith("neg_")
    if metric.instead is not None:
        assert metric.tasks == {"binary"} and metrics.problem(metric.instead, "multiclass") is None
    if metric.positive is not None:
        assert "binary" in metric.tasks
    if metric.evaluated:
        assert metrics.why(metric.name), "a metric that can decide says why"


@pytest.mark.parametrize("task", families.TASKS)
def test_names_are_unique_and_the_defaults_are_in_the_catalogue(task: str) -> None:
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))
    displayed = [m.display for m in CATALOGUE if task in m.tasks | m.evaluated]
    assert len(displayed) == len(set(displayed))
    assert metrics.default(task).name in metrics.evaluated(task)
    assert metrics.problem(str(metrics.default(task).scorer), task) is None
    assert metrics.compared(task)[0] == metrics.default(task).scorer
    assert all(metrics.problem(name, task) is None for name in metrics.compared(task))


def test_evaluated_metrics_in_report_order() -> None:
    assert metrics.evaluated("binary") == (
        "accuracy", "balanced_accuracy", "precision", "recall", "f1",
        "roc_auc", "average_precision", "log_loss", "brier",
    )
    assert metrics.evaluated("regression") == ("mae", "rmse", "r2")
    assert len(metrics.evaluated("multiclass")) == 14


# --- look-up, direction, display -------------------------------------------------------------------------


def test_a_metric_is_found_by_name_scorer_or_display_name() -> None:
    for name in ("rmse", "neg_root_mean_squared_error", "root_mean_squared_error"):
        assert metrics.get(name).name == "rmse"
    with pytest.raises(ParamsError, match=r"'roc_acu'.*Did you mean 'roc_auc'"):
        metrics.get("roc_acu")


def test_an_unknown_metric_names_the_key_path_the_caller_gives() -> None:
    with pytest.raises(ParamsError, match=r"^metrics: key 'select\.metric': expected a metric name, found 'roc_acu'"):
        metrics.get("roc_acu", key="select.metric")
    assert metrics.get("roc_auc", key="select.metric").name == "roc_auc"


def test_direction_sign_and_display() -> None:
    assert metrics.better("neg_log_loss") == "lower" and metrics.better("roc_auc") == "higher"
    assert metrics.lower_is_better("rmse") and not metrics.lower_is_better("r2")
    assert metrics.sign("neg_mean_absolute_error") == -1.0 and metrics.sign("f1") == 1.0
    assert metrics.to_display("neg_root_mean_squared_error", -3.5) == 3.5
    assert metrics.display_name("neg_root_mean_squared_error") == "root_mean_squared_error"
    assert metrics.display_name("neg_brier_score") == "brier_score"


def test_format_value() -> None:
    assert metrics.format_value(-0.0001) == "0.000"
    assert metrics.format_value(51103.04) == "51,103"
    assert metrics.format_value(float("nan")) == "n/a"


# --- fitting a task --------------------------------------------------------------------------------------


def test_problems_name_why_a_scorer_does_not_fit() -> None:
    assert metrics.problem("roc_auc", "regression") == "a classification scorer"
    assert metrics.problem("r2", "binary") == "a regression scorer"
    assert metrics.problem("f1", "multiclass") == "for binary targets only; try 'f1_macro'"
    assert metrics.problem("average_precision_macro", "multiclass") == "not a scorer select and train can tune on"
    assert metrics.problem("average_precision", "multiclass") is None


# --- the deciding metric ---------------------------------------------------------------------------------


def test_deciding_scorer_auto_selected_and_errors() -> None:
    assert metrics.deciding_scorer("regression", ["auto"], "train") == "neg_root_mean_squared_error"
    assert metrics.deciding_scorer("binary", ["auto", "average_precision"], "train") == "average_precision"
    assert metrics.deciding_scorer("regression", ["root_mean_squared_error"], "train") == "neg_root_mean_squared_error"
    with pytest.raises(ParamsError, match=r"train\.metric.*'roc_acu'.*Did you mean 'roc_auc'"):
        metrics.deciding_scorer("binary", ["roc_acu"], "train")
    with pytest.raises(ParamsError, match=r"train\.metric.*regression task.*classification scorer"):
        metrics.deciding_scorer("regression", ["roc_auc"], "train")


def test_deciding_metric_for_evaluate_maps_scorers_and_falls_back() -> None:
    decide = metrics.deciding_metric
    assert (decide("binary", ["roc_auc"], for_evaluate=True).metric.name, decide("binary", ["roc_auc"]).source) == (
        "roc_auc", "given")
    assert decide("regression", ["neg_root_mean_squared_error"], for_evaluate=True).metric.name == "rmse"
    assert decide("multiclass", ["f1"], for_evaluate=True).metric.name == "f1_macro"
    assert decide("multiclass", ["average_precision"], for_evaluate=True).metric.name == "average_precision_macro"
    assert decide("multiclass", [None, "", "auto"], for_evaluate=True).source == "auto"
    fallback = decide("regression", ["neg_mean_squared_error"], for_evaluate=True)
    assert (fallback.metric.name, fallback.source, fallback.requested) == ("rmse", "fallback", "neg_mean_squared_error")
    assert decide("binary", ["auto", "log_loss"], for_evaluate=True).metric.name == "log_loss", "the first set name"


# --- scikit-learn scorers --------------------------------------------------------------------------------


def test_binary_scorers_use_the_positive_class_with_text_labels() -> None:
    frame, y, spec = tiny("binary")
    model = families.make_pipeline(spec, "logistic", 0).fit(frame, y)
    scorers = metrics.make_scorers(("f1", "average_precision", "roc_auc"), "binary", "yes")
    scores = {name: scorer(model, frame, y) for name, scorer in scorers.items()}
    assert all(0.5 < value <= 1.0 for value in scores.values())
    flipped = metrics.make_scorer("f1", "binary", "no")(model, frame, y)
    assert flipped != pytest.approx(scores["f1"])


@pytest.mark.parametrize(("labels", "positive"), LABEL_SETS, ids=lambda v: str(v))
def test_every_binary_scorer_at_once_matches_sklearn_with_the_positive_class_named(labels: Any, positive: Any) -> None:
    # One multi-metric call shares scikit-learn's cache of one response per method across all scorers: each must
    # still read the positive class's scores (average precision read the other class's when it sorted first).
    frame, yes_no, spec = tiny("binary")
    y = relabel(yes_no, labels, positive)
    model = families.make_pipeline(spec, "logistic", 0).fit(frame, y)
    names = metrics.scorers("binary")
    together = check_scoring(model, scoring=metrics.make_scorers(names, "binary", positive))(model, frame, y)
    expected = direct(model, frame, y, positive, names)
    assert together == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert 0.5 < together["average_precision"] < 1.0


def test_every_binary_scorer_that_reads_scores_is_given_the_positive_class() -> None:
    # The invariant that keeps the multi-metric cache right: no binary scorer falls back to the last-sorted label.
    unnamed = [m.name for m in CATALOGUE if "binary" in m.tasks and m.needs != "labels" and m.positive is None]
    assert unnamed == []


def test_a_metric_without_a_scorer_cannot_be_made_one() -> None:
    with pytest.raises(ParamsError, match="evaluate only"):
        metrics.make_scorer("average_precision_weighted", "multiclass", None)


def test_a_scorer_error_names_the_key_path_the_caller_gives() -> None:
    with pytest.raises(ParamsError, match=r"key 'train\.metric': expected a scorer for a multiclass task"):
        metrics.make_scorer("average_precision_weighted", "multiclass", None, key="train.metric")
    with pytest.raises(ParamsError, match=r"key 'select\.metrics': expected a metric name, found 'roc_acu'"):
        metrics.make_scorers(("accuracy", "roc_acu"), "multiclass", None, key="select.metrics")


def test_scorer_values_in_display_units_are_positive_errors() -> None:
    frame, y, spec = tiny("regression")
    model = families.make_pipeline(spec, "logistic", 0).fit(frame, y)
    value = metrics.make_scorer("rmse", "regression", None)(model, frame, y)
    assert value < 0 < metrics.to_display("rmse", value)
