"""Interactive panels for stage `evaluate`: a threshold slider and a what-if form.

The panels are built here and only displayed by notebooks. Each one shows a short, deterministic
text summary where no widget frontend exists (a headless run, an HTML report).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow.core.metrics import format_value
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.stages.evaluate import metrics_at, predict_row, threshold_range

MAX_DROPDOWN = 100  # categorical columns with more distinct values get a free-text box
STYLE = {"description_width": "150px"}


def _bundle(box: Any, text: str, **kwargs: Any) -> Any:
    bundle = box._repr_mimebundle_(**kwargs)
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    return {**(bundle or {}), "text/plain": text}


def readout_html(values: Mapping[str, float], labels: tuple[str, ...]) -> str:
    """Precision, recall, F1, accuracy and the confusion matrix at one threshold, as an HTML table."""
    negative, positive = (html.escape(label) for label in labels)
    scores = " · ".join(
        f"<b>{name}</b> {values[key]:.3f}"
        for name, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1"), ("accuracy", "accuracy"))
    )
    cells = "".join(
        f"<tr><th>true {label}</th><td>{int(values[a])}</td><td>{int(values[b])}</td></tr>"
        for label, a, b in ((negative, "tn", "fp"), (positive, "fn", "tp"))
    )
    head = f"<tr><th></th><th>predicted {negative}</th><th>predicted {positive}</th></tr>"
    return f"<div>{scores}</div><table>{head}{cells}</table>"


@dataclass
class ThresholdPanel:
    """A threshold slider whose readout (precision, recall, F1, confusion matrix) follows it."""

    scored: Scored
    slider: Any
    readout: Any
    box: Any
    current: dict[str, float] = field(default_factory=dict)

    def update(self, change: Any = None) -> None:
        """Recompute the readout at the slider's value."""
        self.current = metrics_at(self.scored.truth, self.scored.scores, float(self.slider.value))
        self.readout.value = readout_html(self.current, self.scored.labels)

    def text(self) -> str:
        """A one-line summary of the current state, for headless output."""
        c = self.current
        return (
            f"Threshold slider at {c['threshold']:.2f}: precision {c['precision']:.3f}, recall {c['recall']:.3f}, "
            f"F1 {c['f1']:.3f} (interactive in JupyterLab; the table above covers a grid of thresholds)"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _bundle(self.box, self.text(), **kwargs)


@dataclass
class NotePanel:
    """A panel that only says why there is nothing to interact with."""

    note: str

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return {"text/plain": self.note, "text/markdown": self.note}


def threshold_slider(scored: Scored) -> ThresholdPanel | NotePanel:
    """A slider over the decision threshold, starting at the chosen one (binary tasks only)."""
    import ipywidgets as widgets

    if scored.task != "binary" or scored.threshold is None:
        return NotePanel(f"No threshold slider: a {scored.task} model has no decision threshold.")
    low, high = threshold_range(scored)
    slider = widgets.FloatSlider(
        value=float(np.clip(scored.threshold, low, high)), min=low, max=high, step=(high - low) / 100,
        description="threshold", readout_format=".2f", continuous_update=True, style=STYLE,
        layout=widgets.Layout(width="480px"),
    )
    readout = widgets.HTML()
    slider.add_class("mlw-threshold-slider")
    readout.add_class("mlw-threshold-readout")  # stable hooks for the browser test and custom CSS
    panel = ThresholdPanel(scored, slider, readout, widgets.VBox([slider, readout]))
    panel.update()
    slider.observe(panel.update, names="value")
    return panel


def field_widget(name: str, column: pd.Series, value: Any) -> Any:
    """An input widget for one feature: a number box, a dropdown of seen categories, or a text box."""
    import ipywidgets as widgets

    common = {"description": name, "style": STYLE, "layout": widgets.Layout(width="340px")}
    if pd.api.types.is_bool_dtype(column):
        return widgets.Dropdown(options=[False, True], value=bool(value), **common)
    if pd.api.types.is_integer_dtype(column):
        return widgets.IntText(value=int(value), **common)
    if pd.api.types.is_numeric_dtype(column):
        return widgets.FloatText(value=float(value), **common)
    options = sorted({str(v) for v in column.dropna().unique()} | {str(value)})
    if len(options) > MAX_DROPDOWN:
        return widgets.Text(value=str(value), **common)
    return widgets.Dropdown(options=options, value=str(value), **common)


def prediction_html(result: Mapping[str, Any], threshold: float | None) -> str:
    """The what-if prediction as short HTML."""
    prediction = result["prediction"]
    if "scores" not in result:
        return f"<b>prediction:</b> {format_value(prediction)}"
    kind = "P" if result["probabilistic"] else "score"
    parts = ", ".join(f"{kind}({html.escape(k)}) = {v:.3f}" for k, v in result["scores"].items())
    cut = "" if threshold is None else f" at threshold {threshold:.3f}"
    return f"<b>prediction:</b> {html.escape(str(prediction))}{cut} — {parts}"


@dataclass
class WhatIfPanel:
    """One input per feature, pre-filled from an example row; the prediction follows every edit."""

    estimator: Any
    target: Target
    threshold: float | None
    template: pd.DataFrame
    fields: dict[str, Any]
    result: Any
    box: Any
    current: dict[str, Any] = field(default_factory=dict)

    def row(self) -> pd.DataFrame:
        """The edited example as a one-row frame with the training dtypes."""
        values = {name: [widget.value] for name, widget in self.fields.items()}
        return pd.DataFrame(values).astype(self.template.dtypes.to_dict())

    def update(self, change: Any = None) -> None:
        """Predict for the edited row."""
        self.current = predict_row(self.estimator, self.row(), self.target, self.threshold)
        self.result.value = prediction_html(self.current, self.threshold)

    def text(self) -> str:
        """A one-line summary of the current prediction, for headless output."""
        shown = prediction_html(self.current, self.threshold).replace("<b>", "").replace("</b>", "")
        return f"What-if panel over {len(self.fields)} features (interactive in JupyterLab); {html.unescape(shown)}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _bundle(self.box, self.text(), **kwargs)


def what_if(estimator: Any, X_train: pd.DataFrame, example: pd.DataFrame, target: Target,
            threshold: float | None) -> WhatIfPanel:
    """A what-if form over `example` (one row with the training columns)."""
    import ipywidgets as widgets

    template = X_train.iloc[:0]
    fields = {str(name): field_widget(str(name), X_train[name], example[name].iloc[0]) for name in X_train.columns}
    result = widgets.HTML()
    grid = widgets.GridBox(list(fields.values()), layout=widgets.Layout(grid_template_columns="repeat(2, 350px)"))
    grid.add_class("mlw-what-if-fields")
    result.add_class("mlw-what-if-result")
    panel = WhatIfPanel(estimator, target, threshold, template, fields, result, widgets.VBox([grid, result]))
    panel.update()
    for widget in fields.values():
        widget.observe(panel.update, names="value")
    return panel
