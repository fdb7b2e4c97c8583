"""Presentation for stage `monitor`: the verdict, the tables and the reference-vs-current plots."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlworkflow import io
from mlworkflow.params import MonitorParams
from mlworkflow.stages import monitor
from mlworkflow.stages import monitor_sources as sources
from mlworkflow.views import monitor as view
from mlworkflow.views import plots
from tests import servekit as kit


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> monitor.Assessment:
    """The tiny model's training rows against unseen rows whose ages moved up by 25 years."""
    root = tmp_path_factory.mktemp("monitor-views")
    tiny = kit.tiny_model(root / "models")
    tiny.train.to_csv(root / "reference.csv", index=False)
    tiny.rows.assign(age=tiny.rows["age"] + 25).to_csv(root / "current.csv", index=False)
    params = MonitorParams(model="tiny@champion", registry=str(root / "models"), reference=str(root / "reference.csv"),
                           current=str(root / "current.csv"), min_rows=20, chunks=3)
    result = monitor.assess(params, sources.resolve(params, io.Artifacts(root / "artifacts")), seed=0)
    assert isinstance(result, monitor.Assessment)
    return result


def test_verdict_markdown_is_a_heading_and_one_bullet_per_reason(shifted: monitor.Assessment) -> None:
    text = view.verdict_markdown(shifted)
    assert text.startswith(f"### Verdict: **{shifted.verdict.status}**\n\n- ")
    assert text.count("\n- ") == len(shifted.verdict.reasons)


def test_tables_for_the_notebook(shifted: monitor.Assessment) -> None:
    sources = view.sources_table(shifted)
    assert sources["model"] == "tiny" and sources["current rows"] == "400" and sources["reference"] == "reference.csv"
    shown = view.display_table(shifted.table)
    assert shown.loc["age", "drifted"] == "yes" and {"PSI", "KS", "p (BH)", "missing"} <= set(shown.columns)
    stable = shown[shown["drifted"] != "yes"]
    assert len(stable) and set(stable["drifted"]) == {"no"} and set(stable["why"]) == {"—"}  # no blank cells
    assert set(shown["method"]) <= {"significance test", "effect size"}
    assert set(shown["measure"]) <= {"Wasserstein (in SDs)", "Jensen–Shannon"}
    performance = view.performance_table(shifted)
    assert "expected" in performance.columns and performance.index[-1] == "all"
    assert view.headline_table(shifted)["value"].to_dict() == monitor.headline(shifted)


def test_plots_return_figures(shifted: monitor.Assessment) -> None:
    drifted = view.plot_drifted(shifted)
    assert isinstance(drifted, Figure) and "age" in [ax.get_title() for ax in drifted.axes if ax.get_visible()]
    assert isinstance(view.plot_prediction(shifted), Figure)
    performance = view.plot_performance(shifted, 0.05)
    assert isinstance(performance, Figure)
    ax = performance.axes[0]
    name = view.metric_label(shifted.metric)
    assert ax.get_ylabel() == name and ax.get_title() == f"{name} over time" and "_" not in name
    assert not ax.patches  # the tolerance is a line, not a band over most of the axes
    assert any("5% tolerance" in text.get_text() for text in ax.get_legend().get_texts())


def test_a_categorical_panel_shows_the_most_frequent_levels() -> None:
    from mlworkflow.core import drift

    reference = drift.summarize_categorical(pd.Series(list("aaabbc")))
    current = drift.summarize_categorical(pd.Series(list("abbbbd")))
    figure, (ax,) = plots.row(1)
    view.plot_categorical(ax, "letters", reference, current, top=3)
    assert isinstance(figure, Figure) and len(ax.get_yticks()) == 3 and ax.get_title() == "letters"


def test_drift_panels_keep_long_category_labels_whole_and_share_one_legend_above_them() -> None:
    from mlworkflow.core import drift

    names = ["Machine-op-inspct", "Married-spouse-absent", "a"]
    reference = drift.summarize_categorical(pd.Series(names * 3))
    current = drift.summarize_categorical(pd.Series(names[:2] * 4))
    figure, (ax,) = plots.row(1)
    view.plot_categorical(ax, "job", reference, current)
    shown = [tick.get_text() for tick in ax.get_yticklabels()]
    assert "Married-spouse-\nabsent" in shown and "Machine-op-\ninspct" in shown and "a" in shown  # wrapped, not cut
    view.shared_legend(figure, ax)
    assert ax.get_legend() is None and [t.get_text() for t in figure.legends[0].get_texts()] == ["reference", "current"]
