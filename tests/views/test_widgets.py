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
