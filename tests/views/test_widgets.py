"""Tests for the evaluate widgets: drive them from Python as a user would in JupyterLab."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.views import widgets

BINARY = Target("y", "binary", ("no", "yes"), "yes")
TRUTH = np.array([0, 0, 1, 0, 1, 1], dtype=float)
SCORES = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.8])


def scored(threshold: float = 0.5) -> Scored:
    return Scored("binary", ("no", "yes"), TRUTH, SCORES, (threshold <= SCORES).astype(float), True, threshold)


def test_slider_updates_metrics_and_confusion_matrix() -> None:
    panel = widgets.threshold_slider(scored(0.5))
    assert isinstance(panel, widgets.ThresholdPanel)
    assert panel.current["precision"] == 1.0 and panel.current["recall"] == pytest.approx(2 / 3)
    before = panel.readout.value
    panel.slider.value = 0.25
    assert panel.current["threshold"] == 0.25
    assert panel.current["precision"] == 0.75 and panel.current["recall"] == 1.0
    assert panel.readout.value != before
    assert "<b>precision</b> 0.750" in panel.readout.value and "<td>3</td>" in panel.readout.value  # tp = 3
    assert "precision 0.750, recall 1.000" in panel.text()


def test_slider_headless_output_is_text_plus_widget_view() -> None:
    panel = widgets.threshold_slider(scored(0.5))
    assert isinstance(panel, widgets.ThresholdPanel)
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == panel.text()
    assert "0x" not in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(panel.box, ipywidgets.VBox)


def test_slider_for_margins_spans_the_scores() -> None:
    margins = Scored("binary", ("no", "yes"), TRUTH, SCORES - 0.5, (SCORES >= 0.5).astype(float), False, 0.0)
    panel = widgets.threshold_slider(margins)
    assert isinstance(panel, widgets.ThresholdPanel)
    assert panel.slider.min == pytest.approx(-0.4) and panel.slider.max == pytest.approx(0.3)


def test_no_slider_without_a_threshold() -> None:
    regression = Scored("regression", (), TRUTH, SCORES, SCORES, False, None)
    panel = widgets.threshold_slider(regression)
    assert isinstance(panel, widgets.NotePanel)
    assert "no decision threshold" in panel._repr_mimebundle_()["text/plain"]


def classifier() -> tuple[Pipeline, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "count": rng.integers(0, 5, 200),
                      "colour": rng.choice(["red", "blue", "green"], 200)})
    y = pd.Series(np.where(X["x"] > 0, "yes", "no"))
    columns = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough")
    return Pipeline([("preprocess", columns), ("model", LogisticRegression(C=10.0))]).fit(X, y), X


def test_what_if_prediction_follows_an_edit() -> None:
    model, X = classifier()
    example = pd.DataFrame({"x": [-2.0], "count": [1], "colour": ["red"]})
    panel = widgets.what_if(model, X, example, BINARY, 0.5)
    assert isinstance(panel.fields["x"], ipywidgets.FloatText)
    assert isinstance(panel.fields["count"], ipywidgets.IntText)
    assert list(panel.fields["colour"].options) == ["blue", "green", "red"]
    assert panel.current["prediction"] == "no"
    before = panel.result.value
    panel.fields["x"].value = 2.0
    assert panel.current["prediction"] == "yes" and panel.current["scores"]["yes"] > 0.5
    assert panel.result.value != before and "yes" in panel.result.value
    panel.fields["colour"].value = "blue"
    assert panel.row().dtypes.to_dict() == X.dtypes.to_dict()
    assert panel.row().loc[0, "colour"] == "blue"


def test_what_if_headless_text_and_regression() -> None:
    X = pd.DataFrame({"x": np.arange(20.0)})
    model = LinearRegression().fit(X, 3.0 * X["x"])
    target = Target("y", "regression", (), None)
    panel = widgets.what_if(model, X, X.iloc[[2]], target, None)
    assert panel.text() == "What-if panel over 1 features (interactive in JupyterLab); prediction: 6.000"
    panel.fields["x"].value = 10.0
    assert panel.current["prediction"] == pytest.approx(30.0)
    assert panel._repr_mimebundle_()["text/plain"].endswith("prediction: 30.000")


def test_field_widget_kinds() -> None:
    many = pd.Series([f"v{i}" for i in range(widgets.MAX_DROPDOWN + 1)])
    assert isinstance(widgets.field_widget("id", many, "v3"), ipywidgets.Text)
    assert isinstance(widgets.field_widget("flag", pd.Series([True, False]), True), ipywidgets.Dropdown)


def test_slider_moves_the_roc_point_and_redraws_the_confusion_matrix() -> None:
    panel = widgets.threshold_slider(scored(0.5))
    assert isinstance(panel, widgets.ThresholdPanel)
    assert "false positive rate 0.000, true positive rate 0.667" in panel.readout.value
    plot = bytes(panel.plot.value)
    assert plot.startswith(b"\x89PNG")
    panel.slider.value = 0.25
    assert "false positive rate 0.333, true positive rate 1.000" in panel.readout.value  # fp 1 of 3 negatives
    assert bytes(panel.plot.value) != plot


def test_slider_static_report_shows_the_plots_at_the_chosen_threshold() -> None:
    panel = widgets.threshold_slider(scored(0.5))
    assert isinstance(panel, widgets.ThresholdPanel)
    first = panel._repr_mimebundle_()["text/html"]
    panel.slider.value = 0.25
    static = panel._repr_mimebundle_()["text/html"]
    assert static == first  # what the saved notebook and its report show: the chosen threshold, not a slider's
    assert static.count("data:image/png;base64,") == 1 and "<b>precision</b> 1.000" in static
    assert "interactive in JupyterLab" not in static + panel.text()


def test_threshold_figure_marks_the_point_on_both_curves() -> None:
    values = widgets.metrics_at(TRUTH, SCORES, 0.25)
    figure = widgets.threshold_figure(widgets.Curves.of(scored()), values, ("no", "yes"))
    roc, pr, matrix = figure.axes
    assert roc.lines[-1].get_xydata().tolist() == [[pytest.approx(1 / 3), 1.0]]
    assert pr.lines[-1].get_xydata().tolist() == [[1.0, 0.75]]
    assert [t.get_text() for t in matrix.texts] == ["2\n67%", "1\n33%", "0\n0%", "3\n100%"]


GROUPS = pd.DataFrame({"sex": ["f", "m", "f", "m", "f", "m"], "age": [20, 30, 40, 50, 60, 70]})


def test_error_browser_lists_errors_most_wrong_first_and_follows_the_slider() -> None:
    slider = widgets.threshold_slider(scored(0.5))
    panel = widgets.error_browser(scored(0.5), GROUPS, ["sex", "not a column"], follow=slider)
    assert panel.groups == ["sex"]
    assert panel.shown.empty and "0 false positives, showing 0" in panel.view.value
    panel.controls["kind"].value = "false negatives"
    assert panel.shown["age"].tolist() == [40] and panel.shown["score"].tolist() == [0.3]
    panel.controls["kind"].value = "false positives"
    assert isinstance(slider, widgets.ThresholdPanel)
    slider.slider.value = 0.25
    assert panel.shown["age"].tolist() == [50]  # scored 0.4, now past the threshold
    assert panel.shown[["actual", "predicted"]].values.tolist() == [["no", "yes"]]
    assert "6 rows in the test split, 1 misclassified (16.7%)" in panel.view.value


def test_error_browser_narrows_to_a_group() -> None:
    panel = widgets.error_browser(scored(0.25), GROUPS, ["sex"])
    panel.controls["kind"].value = "all rows"
    panel.controls["column"].value = "sex"
    assert list(panel.controls["group"].options) == ["f", "m"]
    assert panel.shown["sex"].tolist() == ["f", "f", "f"]
    panel.controls["group"].value = "m"
    assert panel.shown["age"].tolist() == [30, 50, 70]
    assert "3 rows in sex = m, 1 misclassified (33.3%)" in panel.view.value


def test_error_browser_static_report_has_the_worst_rows_and_errors_per_group() -> None:
    panel = widgets.error_browser(scored(0.25), GROUPS, ["sex"])
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    assert all(f"<h4>{kind}</h4>" in static for kind in ("False positives", "False negatives"))
    assert "1 false positives, showing 1, most wrong first" in static
    errors = widgets.group_errors(scored(0.25), GROUPS, 0.25, ["sex"])
    assert errors.to_dict("list") == {"column": ["sex", "sex"], "group": ["f", "m"], "rows": ["3", "3"],
                                      "error rate": ["0.0%", "33.3%"], "false positives": ["0", "1"],
                                      "false negatives": ["0", "0"]}
    assert "<h4>Errors per group</h4>" in static


def test_error_browser_for_regression_and_multiclass() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    regression = Scored("regression", (), truth, truth, truth + np.array([0, 3, 0, -1, 0, 0.5]), False, None)
    panel = widgets.error_browser(regression, GROUPS, ["sex"])
    assert panel.shown["error"].tolist()[:3] == [-3.0, 1.0, -0.5]
    assert "mean absolute error 0.75" in panel.view.value
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    multiclass = Scored("multiclass", ("a", "b", "c"), np.array([0.0, 1.0, 1.0]), probabilities,
                        np.array([0.0, 1.0, 0.0]), True, None)
    panel = widgets.error_browser(multiclass, GROUPS.head(3), [])
    assert panel.shown[["actual", "predicted", "score"]].values.tolist() == [["b", "a", 0.6]]
    assert "<h4>Errors per group</h4>" not in panel.static()


def test_what_if_static_report_shows_the_example_row_and_its_prediction() -> None:
    model, X = classifier()
    example = pd.DataFrame({"x": [-2.0], "count": [1], "colour": ["red"]})
    panel = widgets.what_if(model, X, example, BINARY, 0.5)
    static = panel._repr_mimebundle_()["text/html"]
    panel.fields["x"].value = 2.0
    assert panel._repr_mimebundle_()["text/html"] == static  # the saved example, not the edit
    assert "<b>prediction:</b> no at threshold 0.500" in static and "<td>colour</td>" in static and "<td>red</td>" in static
    assert "interactive in JupyterLab" not in static


def test_error_browser_writes_numbers_with_separators_in_a_table_that_scrolls() -> None:
    wide = GROUPS.assign(fnlwgt=[226802.0, 89814.0, 336951.0, 160323.0, 103497.0, 198693.0])
    panel = widgets.error_browser(scored(0.25), wide, ["sex"])
    for shown in (panel.view.value, panel.static()):
        assert '<div class="mlw-table">' in shown  # the report's box: scrolls sideways, numbers never break inside
        assert "e+05" not in shown and "160323" not in shown
    assert "<td>160,323</td>" in panel.view.value and "<td>0.400</td>" in panel.view.value  # the score, 3 decimals
