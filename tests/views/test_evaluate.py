"""Presentation for stage `evaluate`: readable metric and threshold tables, styled groups, the plots, the what-if row."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlworkflow.core.scoring import Scored
from mlworkflow.params import EvaluateParams
from mlworkflow.stages import evaluate
from mlworkflow.views import evaluate as view
from tests.core.test_scoring import (
    BINARY,
    binary_scored,
    classifier_frame,
    multiclass_scored,
    pipeline,
    regression_scored,
)
from tests.stages.test_evaluate import group_example


def test_threshold_grid_marks_the_chosen_threshold() -> None:
    grid = view.threshold_grid(binary_scored(threshold=0.37))
    chosen = grid[grid["chosen"] == "◀"]
    assert list(chosen["threshold"]) == [0.37]
    assert (grid[["tn", "fp", "fn", "tp"]].sum(axis=1) == 300).all()
    assert grid["recall"].is_monotonic_decreasing
    assert "note" in view.threshold_grid(multiclass_scored()).columns


def test_style_groups_highlights_gaps_deterministically() -> None:
    scored, frame = group_example()
    table = evaluate.group_table(scored, frame, ["g"], "accuracy", tolerance=0.05)
    html = view.style_groups(table, 0.05).to_html()
    assert html == view.style_groups(table, 0.05).to_html()
    styles = html.split("</style>")[0]
    assert "#fde2a7" in styles and re.search(r"#T_mlw-groups_row2_col3\b", styles)  # group B's accuracy
    assert not re.search(r"#T_mlw-groups_row3_col\d+\b", styles)  # group C is too small to flag


@pytest.mark.parametrize("make", [binary_scored, multiclass_scored, regression_scored])
def test_plots_return_figures(make: Callable[..., Scored]) -> None:
    s = make(n=80)
    for figure in (view.plot_errors(s), view.plot_curves(s, s), view.plot_calibration(s)):
        assert isinstance(figure, Figure) and figure.axes
    table = pd.DataFrame({"feature": ["a", "b"], "importance": [0.2, 0.1], "std": [0.01, 0.02]})
    assert isinstance(view.plot_importance(table), Figure)


def test_terms_table_puts_each_class_in_a_column() -> None:
    terms = pd.DataFrame({"class": ["ham", "ham", "spam", "spam"], "term": ["lunch", "see", "free", "win"],
                          "column": "message", "weight": [1.5, 0.25, 2.0, 1.0]})
    table = view.terms_table(terms)
    assert isinstance(table, pd.DataFrame)
    assert table.to_dict("list") == {"ham": ["lunch (+1.50)", "see (+0.25)"], "spam": ["free (+2.00)", "win (+1.00)"]}
    assert list(table.index) == [1, 2]
    empty = view.terms_table(pd.DataFrame(columns=["class", "term", "column", "weight"]))
    assert not isinstance(empty, str), "a str shows as a quoted repr on the page"
    assert empty._repr_markdown_().startswith("No term weights")


def test_calibration_change_plots_reliability_and_losses() -> None:
    from tests.stages.test_evaluate import calibrated_example

    model, baseline, X, y, record = calibrated_example("isotonic")
    from tests.core.test_scoring import BINARY

    figure = view.plot_calibration_change(evaluate.calibration_variants(model, baseline, X, y, BINARY, record))
    curve, bars = figure.axes[:2]
    assert [line.get_label() for line in curve.get_lines()] == [
        "before calibration", "isotonic calibration (kept)", "perfectly calibrated"]
    assert len(bars.patches) == 6, "log-loss and Brier for the prior, before and after"


def test_group_view_reads_shares_as_percentages_and_says_the_verdict() -> None:
    scored, frame = group_example()
    table = evaluate.group_table(scored, frame, ["g"], "accuracy", tolerance=0.05)
    shown = view.group_view(table).set_index("group")
    assert list(shown.columns)[:5] == ["column", "rows", "Accuracy", "Accuracy gap", "selection rate"]
    assert shown.loc["B", "Accuracy"].startswith("0.000 [") and shown.loc["B", "verdict"] == "flagged"
    assert shown.loc["C", "verdict"] == "too few rows" and shown.loc[view.ALL_ROWS, "verdict"] == view.REFERENCE
    whole = shown.loc[view.ALL_ROWS]  # the line the gaps are measured against: no '(all) (all)', no gap to itself
    assert whole["column"] == "" and whole["Accuracy gap"] == whole["selection rate gap"] == "—"
    assert "(all)" not in view.style_groups(table, 0.05).to_html()
    assert shown.loc[view.ALL_ROWS, "selection rate"].startswith("50.0% [") and shown.loc["A", "selection rate gap"].endswith("pts")
    assert "nan" not in view.style_groups(table, 0.05).to_html()


def test_fairness_notes_list_the_flagged_groups_and_the_glossary() -> None:
    scored, frame = group_example()
    params = EvaluateParams(group_columns=("g",))
    judged = evaluate.fairness_record(evaluate.evaluate_groups(scored, frame, "accuracy", params, 0), "accuracy",
                                      "binary", params)
    notes = view.fairness_notes(judged)
    assert "**1 group flagged**" in notes and "- g = B: Accuracy -0.692" in notes
    assert "under 30) to judge: g = C" in notes and "- **selection rate**: share of the group the model flags" in notes
    assert view.fairness_notes(None).startswith("No group columns")


def test_drivers_gains_and_cost_plots() -> None:
    X, y = classifier_frame()
    params = EvaluateParams(explain_rows=80)
    importance = pd.DataFrame({"feature": ["x", "colour"]})
    for estimator, method in ((DecisionTreeClassifier(max_depth=3, random_state=0), "shap"),
                              (LogisticRegression(), "partial_dependence")):
        report = evaluate.explain(pipeline(estimator).fit(X, y), X, BINARY, params, 0, importance)
        assert report.method == method and view.plot_drivers(report).axes
        assert view.drivers_table(report)["feature"].iloc[0] == "x"
        if report.explained is not None:  # a feature derived inside the pipeline has no input column to colour by
            derived = dataclasses.replace(report.explained, inputs=report.explained.inputs.drop(columns=["x"]))
            assert view.plot_drivers(dataclasses.replace(report, explained=derived)).axes
    scored = binary_scored(threshold=0.4)
    lift = evaluate.gains(scored)
    assert len(view.plot_gains(lift).axes[1].patches) == 10
    assert view.gains_summary(lift).startswith("The 10% of test rows the model scores highest hold ")
    curve = evaluate.cost_curve(scored, params)
    cost = evaluate.cost_view(scored, curve, params)
    assert cost is not None and view.plot_cost(curve, cost).axes
    assert f"chosen threshold 0.40 cost {cost.per_1000:,.0f} per 1,000 rows" in view.cost_summary(cost)


def test_worked_examples_say_the_change_and_both_predictions() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    report = evaluate.explain(model, X, BINARY, EvaluateParams(), 0, pd.DataFrame({"feature": ["x", "colour"]}))
    _rows, changes = evaluate.worked_examples(model, X, X, BINARY, 0.5, report)
    table = view.worked_examples(changes, BINARY)
    assert list(table.columns) == ["example", "change", "prediction", "after the change", "difference"]
    assert table["change"].iloc[0].startswith("x: ") and " → " in table["change"].iloc[0]
    assert table["prediction"].iloc[0].endswith("%)") and "P(yes) = " in table["prediction"].iloc[0]
    assert table["difference"].str.endswith(" pts").all()


def test_the_deciding_metric_and_the_calibration_bars_read_human_names() -> None:
    from mlworkflow.stages.evaluate import MetricDecision

    said = view.deciding_metric(MetricDecision("roc_auc", "train", "`roc_auc` decides because train tuned on it."))
    assert said == "**Deciding metric: ROC AUC.** ROC AUC decides because train tuned on it."
    from tests.core.test_scoring import BINARY
    from tests.stages.test_evaluate import calibrated_example

    model, baseline, X, y, record = calibrated_example("isotonic")
    bars = view.plot_calibration_change(evaluate.calibration_variants(model, baseline, X, y, BINARY, record)).axes[1]
    assert [text.get_text() for text in bars.get_legend().get_texts()] == ["Log loss", "Brier score"]


def test_an_interval_in_the_group_table_breaks_only_before_its_bracket() -> None:
    scored, frame = group_example()
    shown = view.group_view(evaluate.group_table(scored, frame, ["g"], "accuracy", tolerance=0.05))
    cells = [cell for column in ("Accuracy", "selection rate gap") for cell in shown[column] if cell != "—"]
    assert cells and all(cell.count(" ") == 1 and " [" in cell and view.NBSP in cell for cell in cells)
