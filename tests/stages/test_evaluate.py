"""Tests for stage `evaluate`: metrics against scikit-learn, bootstrap, threshold rules, groups, importance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.tree import DecisionTreeClassifier

from mlworkflow.core import calibration, crossval, metrics, scoring
from mlworkflow.core.oof import OutOfFold
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError
from mlworkflow.params import EvaluateParams, load_params
from mlworkflow.records import Calibration
from mlworkflow.stages import evaluate
from mlworkflow.views import evaluate as view
from tests.core.test_scoring import (
    BINARY,
    MULTI,
    REGRESSION,
    binary_scored,
    classifier_frame,
    multiclass_scored,
    pipeline,
    regression_scored,
)
from tests.metrickit import LABEL_SETS, direct, relabel

# ---------------------------------------------------------------- bootstrap


def test_bootstrap_interval_contains_point_and_narrows_with_rows() -> None:
    widths = []
    for n in (200, 4000):
        s = binary_scored(n=n)
        table = evaluate.metric_table(s, s, 300, 0.95, seed=0)
        assert ((table["low"] <= table["value"]) & (table["value"] <= table["high"])).all()
        widths.append(table["high"] - table["low"])
    assert (widths[1] < widths[0]).all()


def test_resamples_keep_the_bootstrap_to_a_fixed_number_of_row_draws_on_large_splits() -> None:
    assert evaluate.resamples(1000, 6000) == 1000 and evaluate.resamples(1000, 20_000) == 1000  # small: as asked
    assert evaluate.resamples(1000, 25_000) == 800 and evaluate.resamples(1000, 200_000) == 200  # rows × 800 = cap
    assert evaluate.resamples(60, 1_000_000) == 60 and evaluate.resamples(1000, 10**7) == evaluate.MIN_RESAMPLES
    assert evaluate.resamples_sentence(1000, 20_000) is None
    assert "200 resamples of the 200,000 test rows instead of 1,000" in str(evaluate.resamples_sentence(1000, 200_000))


def test_metric_and_group_tables_draw_fewer_resamples_of_a_large_split() -> None:
    from mlworkflow.core import bootstrap, fairness

    s = binary_scored(n=25_000)
    table = evaluate.metric_table(s, s, 1000, 0.95, seed=0)
    drawn = bootstrap.compare(s, s, 800, 0.95, seed=0)["roc_auc"].second
    assert (table.loc["roc_auc", "low"], table.loc["roc_auc", "high"]) == (drawn.low, drawn.high)
    frame = pd.DataFrame({"g": np.where(np.arange(25_000) % 2 == 0, "A", "B")})
    groups = evaluate.group_table(s, frame, ["g"], "accuracy", 0.05, n_resamples=1000, seed=0).set_index("group")
    rules = fairness.Rules("accuracy", 0.05, 30, 800, 0.95, 0)
    expected = pd.DataFrame(fairness.assess(s, {("g", "A"): frame["g"].to_numpy() == "A"}, rules)).round(4)
    assert groups.loc["A", "accuracy_low"] == expected.set_index("group").loc["A", "accuracy_low"]


def test_metric_table_pairs_the_resamples() -> None:
    s = regression_scored()
    table = evaluate.metric_table(s, s, 120, 0.9, seed=7)  # a model against itself: zero difference
    assert (table[["delta", "delta_low", "delta_high"]].abs() < 1e-12).all().all()


def test_baseline_is_beaten_and_table_formats() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    baseline = scoring.fit_baseline(X, y, BINARY)
    scored, base = scoring.score(model, X, y, BINARY), scoring.score(baseline, X, y, BINARY)
    table = evaluate.metric_table(scored, base, 100, 0.95, seed=0)
    assert table.loc["roc_auc", "baseline"] == pytest.approx(0.5)
    assert table.loc["roc_auc", "delta_low"] > 0
    shown = view.format_table(table, "roc_auc")
    assert shown.loc["roc_auc", "decides"] == "◀" and shown.loc["f1", "decides"] == ""
    assert shown.loc["log_loss", "better"] == "lower"
    assert shown.loc["roc_auc", "model"].count("[") == 1


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
    assert "train's metric, Mean squared error, is not computed here" in fallback.why


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
    assert choice.note == (f"the lowest cost of errors at {cost_fp:g} per false positive and {cost_fn:g} per false "
                           f"negative, {min(costs.values()):,g} in all on the training rows")
    assert "(" not in choice.note  # it is shown inside parentheses: '0.408 (the lowest cost …)'


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
    assert "no threshold reaches precision 0.80, the best reaching 0.500" in choice.note and "(" not in choice.note


def test_decision_threshold_uses_out_of_fold_training_scores() -> None:
    X, y = classifier_frame()
    params = EvaluateParams(threshold_folds=3)
    choice = evaluate.decision_threshold(pipeline(LogisticRegression()), X, y, BINARY, params, seed=0)
    again = evaluate.decision_threshold(pipeline(LogisticRegression()), X, y, BINARY, params, seed=0)
    assert choice == again and choice.threshold is not None and 0.0 < choice.threshold < 1.0
    assert view.threshold_summary(choice).loc[0, "rule"] == "max_f1"
    none = evaluate.decision_threshold(None, X, y, MULTI, params, seed=0)
    assert none.threshold is None and "no threshold" in none.note


def held_out_of(y: pd.Series, positive: np.ndarray) -> OutOfFold:
    """Train's out-of-fold predictions as the artifact gives them back: classes as text, three folds."""
    frame = OutOfFold(np.column_stack([1 - positive, positive]), np.arange(len(y)) % 3, y.to_numpy(), ("no", "yes"))
    return OutOfFold.from_frame(frame.to_frame())


def test_decision_threshold_reads_trains_out_of_fold_predictions_without_refitting() -> None:
    X, y = classifier_frame()
    positive = np.random.default_rng(1).random(len(y))
    params = EvaluateParams(threshold_rule="max_f1")
    choice = evaluate.decision_threshold(None, X, y, BINARY, params, seed=0, held_out=held_out_of(y, positive))
    direct_choice = evaluate.choose_threshold(scoring.encode_target(y, BINARY), positive, params)
    assert (choice.threshold, choice.f1) == (direct_choice.threshold, direct_choice.f1)  # no model was needed
    assert "3 folds, no refit" in choice.scores
    assert "no refit" in view.threshold_summary(choice).loc[0, "chosen on"]
    refitted = evaluate.decision_threshold(pipeline(LogisticRegression()), X, y, BINARY, params, seed=0)
    assert refitted.scores == "3 out-of-fold refits of the model"


def test_decision_threshold_refuses_out_of_fold_predictions_of_other_rows() -> None:
    X, y = classifier_frame()
    held_out = held_out_of(y.iloc[::-1].reset_index(drop=True), np.full(len(y), 0.5))
    with pytest.raises(DataError, match=r"oof.parquet.*training rows in their order"):
        evaluate.decision_threshold(None, X, y, BINARY, EvaluateParams(), seed=0, held_out=held_out)
    with pytest.raises(DataError, match="re-run stage 'train'"):
        evaluate.decision_threshold(None, X, y, BINARY, EvaluateParams(), seed=0, held_out=held_out_of(y[:-1], np.zeros(239)))


# ---------------------------------------------------------------- importance and groups


def test_permutation_importance_finds_the_feature_that_matters() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    scorer = evaluate.MetricScorer(BINARY, "roc_auc", 0.5)
    table = evaluate.permutation_table(model, X, y, scorer, EvaluateParams(permutation_repeats=3), seed=0)
    assert table.loc[0, "feature"] == "x" and table.loc[0, "importance"] > 0.2
    assert table.set_index("feature").loc[["noise", "colour"], "importance"].abs().max() < 0.05


def test_importance_rows_are_a_bounded_stratified_seeded_sample() -> None:
    X, y = classifier_frame(n=3000)
    params = EvaluateParams(permutation_rows=400)
    rows, labels = evaluate.importance_rows(X, y, BINARY, params, seed=3)
    assert len(rows) == len(labels) == 400 and rows.index.equals(labels.index) and rows.index.is_monotonic_increasing
    assert labels.eq("yes").mean() == pytest.approx(y.eq("yes").mean(), abs=1 / 400)  # the class shares are kept
    again, _ = evaluate.importance_rows(X, y, BINARY, params, seed=3)
    other, _ = evaluate.importance_rows(X, y, BINARY, params, seed=4)
    assert again.index.equals(rows.index) and not other.index.equals(rows.index)
    everything, _ = evaluate.importance_rows(X, y, BINARY, EvaluateParams(permutation_rows=None), seed=3)
    assert len(everything) == 3000
    small, _ = evaluate.importance_rows(X.head(300), y.head(300), BINARY, params, seed=3)
    assert len(small) == 300  # fewer rows than the bound: all of them
    numbers = pd.Series(np.arange(3000.0))
    assert len(evaluate.importance_rows(X, numbers, REGRESSION, params, seed=0)[0]) == 400
    assert view.importance_rows_note(400, 3000, 3) == "a sample of 400 of the 3,000 test rows (stratified by class, seed 3)"
    assert view.importance_rows_note(300, 300, 3) == "all 300 test rows"


def test_importance_on_the_sample_finds_the_same_feature() -> None:
    X, y = classifier_frame(n=3000)
    model = pipeline(LogisticRegression()).fit(X, y)
    scorer = evaluate.MetricScorer(BINARY, "roc_auc", 0.5)
    params = EvaluateParams(permutation_repeats=2, permutation_rows=500)
    table = evaluate.permutation_table(model, *evaluate.importance_rows(X, y, BINARY, params, 0), scorer, params, seed=0)
    assert table.loc[0, "feature"] == "x" and table.loc[0, "importance"] > 0.2


def test_permutation_rows_is_validated() -> None:
    with pytest.raises(ValueError, match="permutation_rows"):
        EvaluateParams(permutation_rows=10)


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
    assert "Accuracy -0.692" in rows.loc[("g", "B"), "flag"]
    assert rows.loc[("g", "C"), "flag"].startswith("n < 30")
    assert rows.loc[("h", "(missing)"), "n"] == 130 and rows.loc[("h", "(missing)"), "flag"] == ""


def test_group_table_names_a_missing_column() -> None:
    scored, frame = group_example()
    with pytest.raises(DataError, match="column 'race': group column not in the test split"):
        evaluate.group_table(scored, frame, ["race"], "accuracy", 0.05)


# ---------------------------------------------------------------- what-if, record


def test_example_row_and_predict_row() -> None:
    X, y = classifier_frame()
    X.loc[0, "x"] = np.nan
    row = view.example_row(X)
    assert len(row) == 1 and row.notna().all(axis=None) and row.loc[0, "noise"] == X.loc[1, "noise"]
    model = pipeline(LogisticRegression()).fit(X.iloc[1:], y.iloc[1:])
    result = evaluate.predict_row(model, row, BINARY, 0.5)
    assert result["prediction"] in ("no", "yes") and set(result["scores"]) == {"yes"}


def test_summary_is_json_ready() -> None:
    s = binary_scored()
    table = evaluate.metric_table(s, s, 60, 0.95, seed=0)
    decision = evaluate.MetricDecision("roc_auc", "train", "because.")
    choice = evaluate.ThresholdChoice("max_f1", 0.42, True, "the threshold with the highest F1", 0.5, 0.6, 0.55)
    groups = pd.DataFrame({"column": ["(all)"], "group": ["(all)"], "n": [300], "roc_auc": [np.nan], "flag": [""]})
    importance = pd.DataFrame({"feature": ["a"], "importance": [0.1], "std": [0.0]})
    record = evaluate.summary("logistic", decision, table, choice, groups, importance).model_dump()
    json.dumps(record, allow_nan=False)
    assert record["threshold"] == 0.42 and record["metric"] == "roc_auc"
    assert set(record["metrics"]["roc_auc"]) == {"value", "low", "high"}
    assert record["headline"]["threshold"] == "0.420 (the threshold with the highest F1)"
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




# ---------------------------------------------------------------- the positive class, whatever its sort order

# evaluate's metric name -> the scorer whose direct computation it must equal (losses as positive numbers)
AS_SCORER = {"log_loss": "neg_log_loss", "brier": "neg_brier_score"}


@pytest.mark.parametrize(("labels", "positive"), LABEL_SETS, ids=lambda v: str(v))
def test_test_metrics_match_sklearn_whatever_the_positive_class(labels: Any, positive: Any) -> None:
    X, yes_no = classifier_frame()
    y = relabel(yes_no, labels, positive)
    target = Target("y", "binary", tuple(sorted(map(str, labels))), str(positive))
    fit, held = slice(0, 160), slice(160, None)
    model = pipeline(LogisticRegression()).fit(X.iloc[fit], y.iloc[fit])
    scored = scoring.score(model, X.iloc[held], y.iloc[held], target, threshold=0.5)
    names = metrics.evaluated("binary")
    expected = direct(model, X.iloc[held], y.iloc[held], positive, [AS_SCORER.get(n, n) for n in names])
    shown = {name: metrics.sign(AS_SCORER.get(name, name)) * expected[AS_SCORER.get(name, name)] for name in names}
    assert scoring.point_metrics(scored) == pytest.approx(shown, rel=1e-9)
    table = evaluate.metric_table(scored, scoring.score(scoring.fit_baseline(X, y, target), X.iloc[held],
                                                        y.iloc[held], target), 50, 0.9, seed=0)
    assert table["value"].to_dict() == pytest.approx(shown, rel=1e-9)
    assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()


def test_telling_terms_of_a_linear_model_on_text_per_class_and_for_regression() -> None:
    from mlworkflow.core import families
    from mlworkflow.core.features import FeatureSpec

    words = ["win free cash", "free prize now", "see you at lunch", "meeting at noon"]
    frame = pd.DataFrame({"message": [f"{words[i % 4]} {i}" for i in range(80)], "y": [0.0, 1.0, 5.0, 6.0] * 20})
    frame["label"] = np.where(frame["y"] < 3, "spam", "ham")
    binary = FeatureSpec(target="label", task="binary", classes=("ham", "spam"), text=("message",))
    model = families.make_pipeline(binary, "logistic", 0).fit(frame[["message"]], frame["label"])
    terms = evaluate.telling_terms(model, Target("label", "binary", ("ham", "spam"), "spam"), top=2)
    assert set(terms["class"]) == {"ham", "spam"}
    assert terms[terms["class"] == "spam"]["term"].str.contains("free|win|cash|prize").all()
    regression = FeatureSpec(target="y", task="regression", text=("message",))
    ridge = families.make_pipeline(regression, "logistic", 0).fit(frame[["message"]], frame["y"])
    raising = evaluate.telling_terms(ridge, Target("y", "regression"), top=2)
    assert set(raising["class"]) == {"higher y"}
    assert raising["term"].str.contains("lunch|see|you|meeting|noon|at").all()


# ---------------------------------------------------------------- calibration before and after


def calibrated_example(method: str) -> tuple[Any, Any, pd.DataFrame, pd.Series, Calibration | None]:
    """A tree on the training rows, calibrated by `method` ('none': as it is), its baseline, and the test rows."""
    from tests.core.test_calibration import forced

    X, y = classifier_frame()
    fit, held = slice(0, 160), slice(160, None)
    checked = forced(method)
    model = calibration.calibrate(pipeline(DecisionTreeClassifier(random_state=0)), checked).fit(X.iloc[fit], y.iloc[fit])
    record = Calibration.model_validate({**checked.as_dict(), "passed_over": {}})
    return model, scoring.fit_baseline(X.iloc[fit], y.iloc[fit], BINARY), X.iloc[held], y.iloc[held], record


def test_calibration_before_and_after_on_the_test_split() -> None:
    model, baseline, X, y, record = calibrated_example("sigmoid")
    variants = evaluate.calibration_variants(model, baseline, X, y, BINARY, record)
    assert list(variants) == ["class prior", "before calibration", "sigmoid calibration (kept)"]
    table = evaluate.calibration_table(variants)
    before = calibration.uncalibrated(model).predict_proba(X)[:, 1]
    truth = (y == "yes").to_numpy()
    assert table.loc["before calibration", "brier"] == pytest.approx(brier_score_loss(truth, before))
    after = model.predict_proba(X)[:, 1]
    assert table.loc["sigmoid calibration (kept)", "log_loss"] == pytest.approx(log_loss(truth, after))
    assert table.loc["sigmoid calibration (kept)", "log_loss"] < table.loc["before calibration", "log_loss"]
    points = evaluate.reliability_points(variants["sigmoid calibration (kept)"])
    assert list(points.columns) == ["predicted", "observed"] and points["observed"].between(0, 1).all()


def test_an_uncalibrated_model_is_shown_beside_the_prior_and_regression_has_nothing() -> None:
    model, baseline, X, y, record = calibrated_example("none")
    assert list(evaluate.calibration_variants(model, baseline, X, y, BINARY, record)) == [
        "class prior", "model (not calibrated)"]
    assert list(evaluate.calibration_variants(model, baseline, X, y, BINARY, None))[1] == "model (not calibrated)"
    assert evaluate.calibration_variants(model, baseline, X, y, REGRESSION, None) == {}


def test_multiclass_reliability_reads_the_top_class_confidence() -> None:
    scored = multiclass_scored()
    points = evaluate.reliability_points(scored, bins=5)
    assert len(points) == 5
    top_right = (scored.scores.argmax(axis=1) == scored.truth).mean()
    assert points["observed"].mean() == pytest.approx(top_right, abs=0.02)


# ---------------------------------------------------------------- lift, cost, drivers, fairness in the record


def test_cost_view_finds_the_cheapest_threshold_and_prices_the_chosen_one() -> None:
    scored = binary_scored(threshold=0.5)
    params = EvaluateParams(cost_fp=1.0, cost_fn=5.0)
    curve = evaluate.cost_curve(scored, params)
    brute = {t: (1.0 * ((scored.scores >= t) & (scored.truth == 0)).sum()
                 + 5.0 * ((scored.scores < t) & (scored.truth == 1)).sum()) / 300 * 1000 for t in curve["threshold"]}
    view = evaluate.cost_view(scored, curve, params)
    assert view is not None and view.best_per_1000 == pytest.approx(min(brute.values()))
    assert brute[view.best_threshold] == pytest.approx(view.best_per_1000)
    at = evaluate.metrics_at(scored.truth, scored.scores, 0.5)
    assert view.per_1000 == pytest.approx((at["fp"] + 5 * at["fn"]) / 300 * 1000) and view.per_1000 >= view.best_per_1000
    assert evaluate.cost_view(multiclass_scored(), evaluate.cost_curve(multiclass_scored(), params), params) is None
    assert evaluate.gains(regression_scored()).empty and len(evaluate.gains(scored)) == 10


def test_explain_uses_shap_for_a_tree_and_partial_dependence_otherwise() -> None:
    X, y = classifier_frame()
    params = EvaluateParams(explain_rows=60)
    importance = pd.DataFrame({"feature": ["x", "noise", "colour"]})
    forest = pipeline(DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    shap = evaluate.explain(forest, X, BINARY, params, 0, importance)
    assert shap.method == "shap" and shap.rows == 60 and shap.ranking["feature"].iloc[0] == "x"
    linear = evaluate.explain(pipeline(LogisticRegression()).fit(X, y), X, BINARY, params, 0, importance, top=2)
    assert linear.method == "partial_dependence" and [d.feature for d in linear.dependence] == ["x", "noise"]
    assert linear.ranking["spread"].iloc[0] > linear.ranking["spread"].iloc[1]
    record = evaluate.drivers_record(shap)
    assert record.method == "shap" and record.features[0]["feature"] == "x" and "probability" in record.note
    rows, changes = evaluate.worked_examples(forest, X, X, BINARY, 0.5, shap)
    assert len(rows) == 3 and set(changes["feature"]) <= {"x", "noise", "colour"} and len(changes) == 6


def test_the_record_keeps_fairness_drivers_lift_and_cost_and_old_records_still_load() -> None:
    scored, frame = group_example()
    params = EvaluateParams(group_columns=("g",), bootstrap=100)
    groups = evaluate.evaluate_groups(scored, frame, "accuracy", params, seed=0)
    judged = evaluate.fairness_record(groups, "accuracy", "binary", params)
    assert judged is not None and [line.split(":")[0] for line in judged.flagged] == ["g = B"]
    assert judged.small == ["g = C"] and judged.tolerance == "±0.05" and "selection rate" in judged.glossary
    table = evaluate.metric_table(scored, scored, 60, 0.95, seed=0)
    decision = evaluate.MetricDecision("accuracy", "train", "because.")
    choice = evaluate.ThresholdChoice("max_f1", 0.5, True, "the threshold with the highest F1")
    importance = pd.DataFrame({"feature": ["g"], "importance": [0.1], "std": [0.0]})
    cost = evaluate.cost_view(scored, evaluate.cost_curve(scored, params), params)
    record = evaluate.summary("logistic", decision, table, choice, groups, importance, judged=judged,
                              lift=evaluate.gains(scored), cost=cost)
    dumped = record.model_dump()
    json.dumps(dumped, allow_nan=False)
    assert dumped["fairness"]["flagged"] == judged.flagged and len(dumped["gains"]) == 10
    assert dumped["groups"][2]["verdict"] == "flagged" and dumped["cost"]["threshold"] == 0.5
    old = {k: v for k, v in dumped.items() if k not in ("fairness", "drivers", "gains", "cost")}
    loaded = type(record).model_validate(old)
    assert loaded.fairness is None and loaded.drivers is None and loaded.gains == [] and loaded.cost is None


def test_group_min_rows_and_explain_rows_are_validated() -> None:
    for key in ("group_min_rows", "explain_rows"):
        with pytest.raises(ValueError, match=key):
            EvaluateParams.model_validate({key: 0})


def test_decision_threshold_reads_out_of_fold_predictions_of_trains_search_sample() -> None:
    X, y = classifier_frame()
    rows = crossval.sample_positions(y, "binary", 120, 0)  # what train's searches read with search_rows 120
    positive = np.random.default_rng(2).random(len(rows))
    params = EvaluateParams(threshold_rule="max_f1")
    choice = evaluate.decision_threshold(None, X, y, BINARY, params, seed=0, held_out=held_out_of(y.iloc[rows], positive))
    direct_choice = evaluate.choose_threshold(scoring.encode_target(y.iloc[rows], BINARY), positive, params)
    assert (choice.threshold, choice.f1) == (direct_choice.threshold, direct_choice.f1)
