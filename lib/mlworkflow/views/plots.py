"""Figure layouts shared by the stage views: a grid of small panels, a row of axes."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def grid(panels: int, columns: int = 3, size: tuple[float, float] = (3.4, 2.6)) -> tuple[Figure, list[Axes]]:
    """A figure of `panels` axes, `columns` to a row (each `size` inches); the unused cells are hidden."""
    rows = max(1, -(-panels // columns))
    width = min(columns, max(panels, 1))
    figure = Figure(figsize=(size[0] * width, size[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, width, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.set_visible(False)
    return figure, axes


def row(ncols: int, width: float = 9.0, height: float = 3.8) -> tuple[Figure, list[Axes]]:
    """A figure of `ncols` axes side by side."""
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, list(figure.subplots(1, ncols, squeeze=False)[0])


def compact(*axes: Axes) -> None:
    """Engineering tick labels (1k, 2M) on both axes, so large target units stay short."""
    from matplotlib.ticker import EngFormatter

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(EngFormatter(sep=""))
