"""Figure layouts shared by the stage views (a grid of small panels, a row of axes) and readable ticks and labels."""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
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


def row(ncols: int, width: float = 9.0, height: float = 3.8, sharex: bool = False,
        sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of `ncols` axes side by side; `sharex`/`sharey` give them one scale, so they compare at a glance."""
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, list(figure.subplots(1, ncols, squeeze=False, sharex=sharex, sharey=sharey)[0])


def compact(*axes: Axes) -> None:
    """Engineering tick labels (1k, 2M) on both axes, so large target units stay short."""
    from matplotlib.ticker import EngFormatter

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(EngFormatter(sep=""))


LABEL_CHARS = 16  # a category label longer than this wraps onto a second line


def level_label(level: object, width: int = LABEL_CHARS) -> str:
    """A category as a tick label: whole, wrapped over two lines at most when long, cut with '…' only beyond that."""
    lines = textwrap.wrap(str(level), width, break_on_hyphens=True) or [""]
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")


def level_labels(levels: Sequence[object], width: int = LABEL_CHARS) -> list[str]:
    """Tick labels of distinct levels, still distinct when two long ones are cut alike ('…' then ' #2', ' #3')."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for level in levels:
        label = level_label(level, width)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return labels


def short_number(value: float, _position: float | None = None) -> str:
    """A tick label without offset or scientific notation: 25000 → '25k', 2500000 → '2.5M', 0.25 → '0.25'."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    if abs(value) < 1e-3:  # densities: '0.000005', never '5e-06'
        return np.format_float_positional(value, precision=2, unique=False, fractional=False, trim="-")
    return f"{value:.3g}" if value else "0"


def readable(figure: Figure, x_ticks: int = 5) -> Figure:
    """Plain, short tick labels on every numeric axis (no '1e6' offset, '25k' not '25000'), at most `x_ticks` on a
    horizontal axis so neighbours never collide; axes with ticks or labels of their own are left alone."""
    from matplotlib.ticker import AutoLocator, FuncFormatter, MaxNLocator, ScalarFormatter

    for ax in figure.axes:
        for axis, bins in ((ax.xaxis, x_ticks), (ax.yaxis, 0)):
            plain_log(axis)
            if type(axis.get_major_formatter()) is not ScalarFormatter:  # log, category, percent, engineering
                continue
            if bins and type(axis.get_major_locator()) is AutoLocator:
                axis.set_major_locator(MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]))
            axis.set_major_formatter(FuncFormatter(short_number))
    return figure


PALETTE = 256  # colours a plot's PNG keeps: a plot has few, so nothing visible changes and the file shrinks ~3x


def small_png(data: bytes) -> bytes:
    """PNG bytes as a palette PNG on white: the same picture of a plot in about a third of the bytes (pages,
    exports and committed notebooks carry every plot inline)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        white = Image.new("RGBA", image.size, "white")
        flat = Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    buffer = io.BytesIO()
    flat.quantize(PALETTE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def small_base64_png(shown: Any) -> Any:
    """A formatter's base64 PNG made small (`small_png`); anything else (a retina pair, None) as it is."""
    if not isinstance(shown, str):
        return shown
    return base64.b64encode(small_png(base64.b64decode(shown))).decode("ascii")


def plain_log(axis: Any) -> None:
    """A log axis's default labels ('10⁰', '2×10¹') as plain short numbers ('1', '20'), on the same ticks."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLog(LogFormatterSciNotation):  # type: ignore[misc]  # the same choice of labelled ticks, plain text
        def __call__(self, x: float, pos: int | None = None) -> str:
            return short_number(x) if super().__call__(x, pos) else ""

    for setter, formatter in ((axis.set_major_formatter, axis.get_major_formatter()),
                              (axis.set_minor_formatter, axis.get_minor_formatter())):
        if type(formatter) is LogFormatterSciNotation:
            setter(PlainLog(getattr(formatter, "_base", 10.0), formatter.labelOnlyBase, formatter.minor_thresholds))


def _tidied(show: Callable[..., Any], kind: str = "") -> Callable[..., Any]:
    """A figure formatter that makes the figure readable first (and a PNG small)."""
    def tidy_then_show(figure: Figure, *args: Any, **kwargs: Any) -> Any:
        shown = show(readable(figure), *args, **kwargs)
        return small_base64_png(shown) if kind == "image/png" else shown

    tidy_then_show.__wrapped__ = show  # type: ignore[attr-defined]  # what a second register() unwraps
    return tidy_then_show


def register() -> None:
    """Make every figure this kernel displays `readable` (after the inline backend set its formatters)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    for kind in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        formatter = shell.display_formatter.formatters[kind]
        show = formatter.lookup_by_type(Figure) if Figure in formatter.type_printers else None
        if show is not None:
            formatter.for_type(Figure, _tidied(getattr(show, "__wrapped__", show), kind))


Box = tuple[float, float, float, float]  # left, bottom, right, top, in pixels


def label_points(ax: Axes, points: Sequence[tuple[float, float]], names: Sequence[str], size: float = 10.0) -> None:
    """Name each point beside it, moving a label to the next free place when it would cover another one (a place
    inside the axes first, so a label does not stick out of the frame)."""
    ax.autoscale_view()
    scale = ax.figure.dpi / 72  # points → pixels
    frame = ax.get_window_extent()
    placed: list[Box] = []
    for (x, y), name in zip(points, names, strict=True):
        px, py = ax.transData.transform((x, y))
        width, height = 0.6 * size * len(name) * scale, 1.3 * size * scale
        boxes = {}
        for dx, dy in LABEL_PLACES:
            left = px + dx * scale - (width if dx < 0 else 0)
            boxes[dx, dy] = (left, py + dy * scale, left + width, py + dy * scale + height)
        free = [place for place, box in boxes.items() if not any(_overlap(box, other) for other in placed)]
        inside = [place for place in free if _within(boxes[place], (frame.x0, frame.y0, frame.x1, frame.y1))]
        dx, dy = (inside or free or [LABEL_PLACES[-1]])[0]
        placed.append(boxes[dx, dy])
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), ha="right" if dx < 0 else "left",
                    fontsize=size)


def _within(box: Box, frame: Box) -> bool:
    """True when a box lies inside the frame."""
    return frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]


LABEL_PLACES = ((6, 2), (6, -12), (-6, 2), (-6, -12), (6, 14), (6, -24), (-6, 14), (-6, -24), (6, 26), (6, -36))


def _overlap(a: Box, b: Box) -> bool:
    """True when two (left, bottom, right, top) boxes intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
