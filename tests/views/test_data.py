"""Presentation for stage `data`: the profile's plots and the table of flagged columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlworkflow.core.target import Target
from mlworkflow.stages import data
from mlworkflow.views import data as view
from tests.stages.test_data import frame_for, target_of


def test_flag_table(tmp_path: Path) -> None:
    frame = frame_for("binary").assign(copy=lambda d: d["y"])
    target = target_of(frame, tmp_path)
    result = data.profile(frame, target, 0.98, seed=0)
    assert view.flag_table(result)[["flag", "column"]].values.tolist() == [
        ["identifier", "id"], ["identifier", "note"], ["leak", "copy"]]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_plots_return_figures_for_every_task(tmp_path: Path, task: str) -> None:
    frame = frame_for(task)
    frame.loc[[0, 5], "colour"] = None
    target = target_of(frame, tmp_path)
    result = data.profile(frame, target, 0.98, 0)
    figures = {
        "missing": view.plot_missing(result.columns),
        "target": view.plot_target(frame, target),
        "numeric": view.plot_numeric(frame, target, exclude=tuple(result.identifiers)),
        "categories": view.plot_categories(result.categories, exclude=tuple(result.identifiers)),
        "correlations": view.plot_correlations(result.pearson, result.spearman),
        "leaks": view.plot_leak_scores(result.leak_scores, 0.98),
    }
    assert all(isinstance(figure, Figure) for figure in figures.values())
    visible = [ax for ax in figures["numeric"].axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["x", "k"]
    assert [ax.get_title() for ax in figures["categories"].axes if ax.get_visible()] == ["colour (4 levels)"]
    legend = visible[0].get_legend()
    assert (legend is None) == (task == "regression")


def test_plots_cope_with_nothing_to_show() -> None:
    frame = pd.DataFrame({"y": ["a", "b"] * 10})
    target = Target("y", "binary", ("a", "b"), "b")
    assert "no missing values" in view.plot_missing(data.column_table(frame)).axes[0].texts[0].get_text()
    assert "no numeric features" in view.plot_numeric(frame, target).axes[0].texts[0].get_text()
    empty = data.category_table(frame, target)
    assert "no categorical features" in view.plot_categories(empty).axes[0].texts[0].get_text()


def test_role_table_lists_every_column_with_its_reason(tmp_path: Path) -> None:
    frame = frame_for("binary")
    result = data.profile(frame, target_of(frame, tmp_path), 0.98, seed=0)
    table = view.role_table(result)
    assert list(table.index) == ["id", "x", "k", "colour", "note"]
    assert table.loc["id", "role"] == "identifier" and table.loc["colour", "reason"] == "categories (3 levels)"
    assert table.loc["x", "reason"] == "numbers (number)"  # core.roles wrote 'numbers (float64)'


def test_the_column_table_says_what_each_column_holds_in_words(tmp_path: Path) -> None:
    frame = frame_for("binary")
    result = data.profile(frame, target_of(frame, tmp_path), 0.98, seed=0)
    table = view.column_table(result)
    assert list(table.columns) == ["holds", "missing", "missing share", "distinct"]
    assert table["holds"].to_dict() == {"id": "whole number", "x": "number", "k": "whole number", "colour": "text",
                                        "note": "text", "y": "text"}
    assert result.columns["dtype"].iloc[0] == "int64"  # the record keeps the dtype


def test_density_histograms_hide_their_meaningless_scale_and_heatmap_numbers_are_legible(tmp_path: Path) -> None:
    frame = frame_for("binary")
    target = target_of(frame, tmp_path)
    result = data.profile(frame, target, 0.98, seed=0)
    ax = view.plot_numeric(frame, target).axes[0]
    assert not ax.yaxis.get_tick_params()["labelleft"]
    heatmap = view.plot_correlations(result.pearson, result.spearman).axes[0]
    assert heatmap.texts and min(text.get_fontsize() for text in heatmap.texts) >= 9


def test_the_reading_table_says_how_a_csv_and_a_sql_source_were_parsed() -> None:
    from mlworkflow.records import ReadReport

    csv = ReadReport(format="csv", sep=";", sep_from="sniffed", encoding="latin-1", missing=["", "NA"],
                     thousands=".", decimal=",", dates={"when": "%d.%m.%Y"})
    table = view.reading_table(csv)["how"]
    assert table["separator"] == "semicolon (sniffed from the first lines)" and table["encoding"] == "latin-1"
    assert table["read as missing"] == "'', 'NA'" and table["numbers"] == "decimal ',', thousands '.'"
    assert table["parsed as times"] == "when (%d.%m.%Y)"
    sql = view.reading_table(ReadReport(format="sql"))["how"]
    assert list(sql.index) == ["format", "parsed as times"] and sql["format"] == "sql"


def test_histograms_of_a_large_frame_draw_a_seeded_sample_and_say_so() -> None:
    rows = view.PLOT_ROWS + 5000
    frame = pd.DataFrame({"x": range(rows), "y": ["a", "b"] * (rows // 2)})
    target = Target("y", "binary", ("a", "b"), "b")
    figure = view.plot_numeric(frame, target, seed=3)
    assert figure.get_suptitle() == f"a sample of {view.PLOT_ROWS:,} of {rows:,} rows (seed 3)"
    assert view.plot_numeric(frame.head(100), target).get_suptitle() == ""


def test_the_class_bars_count_every_row() -> None:
    frame = pd.DataFrame({"y": ["a"] * 7 + ["b"] * 3})
    bars = view.plot_target(frame, Target("y", "binary", ("a", "b"), "b")).axes[0].patches
    assert sorted(round(bar.get_width()) for bar in bars) == [3, 7]


def test_category_labels_are_legible_and_long_levels_wrap_and_keep_their_bars() -> None:
    long, alike = "Married-civ-spouse-absent-for-years", "Married-civ-spouse-absent-for-months"
    categories = pd.DataFrame({"column": ["status"] * 3, "level": [long, alike, "Single"], "rows": [5, 4, 3], "levels": [3] * 3})
    ax = view.plot_categories(categories).axes[0]
    labels = ax.get_yticklabels()
    assert [label.get_text() for label in labels] == ["Married-civ-\nspouse-absent-…", "Married-civ-\nspouse-absent-… #2", "Single"]
    assert sorted(round(bar.get_width()) for bar in ax.patches) == [3, 4, 5]  # two levels cut alike are not one bar
    assert min(label.get_fontsize() for label in labels) >= 10
