"""Figure layouts shared by the stage views."""

from __future__ import annotations

from matplotlib.ticker import EngFormatter

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
