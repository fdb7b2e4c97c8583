"""Figure layouts shared by the stage views."""

from __future__ import annotations

import base64
import io

import IPython
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter
from PIL import Image

from mlworkflow.views import plots


def test_grid_wraps_panels_into_rows_and_hides_the_unused_cells() -> None:
    figure, axes = plots.grid(4)
    assert len(axes) == 6
    assert [ax.get_visible() for ax in axes] == [True] * 4 + [False] * 2
    assert tuple(figure.get_size_inches()) == (3.4 * 3, 2.6 * 2)


def test_grid_of_one_panel_or_none_is_one_cell_wide() -> None:
    assert tuple(plots.grid(1)[0].get_size_inches()) == (3.4, 2.6)
    _, axes = plots.grid(0)
    assert len(axes) == 1 and not axes[0].get_visible()


def test_row_and_compact() -> None:
    figure, axes = plots.row(2, width=6.0, height=3.0)
    assert len(axes) == 2 and tuple(figure.get_size_inches()) == (6.0, 3.0)
    plots.compact(*axes)
    assert all(isinstance(ax.xaxis.get_major_formatter(), EngFormatter) for ax in axes)


def test_short_numbers_have_no_offset_or_scientific_notation() -> None:
    assert [plots.short_number(v) for v in (0, 5e-06, 0.25, 999, 1500, 25_000, 2_500_000, 3e9, -5000)] == [
        "0", "0.000005", "0.25", "999", "1.5k", "25k", "2.5M", "3B", "-5k"]


def test_readable_shortens_and_thins_numeric_ticks_and_leaves_others_alone() -> None:
    figure, (wide, text, logged) = plots.row(3)
    wide.plot([0, 1_000_000], [0, 20_000])
    text.bar(["a", "b"], [1, 2])
    logged.set_xscale("log")
    logged.plot([1, 1000], [1, 2])
    kept = type(logged.xaxis.get_major_locator())
    plots.readable(figure)
    figure.draw_without_rendering()
    low, high = wide.get_xlim()
    labels = [t.get_text() for t in wide.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert 3 <= len(labels) <= 6 and "1M" in labels and not any("e" in label for label in labels)
    assert wide.xaxis.get_offset_text().get_text() == ""
    assert "20k" in [t.get_text() for t in wide.get_yticklabels()]
    assert [t.get_text() for t in text.get_xticklabels()] == ["a", "b"]
    assert type(logged.xaxis.get_major_locator()) is kept  # a log axis keeps its ticks, read as plain numbers
    low, high = logged.get_xlim()
    assert [t.get_text() for t in logged.get_xticklabels() if low <= t.get_position()[0] <= high] == ["1", "10", "100", "1k"]


def test_row_can_share_one_scale() -> None:
    _, (left, right) = plots.row(2, sharey=True)
    left.plot([0, 1], [0, 10])
    right.plot([0, 1], [0, 1])
    assert left.get_ylim() == right.get_ylim()


def test_point_labels_move_apart_instead_of_covering_each_other() -> None:
    figure, (ax,) = plots.row(1, width=6.0, height=4.0)
    points = [(1.0, 0.900), (1.02, 0.901), (1.04, 0.899), (5.0, 0.5)]
    ax.plot(*zip(*points, strict=True), "o")
    plots.label_points(ax, points, ["random forest", "logistic", "knn", "naive bayes"])
    figure.draw_without_rendering()
    boxes = [text.get_window_extent() for text in ax.texts]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_point_label_at_the_right_edge_goes_left_of_its_point_inside_the_frame() -> None:
    figure, (ax,) = plots.row(1, width=6.0, height=4.0)
    points = [(0.0, 0.0), (10.0, 0.5)]
    ax.plot(*zip(*points, strict=True), "o")
    ax.set_xlim(-0.5, 10.2)
    plots.label_points(ax, points, ["left", "Gradient boosting (histogram)"])
    figure.draw_without_rendering()
    frame, label = ax.get_window_extent(), ax.texts[1].get_window_extent()
    assert frame.x0 <= label.x0 and label.x1 <= frame.x1
    assert min(text.get_fontsize() for text in ax.texts) >= 10


def test_register_makes_every_displayed_figure_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = InteractiveShell.instance()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    shown: list[Figure] = []
    shell.display_formatter.formatters["image/png"].for_type(Figure, lambda figure: shown.append(figure) or b"")
    try:
        plots.register()
        plots.register()  # a second stage in the same kernel: still one wrapper
        figure, (ax,) = plots.row(1)
        ax.plot([0, 1_000_000], [0, 1])
        shell.display_formatter.format(figure)
        assert shown == [figure]
        assert isinstance(ax.xaxis.get_major_formatter(), FuncFormatter)
    finally:
        InteractiveShell.clear_instance()


def drawn_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def test_a_small_png_is_the_same_picture_in_fewer_bytes() -> None:
    figure, (ax,) = plots.row(1)
    ax.hist(np.random.default_rng(0).normal(size=500), bins=30)
    ax.set_title("a histogram")
    data = drawn_png(figure)
    small = plots.small_png(data)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(small)) as after:
        assert after.mode == "P" and after.size == before.size
        difference = np.abs(np.asarray(before.convert("RGB"), dtype=int) - np.asarray(after.convert("RGB"), dtype=int))
    assert len(small) < 0.6 * len(data)
    assert difference.mean() < 1.0  # on a 0-255 scale: the eye sees no change
    assert plots.small_png(data) == small  # deterministic, so committed notebooks do not churn


def test_register_makes_a_displayed_png_small(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = InteractiveShell.instance()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: base64.b64encode(drawn_png(figure)).decode("ascii"))
    try:
        plots.register()
        figure, (ax,) = plots.row(1)
        ax.plot([0, 1], [0, 1])
        shown = shell.display_formatter.format(figure)[0]["image/png"]
        with Image.open(io.BytesIO(base64.b64decode(shown))) as image:
            assert image.mode == "P"
    finally:
        InteractiveShell.clear_instance()
    assert plots.small_base64_png(None) is None
    assert plots.small_base64_png((b"retina", {})) == (b"retina", {})


def test_a_log_axis_reads_plain_numbers_on_the_same_ticks() -> None:
    figure, (ax,) = plots.row(1)
    ax.plot([2, 8], [0, 1])
    ax.set_xscale("log")
    figure.draw_without_rendering()
    low, high = ax.get_xlim()

    def shown() -> list[tuple[float, str]]:
        ticks = ax.get_xticklabels(minor=True)
        return [(t.get_position()[0], t.get_text()) for t in ticks if t.get_text() and low <= t.get_position()[0] <= high]

    before = shown()
    plots.readable(figure)
    figure.draw_without_rendering()
    assert before and all("10^{0}" in text for _, text in before)
    assert shown() == [(position, plots.short_number(position)) for position, _ in before]  # same ticks, plain


def test_a_log_axis_over_many_decades_labels_only_its_decades() -> None:
    figure, (ax,) = plots.row(1, width=5.0)
    ax.plot([0.001, 100], [0, 1])
    ax.set_xscale("log")
    plots.readable(figure)
    figure.draw_without_rendering()
    low, high = ax.get_xlim()
    minor = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text() and low <= t.get_position()[0] <= high]
    major = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and low <= t.get_position()[0] <= high]
    assert minor == [], "minor ticks stay unlabelled, as matplotlib leaves them: labels would collide"
    assert major == ["0.001", "0.01", "0.1", "1", "10", "100"]


def test_a_long_level_wraps_over_two_lines_then_is_cut() -> None:
    assert plots.level_label("x" * 40) == "x" * 16 + "\n" + "x" * 16 + "…"
    assert plots.level_label("Single") == "Single"


def test_levels_cut_alike_keep_distinct_labels() -> None:
    alike = ["y" * 40 + "A", "y" * 40 + "B", "short"]
    assert plots.level_labels(alike) == [plots.level_label(alike[0]), plots.level_label(alike[0]) + " #2", "short"]
