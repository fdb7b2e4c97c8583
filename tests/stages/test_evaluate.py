"""Tests for stage `evaluate`: metrics against scikit-learn, bootstrap, threshold rules, groups, importance."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC

from mlworkflow.errors import DataError
from mlworkflow.params import EvaluateParams, load_params
from mlworkflow.stages import evaluate
from mlworkflow.stages.evaluate import Scored, Target

BINARY = Target("y", "binary", ("no", "yes"), "yes")
MULTI = Target("y", "multiclass", ("a", "b", "c"), None)
REGRESSION = Target("y", "regression", (), None)


def binary_scored(n: int = 300, seed: int = 0, threshold: float = 0.5) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n).astype(float)
    scores = np.round(np.clip(0.35 * truth + 0.65 * rng.random(n), 0, 1), 2)  # rounded: ties on purpose
    predicted = (scores >= threshold).astype(float)
    return Scored("binary", ("no", "yes"), truth, scores, predicted, True, threshold)


def multiclass_scored(n: int = 300, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n).astype(float)
    proba = rng.random((n, 3))
    proba[np.arange(n), truth.astype(int)] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    return Scored("multiclass", ("a", "b", "c"), truth, proba, proba.argmax(axis=1).astype(float), True, None)


def regression_scored(n: int = 300, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.normal(100.0, 10.0, n)
    predicted = truth + rng.normal(0.0, 4.0, n)
    return Scored("regression", (), truth, predicted, predicted, False, None)


def classifier_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """x decides the label, noise and colour do not."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n)})
    y = pd.Series(np.where(x + 0.3 * rng.normal(size=n) > 0.4, "yes", "no"), name="y")
    return frame, y


def pipeline(estimator: object) -> Pipeline:
    columns = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough"
    )
    return Pipeline([("preprocess", columns), ("model", estimator)])


# ---------------------------------------------------------------- metrics against scikit-learn


def test_binary_metrics_match_sklearn() -> None:
    s = binary_scored()
    y, p, label = s.truth, s.scores, s.predicted
    expected = {
        "accuracy": skm.accuracy_score(y, label), "balanced_accuracy": skm.balanced_accuracy_score(y, label),
        "precision": skm.precision_score(y, label), "recall": skm.recall_score(y, label),
        "f1": skm.f1_score(y, label), "roc_auc": skm.roc_auc_score(y, p),
        "average_precision": skm.average_precision_score(y, p), "log_loss": skm.log_loss(y, p),
        "brier": skm.brier_score_loss(y, p),
    }
    got = evaluate.point_metrics(s)
    assert list(got) == list(evaluate.METRICS["binary"])
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_multiclass_metrics_match_sklearn() -> None:
    s = multiclass_scored()
    y, p, label = s.truth, s.scores, s.predicted
    expected = {
        "accuracy": skm.accuracy_score(y, label), "balanced_accuracy": skm.balanced_accuracy_score(y, label),
        "roc_auc_ovr": skm.roc_auc_score(y, p, multi_class="ovr"),
        "roc_auc_ovr_weighted": skm.roc_auc_score(y, p, multi_class="ovr", average="weighted"),
        "average_precision_macro": skm.average_precision_score(y, p),
        "average_precision_weighted": skm.average_precision_score(y, p, average="weighted"),
        "log_loss": skm.log_loss(y, p), "brier": skm.brier_score_loss(y, p),
    }
    for name, scorer in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        for average in ("macro", "weighted"):
            expected[f"{name}_{average}"] = scorer(y, label, average=average)
    got = evaluate.point_metrics(s)
    assert set(got) == set(expected) == set(evaluate.METRICS["multiclass"])
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_regression_metrics_match_sklearn() -> None:
    s = regression_scored()
    got = evaluate.point_metrics(s)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(s.truth, s.predicted))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(s.truth, s.predicted))
    assert got["r2"] == pytest.approx(skm.r2_score(s.truth, s.predicted))


@pytest.mark.parametrize("make", [binary_scored, multiclass_scored, regression_scored])
def test_weights_equal_repeating_rows(make: Callable[..., Scored]) -> None:
    s = make(n=60)
    counts = np.random.default_rng(1).integers(0, 4, s.n_rows)
    counts[0] = 1
    repeated = Scored(s.task, s.labels, np.repeat(s.truth, counts, axis=0), np.repeat(s.scores, counts, axis=0),
                      np.repeat(s.predicted, counts, axis=0), s.probabilistic, s.threshold)
    weighted = evaluate.metric_values(s, counts[None, :].astype(float))
    for name, value in evaluate.point_metrics(repeated).items():
        assert weighted[name][0] == pytest.approx(value, abs=1e-12), name


def test_margins_give_no_probability_metrics() -> None:
    s = binary_scored()
    margins = Scored("binary", s.labels, s.truth, s.scores - 0.5, s.predicted, False, 0.0)
    got = evaluate.point_metrics(margins)
    assert "log_loss" not in got and "brier" not in got
    assert got["roc_auc"] == pytest.approx(evaluate.point_metrics(s)["roc_auc"])


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_interval_contains_point_and_narrows_with_rows() -> None:
    widths = []
    for n in (200, 4000):
        s = binary_scored(n=n)
        table = evaluate.metric_table(s, s, 300, 0.95, seed=0)
        assert ((table["low"] <= table["value"]) & (table["value"] <= table["high"])).all()
        widths.append(table["high"] - table["low"])
    assert (widths[1] < widths[0]).all()


def test_bootstrap_is_seeded_and_paired() -> None:
    s = regression_scored()
    first, again = evaluate.bootstrap_draws(s, 120, 7), evaluate.bootstrap_draws(s, 120, 7)
    other = evaluate.bootstrap_draws(s, 120, 8)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["rmse"], other["rmse"])
    table = evaluate.metric_table(s, s, 120, 0.9, seed=7)  # a model against itself: zero difference
    assert (table[["delta", "delta_low", "delta_high"]].abs() < 1e-12).all().all()


def test_resample_weights_count_rows() -> None:
    weights = evaluate.resample_weights(50, 30, np.random.default_rng(0))
    assert weights.shape == (30, 50) and (weights.sum(axis=1) == 50).all()


def test_baseline_is_beaten_and_table_formats() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    baseline = evaluate.fit_baseline(X, y, BINARY)
    scored, base = evaluate.score(model, X, y, BINARY), evaluate.score(baseline, X, y, BINARY)
    table = evaluate.metric_table(scored, base, 100, 0.95, seed=0)
    assert table.loc["roc_auc", "baseline"] == pytest.approx(0.5)
    assert table.loc["roc_auc", "delta_low"] > 0
    shown = evaluate.format_table(table, "roc_auc")
    assert shown.loc["roc_auc", "decides"] == "◀" and shown.loc["f1", "decides"] == ""
    assert shown.loc["log_loss", "better"] == "lower"
    assert shown.loc["roc_auc", "model"].count("[") == 1


def test_format_value() -> None:
    assert evaluate.format_value(-0.0001) == "0.000"
    assert evaluate.format_value(51103.04) == "51,103"
    assert str(evaluate.Interval(0.9123, 0.9051, 0.919)) == "0.912 [0.905, 0.919]"


# ---------------------------------------------------------------- scores from estimators


def test_score_aligns_the_positive_class() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    flipped = Target("y", "binary", ("no", "yes"), "no")  # positive is the model's first class
    s, f = evaluate.score(model, X, y, BINARY), evaluate.score(model, X, y, flipped)
    assert np.allclose(s.scores + f.scores, 1.0)
    assert evaluate.point_metrics(s)["roc_auc"] == pytest.approx(evaluate.point_metrics(f)["roc_auc"])
    assert s.labels == ("no", "yes") and f.labels == ("yes", "no")


def test_score_uses_margins_without_predict_proba() -> None:
    X, y = classifier_frame()
    model = pipeline(LinearSVC()).fit(X, y)
    s = evaluate.score(model, X, y, BINARY)
    assert not s.probabilistic and s.threshold == 0.0
    assert np.array_equal(s.predicted == 1, model.predict(X) == "yes")


def test_unknown_label_and_missing_target_name_the_column() -> None:
    with pytest.raises(DataError, match=r"column 'y'.*\['maybe'\]"):
        evaluate.encode_target(pd.Series(["yes", "maybe"]), BINARY)
    with pytest.raises(DataError, match="column 'y': target column not in the frame"):
        evaluate.split_xy(pd.DataFrame({"x": [1]}), BINARY)


def test_target_from_preprocess_json() -> None:
    target = Target.from_json({"target": "income", "task": "binary", "classes": ["<=50K", ">50K"],
                               "positive_class": ">50K"})
    assert target.labels == ("<=50K", ">50K") and target.metrics == evaluate.METRICS["binary"]


# ---------------------------------------------------------------- the deciding metric


def test_decide_metric_follows_train_and_says_why() -> None:
    y = pd.Series(["no"] * 3 + ["yes"])
    decision = evaluate.decide_metric(BINARY, "roc_auc", y)
    assert (decision.metric, decision.source) == ("roc_auc", "train")
    assert "accuracy alone would mislead" in decision.why and "'no' already scores 0.750" in decision.why
    assert evaluate.decide_metric(REGRESSION, "neg_root_mean_squared_error", y).metric == "rmse"
    assert evaluate.decide_metric(MULTI, "f1", y).metric == "f1_macro"
    assert evaluate.decide_metric(MULTI, None, y).source == "auto"
    fallback = evaluate.decide_metric(REGRESSION, "neg_mean_squared_error", y)
    assert (fallback.metric, fallback.source) == ("rmse", "fallback")
    assert "'neg_mean_squared_error' is not computed here" in fallback.why


# ---------------------------------------------------------------- threshold rules

TRUTH = np.array([0, 0, 1, 0, 1, 1], dtype=float)
SCORES = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.8])


def test_max_f1_rule() -> None:
    choice = evaluate.choose_threshold(TRUTH, SCORES, EvaluateParams(threshold_rule="max_f1"))
    assert choice.threshold == 0.3 and choice.f1 == pytest.approx(6 / 7) and choice.met


@pytest.mark.parametrize(("cost_fp", "cost_fn", "expected"), [(5.0, 1.0, 0.6), (1.0, 5.0, 0.3), (100.0, 1.0, 0.6)])
def test_cost_rule_minimises_cost(cost_fp: float, cost_fn: float, expected: float) -> None:
    params = EvaluateParams(threshold_rule="cost", cost_fp=cost_fp, cost_fn=cost_fn)
    choice = evaluate.choose_threshold(TRUTH, SCORES, params)
    costs = {}
    for t in [*SCORES, 0.9]:
        called = t <= SCORES
        costs[t] = cost_fp * (called & (TRUTH == 0)).sum() + cost_fn * (~called & (TRUTH == 1)).sum()
    assert choice.threshold == expected
    assert costs[expected] == min(costs.values())


def test_cost_rule_can_flag_nothing() -> None:
    params = EvaluateParams(threshold_rule="cost", cost_fp=10.0, cost_fn=1.0)
    choice = evaluate.choose_threshold(np.array([0.0, 1.0]), np.array([0.9, 0.2]), params)
    assert choice.threshold is not None and choice.threshold > 0.9 and choice.recall == 0.0


def test_min_precision_rule_respects_the_floor() -> None:
    choice = evaluate.choose_threshold(TRUTH, SCORES, EvaluateParams(threshold_rule="min_precision", min_precision=0.9))
    assert choice.threshold == 0.6 and choice.met
    assert choice.precision >= 0.9 and choice.recall == pytest.approx(2 / 3)
    looser = evaluate.choose_threshold(TRUTH, SCORES, EvaluateParams(threshold_rule="min_precision", min_precision=0.7))
    assert looser.threshold == 0.3 and looser.recall == 1.0


def test_min_precision_rule_reports_when_it_cannot() -> None:
    params = EvaluateParams(threshold_rule="min_precision", min_precision=0.8)
    choice = evaluate.choose_threshold(np.array([1.0, 0.0]), np.array([0.2, 0.9]), params)
    assert not choice.met
    assert "no threshold reaches precision 0.80 (best 0.500)" in choice.note


def test_decision_threshold_uses_out_of_fold_training_scores() -> None:
    X, y = classifier_frame()
    params = EvaluateParams(threshold_folds=3)
    choice = evaluate.decision_threshold(pipeline(LogisticRegression()), X, y, BINARY, params, seed=0)
    again = evaluate.decision_threshold(pipeline(LogisticRegression()), X, y, BINARY, params, seed=0)
    assert choice == again and choice.threshold is not None and 0.0 < choice.threshold < 1.0
    assert evaluate.threshold_summary(choice).loc[0, "rule"] == "max_f1"
    none = evaluate.decision_threshold(None, X, y, MULTI, params, seed=0)
    assert none.threshold is None and "no threshold" in none.note


def test_threshold_grid_marks_the_chosen_threshold() -> None:
    grid = evaluate.threshold_grid(binary_scored(threshold=0.37))
    chosen = grid[grid["chosen"] == "◀"]
    assert list(chosen["threshold"]) == [0.37]
    assert (grid[["tn", "fp", "fn", "tp"]].sum(axis=1) == 300).all()
    assert grid["recall"].is_monotonic_decreasing
    assert "note" in evaluate.threshold_grid(multiclass_scored()).columns


# ---------------------------------------------------------------- importance and groups


def test_permutation_importance_finds_the_feature_that_matters() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    scorer = evaluate.MetricScorer(BINARY, "roc_auc", 0.5)
    table = evaluate.permutation_table(model, X, y, scorer, EvaluateParams(permutation_repeats=3), seed=0)
    assert table.loc[0, "feature"] == "x" and table.loc[0, "importance"] > 0.2
    assert table.set_index("feature").loc[["noise", "colour"], "importance"].abs().max() < 0.05


def test_regression_scorer_is_negated_for_errors() -> None:
    X = pd.DataFrame({"x": np.arange(40.0)})
    y = pd.Series(2.0 * X["x"] + 1.0)
    model = LinearRegression().fit(X, y + np.sin(X["x"]))
    assert evaluate.MetricScorer(REGRESSION, "rmse", None)(model, X, y) < 0


def group_example() -> tuple[Scored, pd.DataFrame]:
    truth = np.array([1, 0] * 40 + [1, 0] * 20 + [1, 0] * 5, dtype=float)
    good = truth[:80]
    bad = 1 - truth[80:120]  # group B: every label wrong
    small = truth[120:]
    predicted = np.r_[good, bad, small]
    scored = Scored("binary", ("no", "yes"), truth, predicted.copy(), predicted, True, 0.5)
    frame = pd.DataFrame({"g": ["A"] * 80 + ["B"] * 40 + ["C"] * 10, "h": [None] * 130})
    return scored, frame


def test_group_table_gaps_and_flags() -> None:
    scored, frame = group_example()
    table = evaluate.group_table(scored, frame, ["g", "h"], "accuracy", tolerance=0.05)
    rows = table.set_index(["column", "group"])
    overall = rows.loc[("(all)", "(all)"), "accuracy"]
    assert overall == pytest.approx(90 / 130, abs=1e-4)
    assert rows.loc[("g", "A"), "gap"] == pytest.approx(1 - overall, abs=1e-4)
    assert rows.loc[("g", "B"), "accuracy"] == 0.0
    assert "accuracy -0.692" in rows.loc[("g", "B"), "flag"]
    assert rows.loc[("g", "C"), "flag"].startswith("n < 30")
    assert rows.loc[("h", "(missing)"), "n"] == 130 and rows.loc[("h", "(missing)"), "flag"] == ""


def test_group_table_names_a_missing_column() -> None:
    scored, frame = group_example()
    with pytest.raises(DataError, match="column 'race': group column not in the test split"):
        evaluate.group_table(scored, frame, ["race"], "accuracy", 0.05)


def test_style_groups_highlights_gaps_deterministically() -> None:
    scored, frame = group_example()
    table = evaluate.group_table(scored, frame, ["g"], "accuracy", tolerance=0.05)
    html = evaluate.style_groups(table, 0.05).to_html()
    assert html == evaluate.style_groups(table, 0.05).to_html()
    styles = html.split("</style>")[0]
    assert "#fde2a7" in styles and re.search(r"#T_mlw-groups_row2_col3\b", styles)  # group B's accuracy
    assert not re.search(r"#T_mlw-groups_row3_col\d+\b", styles)  # group C is too small to flag


# ---------------------------------------------------------------- plots, what-if, record


@pytest.mark.parametrize("make", [binary_scored, multiclass_scored, regression_scored])
def test_plots_return_figures(make: Callable[..., Scored]) -> None:
    s = make(n=80)
    for figure in (evaluate.plot_errors(s), evaluate.plot_curves(s, s), evaluate.plot_calibration(s)):
        assert isinstance(figure, Figure) and figure.axes
    table = pd.DataFrame({"feature": ["a", "b"], "importance": [0.2, 0.1], "std": [0.01, 0.02]})
    assert isinstance(evaluate.plot_importance(table), Figure)


def test_example_row_and_predict_row() -> None:
    X, y = classifier_frame()
    X.loc[0, "x"] = np.nan
    row = evaluate.example_row(X)
    assert len(row) == 1 and row.notna().all(axis=None) and row.loc[0, "noise"] == X.loc[1, "noise"]
    model = pipeline(LogisticRegression()).fit(X.iloc[1:], y.iloc[1:])
    result = evaluate.predict_row(model, row, BINARY, 0.5)
    assert result["prediction"] in ("no", "yes") and set(result["scores"]) == {"yes"}


def test_summary_is_json_ready() -> None:
    s = binary_scored()
    table = evaluate.metric_table(s, s, 60, 0.95, seed=0)
    decision = evaluate.MetricDecision("roc_auc", "train", "because.")
    choice = evaluate.ThresholdChoice("max_f1", 0.42, True, "the threshold with the highest F1", 0.5, 0.6, 0.55)
    groups = pd.DataFrame({"column": ["(all)"], "group": ["(all)"], "n": [300], "roc_auc": [np.nan]})
    importance = pd.DataFrame({"feature": ["a"], "importance": [0.1], "std": [0.0]})
    record = evaluate.summary("logistic", decision, table, choice, groups, importance)
    json.dumps(record, allow_nan=False)
    assert record["threshold"] == 0.42 and record["metric"] == "roc_auc"
    assert set(record["metrics"]["roc_auc"]) == {"value", "low", "high"}
    assert record["headline"]["threshold"] == "0.420 (max_f1)"
    assert list(record["headline"]) == ["model", "roc_auc", "baseline", "threshold"]


def test_params_files_set_the_group_columns(root: Path) -> None:
    for name in ("smoke", "default"):
        params = load_params(root / "params" / f"{name}.yaml")
        assert params.evaluate.group_columns == ("sex", "race")


def test_group_labels_bin_many_valued_numbers() -> None:
    labels = evaluate.group_labels(pd.Series(np.r_[np.arange(40.0), np.nan]))
    assert sorted(set(labels)) == ["(missing)", "q1 (-0.001, 9.75]", "q2 (9.75, 19.5]", "q3 (19.5, 29.25]",
                                   "q4 (29.25, 39.0]"]
    assert list(evaluate.group_labels(pd.Series(["a", None, "b"]))) == ["a", "(missing)", "b"]
    assert list(evaluate.group_labels(pd.Series([1, 2, 2]))) == ["1", "2", "2"]


def test_binary_target_without_positive_class_uses_the_last_class() -> None:
    assert Target("y", "binary", ("a", "b"), None).labels == ("a", "b")
