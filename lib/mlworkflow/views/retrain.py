"""Plots of a retrain's report: champion vs challenger on each metric, and how the new rows differ from the old."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mlworkflow.bundle.contract import Contract
from mlworkflow.core import drift
from mlworkflow.params import MonitorParams
from mlworkflow.stages import monitor
from mlworkflow.views import monitor as monitor_views
from mlworkflow.views import plots
from mlworkflow.views.labels import metric_label

SHOWN = 6


def gain_figure(table: pd.DataFrame, first: Sequence[str] = ()) -> Figure:
    """Champion and challenger with intervals on each metric, one panel per metric (each on its own scale)."""
    names = [*[m for m in first if m in table.index], *[m for m in table.index if m not in first]][:9]
    figure, axes = plots.grid(len(names), size=(3.2, 1.6))
    for ax, name in zip(axes, names, strict=False):
        row = table.loc[name]
        for y, who, color in ((1, "champion", "C0"), (0, "challenger", "C2")):
            value = float(row[who])
            error = [[value - float(row[f"{who}_low"])], [float(row[f"{who}_high"]) - value]]
            ax.errorbar([value], [y], xerr=error, fmt="o", color=color, capsize=4)
        ax.set_yticks([0, 1], ["challenger", "champion"], fontsize="small")
        ax.set_ylim(-0.6, 1.6)
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        ax.set_title(f"{metric_label(name)} ({row['better']} is better)", fontsize="small")
    return figure


def drift_table(old: pd.DataFrame, new: pd.DataFrame, contract: Contract, params: MonitorParams) -> tuple[
        pd.DataFrame, dict[str, drift.Summary], dict[str, drift.Summary]]:
    """The drift of the new rows against the old on the model's inputs, and both profiles."""
    numeric, categorical = monitor.features(contract)
    markers = params.missing_markers
    before = drift.profile(monitor.clean(old, contract, markers), numeric, categorical)
    after = drift.profile(monitor.clean(new, contract, markers), numeric, categorical)
    return drift.compare(before, after, monitor.drift_settings(params)), before, after


def drift_figure(old: pd.DataFrame, new: pd.DataFrame, contract: Contract, params: MonitorParams) -> Figure:
    """Old vs new rows for the features that moved most (the drifted first, at most six)."""
    table, before, after = drift_table(old, new, contract, params)
    order = table.assign(rank=np.where(table["drifted"], 0, 1)).sort_values(["rank", "effect"], ascending=[True, False])
    chosen = list(order["column"][:SHOWN])
    figure, axes = plots.grid(len(chosen), size=monitor_views.PANEL)
    for ax, name in zip(axes, chosen, strict=False):
        one, two = before[name], after[name]
        if isinstance(one, drift.NumericSummary) and isinstance(two, drift.NumericSummary):
            monitor_views.plot_numeric(ax, name, one, two)
        elif isinstance(one, drift.CategoricalSummary) and isinstance(two, drift.CategoricalSummary):
            monitor_views.plot_categorical(ax, name, one, two)
        moved = bool(table.set_index("column").loc[name, "drifted"])
        ax.set_title(f"{name}{' (drifted)' if moved else ''}", fontsize="small")
    if chosen:
        monitor_views.shared_legend(figure, axes[0], ["old rows", "new rows"])
    return figure
