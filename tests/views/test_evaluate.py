"""Presentation for stage `evaluate`: readable metric and threshold tables, styled groups, the plots, the what-if row."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlworkflow.core.scoring import Scored
from mlworkflow.stages import evaluate
from mlworkflow.views import evaluate as view
from tests.core.test_scoring import binary_scored, multiclass_scored, regression_scored
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
    assert isinstance(empty, str) and empty.startswith("No term weights")


def test_calibration_change_plots_reliability_and_losses() -> None:
    from tests.stages.test_evaluate import calibrated_example

    model, baseline, X, y, record = calibrated_example("isotonic")
    from tests.core.test_scoring import BINARY

    figure = view.plot_calibration_change(evaluate.calibration_variants(model, baseline, X, y, BINARY, record))
    curve, bars = figure.axes[:2]
    assert [line.get_label() for line in curve.get_lines()] == [
        "before calibration", "isotonic calibration (kept)", "perfectly calibrated"]
    assert len(bars.patches) == 6, "log-loss and Brier for the prior, before and after"
