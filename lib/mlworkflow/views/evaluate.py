"""Presentation for stage `evaluate`: readable metric and threshold tables, styled groups, the plots, the what-if row."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from mlworkflow.core import metrics
from mlworkflow.core.calibration import PRIOR
from mlworkflow.core.scoring import Scored
from mlworkflow.stages.evaluate import (
    MIN_GROUP_ROWS,
    ThresholdChoice,
    calibration_table,
    metrics_at,
    reliability_points,
    table_interval,
    threshold_range,
)
from mlworkflow.views import plots


def format_table(table: pd.DataFrame, decided: str) -> pd.DataFrame:
    """A readable metric table: 'value [low, high]' strings, which way is better, the deciding metric."""
    names = list(table.index)
    return pd.DataFrame({
        "model": [str(table_interval(table, name)) for name in names],
        "baseline": [str(table_interval(table, name, "baseline")) for name in names],
        "model − baseline": [str(table_interval(table, name, "delta")) for name in names],
        "better": [metrics.better(name) for name in names],
        "decides": ["◀" if name == decided else "" for name in names],
    }, index=pd.Index(names, name="metric"))


def threshold_summary(choice: ThresholdChoice) -> pd.DataFrame:
    """The threshold choice as a one-row table."""
    return pd.DataFrame([{
        "rule": choice.rule, "threshold": choice.threshold, "rule met": choice.met,
        "precision (oof)": choice.precision, "recall (oof)": choice.recall, "F1 (oof)": choice.f1,
        "note": choice.note, "chosen on": choice.scores or None,
    }]).dropna(axis=1, how="all").round(4)


def threshold_grid(scored: Scored, steps: int = 19) -> pd.DataFrame:
    """Precision, recall, F1 and counts over a grid of thresholds (plus the chosen one), for static reports."""
    if scored.task != "binary":
        return pd.DataFrame({"note": [f"{scored.task}: no decision threshold"]})
    low, high = threshold_range(scored)
    grid = np.linspace(low, high, steps + 2)[1:-1]
    chosen = float(scored.threshold) if scored.threshold is not None else float(grid[steps // 2])
    rows = [metrics_at(scored.truth, scored.scores, float(t)) for t in sorted({*np.round(grid, 4), chosen})]
    table = pd.DataFrame(rows)
    table["chosen"] = np.where(np.isclose(table["threshold"], chosen), "◀", "")
    return table.astype({name: int for name in ("tn", "fp", "fn", "tp")}).round(4)


def _gap_styles(column: pd.Series, reference: float, tolerance: float, small: pd.Series) -> list[str]:
    far = ((column - reference).abs() > tolerance) & ~small
    return ["background-color: #fde2a7; font-weight: bold" if flag else "" for flag in far]


def style_groups(table: pd.DataFrame, tolerance: float) -> Styler:
    """The group table with gaps beyond tolerance highlighted (a fixed uuid keeps the HTML stable)."""
    names = [c for c in table.columns if c not in ("column", "group", "n", "gap", "flag")]
    small = (table["n"] < MIN_GROUP_ROWS) | (table["column"] == "(all)")
    styler = table.style.hide(axis="index").format(precision=3, na_rep="n/a").set_uuid("mlw-groups")
    styler = styler.apply(_gap_styles, subset=["gap"], reference=0.0, tolerance=tolerance, small=small)
    for name in names:
        reference = float(table[name].iloc[0])
        styler = styler.apply(_gap_styles, subset=[name], reference=reference, tolerance=tolerance, small=small)
    return styler


def plot_errors(scored: Scored) -> Figure:
    """Confusion matrix (counts and row shares), or residuals for regression."""
    if scored.task == "regression":
        return _plot_residuals(scored)
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axes = plots.row(2)
    labels = np.array(scored.labels)
    truth, predicted = labels[scored.truth.astype(int)], labels[scored.predicted.astype(int)]
    for ax, normalize, title in ((axes[0], None, "counts"), (axes[1], "true", "share of each true class")):
        ConfusionMatrixDisplay.from_predictions(
            truth, predicted, labels=list(labels), normalize=normalize, ax=ax, colorbar=False,
            values_format="d" if normalize is None else ".2f", cmap="Blues",
        )
        ax.set_title(f"Confusion matrix: {title}")
        ax.grid(False)
    return figure


def _plot_residuals(scored: Scored) -> Figure:
    figure, (left, right) = plots.row(2)
    residuals = scored.truth - scored.predicted
    left.scatter(scored.predicted, residuals, s=6, alpha=0.4)
    left.axhline(0.0, color="black", linewidth=1)
    left.set(xlabel="predicted", ylabel="actual − predicted", title="Residuals against predictions")
    right.hist(residuals, bins=40)
    right.set(xlabel="actual − predicted", ylabel="rows", title="Residual distribution")
    plots.compact(left, right)
    return figure


def plot_curves(scored: Scored, baseline: Scored) -> Figure:
    """ROC and precision–recall curves against the baseline (one-vs-rest for multiclass), or actual vs predicted."""
    if scored.task == "regression":
        return _plot_actual(scored, baseline)
    from sklearn.metrics import precision_recall_curve, roc_curve

    figure, (roc, pr) = plots.row(2)
    for code, label in enumerate(scored.labels):
        if scored.task == "binary" and code == 0:
            continue
        positive = scored.truth == code
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        fpr, tpr, _ = roc_curve(positive, column)
        precision, recall, _ = precision_recall_curve(positive, column)
        name = "model" if scored.task == "binary" else label
        roc.plot(fpr, tpr, label=name)
        pr.plot(recall, precision, label=name, drawstyle="steps-post")
    _mark_baseline(roc, pr, scored, baseline)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall curve", ylim=(0.0, 1.02))
    roc.legend(loc="lower right", fontsize="small")
    pr.legend(loc="lower left", fontsize="small")
    return figure


def _mark_baseline(roc: Axes, pr: Axes, scored: Scored, baseline: Scored) -> None:
    roc.plot([0, 1], [0, 1], linestyle="--", color="grey", label="baseline")
    if scored.task != "binary":
        return
    prevalence = float(baseline.truth.mean())
    pr.axhline(prevalence, linestyle="--", color="grey", label=f"baseline ({prevalence:.2f})")
    at = metrics_at(scored.truth, scored.scores, float(scored.threshold or 0.0))
    fpr = at["fp"] / max(at["fp"] + at["tn"], 1.0)
    roc.plot([fpr], [at["recall"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")
    pr.plot([at["recall"]], [at["precision"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")


def _plot_actual(scored: Scored, baseline: Scored) -> Figure:
    figure, (ax,) = plots.row(1, width=5.0, height=4.0)
    ax.scatter(scored.truth, scored.predicted, s=6, alpha=0.4, label="model")
    edges = [float(np.min(scored.truth)), float(np.max(scored.truth))]
    ax.plot(edges, edges, color="black", linewidth=1, label="perfect")
    ax.axhline(float(baseline.predicted[0]), linestyle="--", color="grey", label="baseline (mean)")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")
    ax.legend(fontsize="small")
    plots.compact(ax)
    return figure


def plot_calibration(scored: Scored, bins: int = 10) -> Figure:
    """Reliability curve(s) and the score histogram; regression: mean actual per predicted decile."""
    from sklearn.calibration import calibration_curve

    if scored.task == "regression":
        return _plot_binned_means(scored, bins)
    figure, (curve, hist) = plots.row(2)
    if not scored.probabilistic:
        curve.text(0.5, 0.5, "the model gives margins, not probabilities:\nno calibration curve", ha="center")
        return figure
    codes = [1] if scored.task == "binary" else list(range(len(scored.labels)))
    for code in codes:
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        observed, predicted = calibration_curve(scored.truth == code, column, n_bins=bins, strategy="quantile")
        curve.plot(predicted, observed, "o-", label=scored.labels[code])
        hist.hist(column, bins=20, range=(0.0, 1.0), alpha=0.5, label=scored.labels[code])
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    curve.set(xlabel="mean predicted probability", ylabel="observed frequency", title="Calibration (quantile bins)")
    hist.set(xlabel="predicted probability", ylabel="rows", title="Predicted probabilities")
    curve.legend(fontsize="small")
    hist.legend(fontsize="small")
    return figure


def plot_calibration_change(variants: Mapping[str, Scored]) -> Figure:
    """Reliability curves of the model before and after train's calibration (or as kept), and their test losses."""
    figure, (curve, bars) = plots.row(2)
    kept = {name: scored for name, scored in variants.items() if name != PRIOR and scored.probabilistic}
    for name, scored in kept.items():
        points = reliability_points(scored)
        curve.plot(points["predicted"], points["observed"], "o-", label=name)
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    what = "positive class" if next(iter(variants.values())).task == "binary" else "most probable class"
    curve.set(xlabel=f"mean predicted probability ({what})", ylabel="observed frequency", title="Reliability, test split")
    curve.legend(fontsize="small")
    table = calibration_table(variants)
    table.plot.barh(ax=bars)
    bars.set(xlabel="lower is better", title="Test log-loss and Brier score")
    bars.invert_yaxis()
    return figure


def _plot_binned_means(scored: Scored, bins: int) -> Figure:
    figure, (ax,) = plots.row(1, width=5.0, height=4.0)
    edges = np.unique(np.quantile(scored.predicted, np.linspace(0, 1, bins + 1)))
    codes = np.clip(np.searchsorted(edges, scored.predicted, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": codes, "predicted": scored.predicted, "actual": scored.truth})
    means = frame.groupby("bin")[["predicted", "actual"]].mean()
    ax.plot(means["predicted"], means["actual"], "o-", label="model")
    low, high = float(means.to_numpy().min()), float(means.to_numpy().max())
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted (decile)", ylabel="mean actual", title="Calibration by predicted decile")
    ax.legend(fontsize="small")
    plots.compact(ax)
    return figure


def importance_rows_note(rows: int, test_rows: int, seed: int) -> str:
    """Which test rows permutation importance shuffled: all, or the seeded sample's size."""
    if rows >= test_rows:
        return f"all {test_rows:,} test rows"
    return f"a sample of {rows:,} of the {test_rows:,} test rows (stratified by class, seed {seed})"


def plot_importance(table: pd.DataFrame, top: int = 15, rows: str = "") -> Figure:
    """Horizontal bars of permutation importance with one standard deviation; `rows` says which rows were shuffled."""
    shown = table.head(top).iloc[::-1]
    figure, (ax,) = plots.row(1, width=7.0, height=0.3 * len(shown) + 1.2)
    ax.barh(shown["feature"], shown["importance"], xerr=shown["std"], color="#4c72b0")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set(xlabel="drop in the deciding metric when shuffled", title="Permutation importance (test split)")
    if rows:
        ax.set_title(f"on {rows}", fontsize=8, loc="right")
    return figure


def terms_table(terms: pd.DataFrame) -> pd.DataFrame | str:
    """The telling terms side by side, one column per class ('term (weight)'), or a sentence when there are none."""
    if terms.empty:
        return "No term weights to show: the model is not linear on TF-IDF terms, or the data has no text column."
    cells = terms.assign(cell=[f"{t} ({w:+.2f})" for t, w in zip(terms["term"], terms["weight"], strict=True)])
    cells["rank"] = cells.groupby("class").cumcount() + 1
    return cells.pivot(index="rank", columns="class", values="cell").fillna("").rename_axis(columns=None)


def example_row(X: pd.DataFrame) -> pd.DataFrame:
    """The first row without missing values (else the first row), as a one-row frame."""
    complete = X.notna().all(axis=1).to_numpy()
    index = int(np.argmax(complete)) if complete.any() else 0
    return X.iloc[[index]].reset_index(drop=True)

