"""Interactive panels for stage `evaluate`: a threshold slider whose plots follow it, an error browser, a what-if form.

The panels are built here and only displayed by notebooks. Where no widget frontend exists (a headless run, an HTML
report) each shows what it shows at its starting point: the plots and tables as static HTML, or a short text summary.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlworkflow.core.metrics import format_value
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.stages.evaluate import metrics_at, predict_row, threshold_range
from mlworkflow.views import plots, tables
from mlworkflow.views.explore import image_html, level_order, levels, png
from mlworkflow.views.labels import number, percent

MAX_DROPDOWN = 100  # categorical columns with more distinct values get a free-text box
STYLE = {"description_width": "150px"}


def _bundle(box: Any, text: str, static: str = "", **kwargs: Any) -> Any:
    bundle = box._repr_mimebundle_(**kwargs)
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    return {**(bundle or {}), "text/plain": text, **({"text/html": static} if static else {})}


def false_positive_rate(values: Mapping[str, float]) -> float:
    """The share of true negatives called positive: the ROC point's x."""
    return values["fp"] / max(values["fp"] + values["tn"], 1.0)


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
    point = (f"<div>ROC point: false positive rate {false_positive_rate(values):.3f}, "
             f"true positive rate {values['recall']:.3f}</div>")
    return f"<div>{scores}</div>{point}<table>{head}{cells}</table>"


@dataclass(frozen=True)
class Curves:
    """A binary model's ROC and precision–recall curves, computed once for every threshold."""

    fpr: np.ndarray
    tpr: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @classmethod
    def of(cls, scored: Scored) -> Curves:
        """The curves of the test scores."""
        from sklearn.metrics import precision_recall_curve, roc_curve

        fpr, tpr, _ = roc_curve(scored.truth == 1, scored.scores)
        precision, recall, _ = precision_recall_curve(scored.truth == 1, scored.scores)
        return cls(fpr, tpr, precision, recall)


def _confusion(ax: Axes, values: Mapping[str, float], labels: tuple[str, ...]) -> None:
    counts = np.array([[values["tn"], values["fp"]], [values["fn"], values["tp"]]])
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if shares[row, column] > 0.6 else "black"
        ax.text(column, row, f"{int(count):,}\n{shares[row, column]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], [f"predicted\n{label}" for label in labels])  # two lines: long labels would collide
    ax.set_yticks([0, 1], [f"true {label}" for label in labels], rotation=90, va="center")
    ax.set_title("Confusion matrix (share of each true class)", fontsize=10)
    ax.grid(False)


def threshold_figure(curves: Curves, values: Mapping[str, float], labels: tuple[str, ...]) -> Figure:
    """The ROC and precision–recall curves with the point at one threshold, and the confusion matrix there."""
    figure, (roc, pr, matrix) = plots.row(3, width=12.0, height=3.6)
    roc.plot(curves.fpr, curves.tpr, label="model")
    roc.plot([0, 1], [0, 1], linestyle="--", color="grey", label="baseline")
    roc.plot([false_positive_rate(values)], [values["recall"]], "o", color="black", label="threshold")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.02))
    pr.plot(curves.recall, curves.precision, drawstyle="steps-post", label="model")
    pr.plot([values["recall"]], [values["precision"]], "o", color="black", label="threshold")
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall curve", xlim=(0, 1), ylim=(0, 1.02))
    roc.legend(loc="lower right", fontsize="small")
    _confusion(matrix, values, labels)
    figure.suptitle(f"at threshold {values['threshold']:.2f}", fontsize=10)
    return figure


@dataclass
class ThresholdPanel:
    """A threshold slider whose readout (precision, recall, F1, confusion matrix) follows it."""

    scored: Scored
    slider: Any
    readout: Any
    plot: Any
    box: Any
    curves: Curves
    current: dict[str, float] = field(default_factory=dict)
    start: bytes = b""

    def update(self, change: Any = None) -> None:
        """Recompute the readout, the curves' points and the confusion matrix at the slider's value."""
        self.current = metrics_at(self.scored.truth, self.scored.scores, float(self.slider.value))
        self.readout.value = readout_html(self.current, self.scored.labels)
        self.plot.value = png(threshold_figure(self.curves, self.current, self.scored.labels))
        self.start = self.start or bytes(self.plot.value)

    def text(self) -> str:
        """A one-line summary of the current state, for headless output."""
        c = self.current
        return (
            f"At threshold {c['threshold']:.2f}: precision {c['precision']:.3f}, recall {c['recall']:.3f}, "
            f"F1 {c['f1']:.3f} (the table above covers a grid of thresholds)"
        )

    def static(self) -> str:
        """The plots and readout at the starting threshold, for a static report."""
        note = "<p>At the chosen threshold; the table above gives the same figures over a grid of thresholds.</p>"
        start = metrics_at(self.scored.truth, self.scored.scores, float(self.scored.threshold or 0.0))
        return f"{note}{image_html(self.start, 'curves and confusion matrix')}{readout_html(start, self.scored.labels)}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _bundle(self.box, self.text(), self.static(), **kwargs)


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
    readout, plot = widgets.HTML(), widgets.Image(format="png")
    slider.add_class("mlw-threshold-slider")
    readout.add_class("mlw-threshold-readout")  # stable hooks for the browser test and custom CSS
    plot.add_class("mlw-threshold-plot")
    panel = ThresholdPanel(scored, slider, readout, plot, widgets.VBox([slider, plot, readout]), Curves.of(scored))
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
    start: str = ""

    def row(self) -> pd.DataFrame:
        """The edited example as a one-row frame with the training dtypes."""
        values = {name: [widget.value] for name, widget in self.fields.items()}
        return pd.DataFrame(values).astype(self.template.dtypes.to_dict())

    def update(self, change: Any = None) -> None:
        """Predict for the edited row."""
        self.current = predict_row(self.estimator, self.row(), self.target, self.threshold)
        self.result.value = prediction_html(self.current, self.threshold)
        self.start = self.start or self.static_now()

    def static_now(self) -> str:
        """The example row as it stands and its prediction, as HTML."""
        values = pd.DataFrame({"feature": list(self.fields), "value": [w.value for w in self.fields.values()]})
        return f"<p>The example test row, and {prediction_html(self.current, self.threshold)}</p>{tables.html(values)}"

    def text(self) -> str:
        """A one-line summary of the current prediction, for headless output."""
        shown = prediction_html(self.current, self.threshold).replace("<b>", "").replace("</b>", "")
        return f"What-if panel over {len(self.fields)} features (interactive in JupyterLab); {html.unescape(shown)}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _bundle(self.box, self.text(), self.start, **kwargs)


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


# --- the error browser ---------------------------------------------------------------------------

BROWSE_ROWS = 20  # rows the browser lists: the most confidently wrong first
STATIC_ROWS = 10  # rows per table in a static report
EVERY_ROW = "(every row)"
KINDS = {"binary": ("false positives", "false negatives", "all errors", "all rows"),
         "multiclass": ("all errors", "all rows"), "regression": ("largest errors", "all rows")}
STATIC_KINDS = {"binary": ("false positives", "false negatives"), "multiclass": ("all errors",),
                "regression": ("largest errors",)}
COUNTED = {"all errors": "errors", "largest errors": "rows", "all rows": "rows"}  # "57 errors", not "57 all errors"


def predicted_at(scored: Scored, threshold: float | None) -> np.ndarray:
    """Class codes (binary: at `threshold`) or predictions."""
    if scored.task == "binary" and threshold is not None:
        return (scored.scores >= threshold).astype(float)
    return scored.predicted


def wrongness(scored: Scored, predicted: np.ndarray, threshold: float | None) -> np.ndarray:
    """How wrong each row is: the score's distance past the threshold, the missed class's shortfall, or |error|."""
    if scored.task == "regression":
        return np.asarray(np.abs(scored.truth - predicted))
    if scored.task == "binary":
        return np.asarray(np.where(scored.truth != predicted, np.abs(scored.scores - float(threshold or 0.0)), 0.0))
    codes = scored.truth.astype(int)
    own = scored.scores[np.arange(codes.size), codes]
    return np.asarray(np.where(scored.truth != predicted, scored.scores.max(axis=1) - own, 0.0))


def kind_mask(scored: Scored, predicted: np.ndarray, kind: str) -> np.ndarray:
    """Which rows a browser choice keeps."""
    wrong = scored.truth != predicted
    masks = {"false positives": wrong & (predicted == 1), "false negatives": wrong & (predicted == 0),
             "all errors": wrong}
    return np.asarray(masks.get(kind, np.ones(wrong.size, dtype=bool)))


def labelled(scored: Scored, X: pd.DataFrame, predicted: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """Rows `rows` (positions) with their actual value, the prediction and its score, before the features."""
    truth, predicted = scored.truth[rows], predicted[rows]
    if scored.task == "regression":
        head = {"actual": truth, "predicted": predicted, "error": truth - predicted}
    else:
        names = np.array(scored.labels, dtype=object)
        score = scored.scores[rows] if scored.task == "binary" else scored.scores[rows].max(axis=1)
        head = {"actual": names[truth.astype(int)], "predicted": names[predicted.astype(int)], "score": np.round(score, 3)}
    return pd.concat([pd.DataFrame(head), X.iloc[rows].reset_index(drop=True)], axis=1)


def browse(scored: Scored, X: pd.DataFrame, threshold: float | None, kind: str,
           group: tuple[str, str] | None = None, rows: int = BROWSE_ROWS,
           banded: np.ndarray | None = None) -> tuple[pd.DataFrame, str]:
    """The rows of one kind (in one group), most wrong first, at most `rows`, and a sentence about them; `banded` is
    the group column as `levels` gives it, when already computed."""
    predicted = predicted_at(scored, threshold)
    inside = np.ones(scored.n_rows, dtype=bool)
    if group is not None:
        inside = (levels(X[group[0]]).to_numpy() if banded is None else banded) == group[1]
    keep = inside & kind_mask(scored, predicted, kind)
    order = np.argsort(-wrongness(scored, predicted, threshold), kind="stable") if kind != "all rows" else None
    chosen = (order[keep[order]] if order is not None else np.flatnonzero(keep))[:rows]
    table = labelled(scored, X, predicted, chosen)
    return table, _browse_sentence(scored, predicted, inside, keep, group, kind, len(chosen))


def _browse_sentence(scored: Scored, predicted: np.ndarray, inside: np.ndarray, keep: np.ndarray,
                     group: tuple[str, str] | None, kind: str, shown: int) -> str:
    where = f"{group[0]} = {group[1]}" if group else "the test split"
    if scored.task == "regression":
        error = float(np.abs(scored.truth - predicted)[inside].mean()) if inside.any() else float("nan")
        quality = f"mean absolute error {number(error)}"
    else:
        wrong = int((scored.truth != predicted)[inside].sum())
        quality = f"{number(wrong)} misclassified ({percent(wrong / max(int(inside.sum()), 1))})"
    return (f"{number(int(inside.sum()))} rows in {where}, {quality}; {number(int(keep.sum()))} {COUNTED.get(kind, kind)}, "
            f"showing {number(shown)}{', most wrong first' if kind != 'all rows' else ''}.")


def group_errors(scored: Scored, X: pd.DataFrame, threshold: float | None, columns: list[str]) -> pd.DataFrame:
    """Per level of each group column: rows, and errors (binary: false positives and negatives) or the mean error."""
    predicted = predicted_at(scored, threshold)
    wrong = scored.truth != predicted
    rows = []
    for column in columns:
        banded = levels(X[column]).to_numpy()
        for level in pd.unique(banded):
            inside = banded == level
            row: dict[str, Any] = {"column": column, "group": level, "rows": number(int(inside.sum()))}
            if scored.task == "regression":
                row["mean absolute error"] = number(float(np.abs(scored.truth - predicted)[inside].mean()))
            else:
                row["error rate"] = percent(float(wrong[inside].mean()))
            if scored.task == "binary":
                row["false positives"] = number(int((wrong & (predicted == 1))[inside].sum()))
                row["false negatives"] = number(int((wrong & (predicted == 0))[inside].sum()))
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class ErrorBrowser:
    """Browse the test rows the model gets wrong, in the whole split or one group, at the slider's threshold."""

    scored: Scored
    X: pd.DataFrame
    groups: list[str]
    controls: dict[str, Any]
    view: Any
    box: Any
    follow: ThresholdPanel | None = None
    shown: pd.DataFrame = field(default_factory=pd.DataFrame)
    bands: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def banded(self, column: str) -> np.ndarray:
        """A group column's levels (numbers in quantile bands), computed once."""
        if column not in self.bands:
            self.bands[column] = levels(self.X[column]).to_numpy()
        return self.bands[column]

    @property
    def threshold(self) -> float | None:
        """The slider's threshold when following one, else the chosen one."""
        return float(self.follow.slider.value) if self.follow is not None else self.scored.threshold

    def group_choices(self, change: Any = None) -> None:
        """Offer the levels of the chosen group column, then browse."""
        column = self.controls["column"].value
        banded = None if column == EVERY_ROW else pd.Series(self.banded(str(column)), index=self.X.index)
        options = [EVERY_ROW] if banded is None else level_order(banded, self.X[column])
        self.controls["group"].options = options  # resets the value to the first option, which browses once
        self.update()

    def update(self, change: Any = None) -> None:
        """List the chosen rows."""
        column, level = self.controls["column"].value, self.controls["group"].value
        group = None if column == EVERY_ROW or level is None else (str(column), str(level))
        banded = self.banded(group[0]) if group else None
        self.shown, sentence = browse(self.scored, self.X, self.threshold, str(self.controls["kind"].value), group,
                                      banded=banded)
        self.view.value = f"<p>{html.escape(sentence)}</p>{tables.html(self.shown)}"

    def static(self) -> str:
        """The most wrong rows of each kind and the errors per group, at the chosen threshold."""
        parts = []
        for kind in STATIC_KINDS[self.scored.task]:
            table, sentence = browse(self.scored, self.X, self.scored.threshold, kind, rows=STATIC_ROWS)
            parts.append(f"<h4>{html.escape(kind.capitalize())}</h4><p>{html.escape(sentence)}</p>{tables.html(table)}")
        if self.groups:
            parts.append(f"<h4>Errors per group</h4>{tables.html(group_errors(self.scored, self.X, self.scored.threshold, self.groups))}")
        return f'<div class="mlw-error-browser-static">{"".join(parts)}</div>'

    def text(self) -> str:
        """A one-line summary, for headless output."""
        return f"Error browser over {self.scored.n_rows:,} test rows: {', '.join(KINDS[self.scored.task])}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _bundle(self.box, self.text(), self.static(), **kwargs)


def error_browser(scored: Scored, X_test: pd.DataFrame, group_columns: list[str],
                  follow: ThresholdPanel | NotePanel | None = None) -> ErrorBrowser:
    """A browser over the test rows (in `scored`'s order): which kind of error, in which group; binary tasks follow
    the threshold slider `follow` when given."""
    import ipywidgets as widgets

    groups = [str(c) for c in group_columns if c in X_test.columns]
    controls = {
        "kind": widgets.Dropdown(description="show", options=KINDS[scored.task], style=STYLE),
        "column": widgets.Dropdown(description="group column", options=[EVERY_ROW, *groups], style=STYLE),
        "group": widgets.Dropdown(description="group", options=[EVERY_ROW], style=STYLE),
    }
    view = widgets.HTML()
    view.add_class("mlw-error-browser-rows")
    box = widgets.VBox([widgets.HBox(list(controls.values())), view])
    box.add_class("mlw-error-browser")
    panel = ErrorBrowser(scored, X_test.reset_index(drop=True), groups, controls, view, box,
                         follow if isinstance(follow, ThresholdPanel) else None)
    panel.update()
    controls["column"].observe(panel.group_choices, names="value")
    for name in ("kind", "group"):
        controls[name].observe(panel.update, names="value")
    if panel.follow is not None:
        panel.follow.slider.observe(panel.update, names="value")
    return panel
