"""Tests for the data explorer: drive its controls from Python as a user would in JupyterLab."""

from __future__ import annotations

from pathlib import Path

import ipywidgets
import numpy as np
import pandas as pd
import pytest

from mlworkflow.core.target import Target
from mlworkflow.stages import data
from mlworkflow.views import explore
from tests.stages.test_data import frame_for, target_of


def explored(tmp_path: Path, task: str = "binary") -> tuple[pd.DataFrame, Target, data.Profile]:
    frame = frame_for(task).assign(empty=np.nan, gappy=lambda d: d["x"].where(d.index % 4 == 0))
    frame = frame.assign(copy=frame["y"]) if task == "binary" else frame
    target = target_of(frame, tmp_path)
    return frame, target, data.profile(frame, target, 0.98, seed=0)


def panel_for(tmp_path: Path, task: str = "binary") -> explore.DataExplorer:
    panel = explore.data_explorer(*explored(tmp_path, task), seed=0)
    assert isinstance(panel, explore.DataExplorer)
    return panel


def test_flagged_columns_name_identifiers_constants_leaks_and_gaps(tmp_path: Path) -> None:
    flags = explore.flagged_columns(explored(tmp_path)[2])
    assert set(flags) == {"id", "note", "empty", "copy", "gappy"}
    assert flags["copy"].startswith("leak:") and flags["empty"].startswith("constant:")
    assert flags["gappy"] == "mostly missing: 75.0% of rows have no value"


def test_ranked_columns_put_the_best_predictor_first_and_useless_ones_last(tmp_path: Path) -> None:
    ranked = explore.ranked_columns(explored(tmp_path)[2])
    assert ranked[0] == "copy"
    assert set(ranked[-3:]) == {"id", "note", "empty"}


def test_picking_another_column_redraws_its_plot_and_table(tmp_path: Path) -> None:
    panel = panel_for(tmp_path)
    plot, table = panel.views["column_plot"].value, panel.views["column_table"].value
    assert bytes(plot).startswith(b"\x89PNG")
    panel.controls["column"].value = "x"
    assert panel.views["column_plot"].value != plot and panel.views["column_table"].value != table
    assert "share yes" in panel.views["column_table"].value
    panel.controls["column"].value = "colour"
    assert all(level in panel.views["column_table"].value for level in ("red", "green", "blue"))


def test_class_rates_count_every_row_per_level(tmp_path: Path) -> None:
    frame, target, _ = explored(tmp_path)
    table = explore.class_rates(frame, target, "colour")
    assert sorted(table["colour"]) == ["blue", "green", "red"]
    red = frame["colour"] == "red"
    row = table.set_index("colour").loc["red"]
    assert row["rows"] == f"{int(red.sum()):,}"
    assert row["share yes"] == f"{(frame.loc[red, 'y'] == 'yes').mean() * 100:.1f}%"


def test_numbers_are_banded_low_to_high_with_missing_last() -> None:
    values = pd.Series([float(i) for i in range(100)] + [np.nan])
    banded = explore.levels(values)
    order = explore.level_order(banded, values)
    assert order[0].startswith("0 ") and order[-1] == explore.MISSING and len(order) == explore.BANDS + 1


def test_filter_on_a_range_then_on_levels(tmp_path: Path) -> None:
    panel = panel_for(tmp_path)
    panel.controls["filter_column"].value = "x"
    assert isinstance(panel.controls["condition"].children[0], ipywidgets.FloatRangeSlider)
    everything = panel.views["filter"].value
    panel.controls["range"].value = (0.0, panel.controls["range"].max)
    assert panel.condition == explore.Condition("x", 0.0, panel.controls["range"].max)
    kept = int((panel.drawn.frame["x"] >= 0.0).sum())
    assert f"<td>{kept}</td>" in panel.views["filter"].value and panel.views["filter"].value != everything
    panel.controls["filter_column"].value = "colour"
    assert isinstance(panel.controls["condition"].children[0], ipywidgets.SelectMultiple)
    panel.controls["levels"].value = ("red", "blue")
    assert panel.condition == explore.Condition("colour", chosen=("red", "blue"))
    assert "colour is red or blue" in panel.views["filter"].value


def test_filter_summary_compares_kept_rows_with_all() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": ["no", "yes", "yes", "yes"]})
    target = Target("y", "binary", ("no", "yes"), "yes")
    table = explore.filter_summary(frame, target, explore.Condition("a", 1.0, 2.0))
    assert table.to_dict("list") == {"rows": ["2", "4"], "share of rows": ["50.0%", "100.0%"],
                                     "share yes": ["50.0%", "75.0%"]}


def test_crossing_two_columns_redraws_the_heatmap(tmp_path: Path) -> None:
    panel = panel_for(tmp_path)
    before = panel.views["cross"].value
    panel.controls["first"].value, panel.controls["second"].value = "colour", "k"
    assert panel.views["cross"].value != before
    table = explore.cross_table(panel.drawn.frame, panel.drawn.target, "colour", "k")
    frame = panel.drawn.frame
    inside = (frame["colour"] == "red") & (frame["k"] == 2)
    assert table.loc["red", "2"] == pytest.approx((frame.loc[inside, "y"] == "yes").mean())


def test_each_flagged_column_shows_why(tmp_path: Path) -> None:
    panel = panel_for(tmp_path)
    panel.controls["flag"].value = "copy"
    assert "<b>copy</b> — leak:" in panel.views["flag"].value
    panel.controls["flag"].value = "gappy"
    assert "mostly missing" in panel.views["flag"].value and "(missing)" in panel.views["flag"].value


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_explore_too(tmp_path: Path, task: str) -> None:
    panel = panel_for(tmp_path, task)
    before = panel.views["column_plot"].value
    panel.controls["column"].value = "x" if panel.controls["column"].value != "x" else "colour"
    assert panel.views["column_plot"].value != before
    heading = "mean y" if task == "regression" else "most frequent class"
    assert heading in panel.views["column_table"].value


def test_static_report_carries_the_top_columns_the_cross_and_the_flags(tmp_path: Path) -> None:
    panel = panel_for(tmp_path)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    top = [c for c in panel.ranked if c not in panel.flags][: explore.TOP_COLUMNS]
    assert all(f"<h5>{column}</h5>" in static for column in top)
    assert f"{top[0]} crossed with {top[1]}" in static
    assert all(f"<b>{column}</b>" in static for column in panel.flags)
    assert static.count("data:image/png;base64,") == len(top) + 1 + len(panel.flags)
    assert bundle["text/plain"].startswith(f"Data explorer over {len(panel.ranked)} columns")
    assert panel._repr_mimebundle_()["text/html"] == static  # drawn once, the same bytes every time


def test_plots_sample_a_large_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=explore.PLOT_ROWS * 2), "y": rng.choice(["a", "b"], explore.PLOT_ROWS * 2)})
    figure = explore.plot_column(frame, Target("y", "binary", ("a", "b"), "b"), "x")
    assert f"a sample of {explore.PLOT_ROWS:,} of {explore.PLOT_ROWS * 2:,} rows" in figure.axes[0].get_title()


def test_nothing_to_explore_without_features() -> None:
    frame = pd.DataFrame({"y": ["a", "b"] * 5})
    profile = data.Profile(*(pd.DataFrame(columns=["missing share"]),) * 7)
    note = explore.data_explorer(frame, Target("y", "binary", ("a", "b"), "b"), profile)
    assert note._repr_markdown_() == "Nothing to explore: the data has no column besides the target."
