"""Plots of a run comparison, every run on one set of axes: the deciding metric with intervals, ROC curves."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.scoring import Scored
from mlworkflow.views import plots
from mlworkflow.views.labels import metric_label


def png(figure: Figure) -> str:
    """A figure as a base64 PNG for an offline page, as a stage page shows one: readable ticks, a small PNG."""
    buffer = io.BytesIO()
    plots.readable(figure).savefig(buffer, format="png", dpi=110)
    return base64.b64encode(plots.small_png(buffer.getvalue())).decode("ascii")


def metric_figure(intervals: Mapping[str, Interval], metric: str) -> Figure:
    """The deciding metric of each run with its interval, one row per run (best first), on one axis."""
    names = list(intervals)
    values = np.array([intervals[n].value for n in names])
    errors = np.array([[intervals[n].value - intervals[n].low for n in names],
                       [intervals[n].high - intervals[n].value for n in names]])
    figure = Figure(figsize=(7.0, 0.9 + 0.45 * len(names)), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(names))
    ax.errorbar(values, positions, xerr=errors, fmt="o", color="C0", capsize=4)
    ax.set_yticks(positions, names, fontsize="small")
    ax.invert_yaxis()
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.set(xlabel=f"{metric_label(metric)} on the test rows (95% interval)")
    ax.grid(axis="x", color="0.9")
    return figure


def roc_figure(scored: Mapping[str, Scored]) -> Figure:
    """Every binary run's ROC curve on one axes (the same rows make them directly comparable)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = figure.subplots()
    for n, (name, one) in enumerate(scored.items()):
        fpr, tpr, _ = roc_curve(one.truth, one.scores)
        ax.plot(fpr, tpr, color=f"C{n}", label=f"{name} (AUC {roc_auc_score(one.truth, one.scores):.3f})")
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title="ROC curves")
    ax.legend(fontsize="small", loc="lower right")
    return figure


def shared_plots(intervals: Mapping[str, Interval], metric: str, scored: Sequence[tuple[str, Scored]]) -> dict[str, str]:
    """The comparison's own plots as PNGs by title: the metric chart, and ROC curves when every run is binary."""
    plots = {f"{metric_label(metric)}, every run": png(metric_figure(intervals, metric))} if intervals else {}
    if len(scored) > 1 and all(one.task == "binary" and one.truth.size for _, one in scored):
        plots["ROC curves, every run"] = png(roc_figure(dict(scored)))
    return plots
