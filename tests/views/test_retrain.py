"""Plots of the retrain report: champion vs challenger per metric, old vs new rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlworkflow.params import MonitorParams
from mlworkflow.views import retrain as view
from tests import servekit as kit


def test_the_gate_metrics_come_first_each_on_its_own_panel() -> None:
    rows = [{"metric": m, "better": "higher", "champion": v, "champion_low": v - 0.01, "champion_high": v + 0.01,
             "challenger": v + 0.02, "challenger_low": v + 0.01, "challenger_high": v + 0.03} for m, v in
            (("accuracy", 0.8), ("roc_auc", 0.9))]
    figure = view.gain_figure(pd.DataFrame(rows).set_index("metric"), ["roc_auc"])
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == ["ROC AUC (higher is better)", "Accuracy (higher is better)"]


def test_the_drifted_features_are_drawn_first(tmp_path: Path) -> None:
    tiny = kit.tiny_model(tmp_path)
    figure = view.drift_figure(tiny.train, tiny.rows.assign(age=tiny.rows["age"] + 25), tiny.model.contract, MonitorParams())
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert shown[0].get_title() == "age (drifted)" and len(shown) <= view.SHOWN
    assert shown[0].get_legend() is None  # one legend above the panels, covering no bar
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["old rows", "new rows"]
