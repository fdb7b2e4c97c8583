"""Exploration for stage `data`: a column by class, a row filter, two columns crossed and the flagged columns.

In JupyterLab `data_explorer` is a panel of four tabs that redraw on every choice; in a static report the same
views are shown for the most predictive columns and for every flagged one.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mlworkflow.core.target import Target
from mlworkflow.stages.data import Profile, numeric_columns, sample
from mlworkflow.views import plots
from mlworkflow.views.labels import number, percent

PLOT_ROWS = 5_000  # rows a plot draws (seeded sample): a distribution's shape needs no more, and redraws stay fast
SHOW_ROWS = 10  # rows the filter lists
TOP_COLUMNS = 4  # columns a static report shows, most predictive first
TOP_LEVELS = 10  # levels of a category shown; the rest are grouped as "other"
BANDS = 5  # quantile bands of a number in tables and crosses
HIGH_MISSING = 0.5  # share of missing values that flags a column
FLAGGED_ROLES = ("identifier", "constant", "leak")
OTHER, MISSING = "(other)", "(missing)"
# a plot and its table side by side (wrapping on a narrow page); inline, as JupyterLab shows this HTML without report.css
SIDE_BY_SIDE = "display:flex;flex-wrap:wrap;gap:0.5em 2em;align-items:flex-start"


# --- what is explored ----------------------------------------------------------------------------


def flagged_columns(profile: Profile) -> dict[str, str]:
    """Columns the profile flags, with why: identifiers, constants, leaks and mostly-missing columns."""
    flags = {name: f"{found.role}: {found.reason}" for name, found in profile.roles.items() if found.role in FLAGGED_ROLES}
    shares = profile.columns["missing share"]
    for name, share in shares[shares >= HIGH_MISSING].items():
        flags.setdefault(str(name), f"mostly missing: {percent(share)} of rows have no value")
    return flags


def ranked_columns(profile: Profile) -> list[str]:
    """Feature columns, the best single-column predictor first (identifiers and constants last)."""
    ranked = [str(name) for name in profile.leak_scores.index]
    useless = {name for name, found in profile.roles.items() if found.role in ("identifier", "constant")}
    return [name for name in ranked if name not in useless] + [name for name in ranked if name in useless]


def is_number(values: pd.Series) -> bool:
    """Whether a column is drawn and banded as a number (booleans and text are levels)."""
    return bool(numeric_columns(values.to_frame()))


def levels(values: pd.Series, top: int = TOP_LEVELS) -> pd.Series:
    """A column as text levels: numbers in quantile bands, categories' rare levels as "(other)", gaps "(missing)"."""
    if is_number(values) and values.nunique() > top:
        codes = pd.qcut(values.astype(float), q=BANDS, duplicates="drop").cat.codes.to_numpy()
        edges = values[codes >= 0].groupby(codes[codes >= 0]).agg(["min", "max"])  # the values seen, not qcut's edges
        names = np.full(int(codes.max()) + 2, MISSING, dtype=object)  # code -1 (missing) reads the last one
        names[edges.index.to_numpy()] = [f"{number(low)} – {number(high)}" for low, high in edges.to_numpy()]
        banded = pd.Series(names[codes], index=values.index, dtype=object)
    else:
        banded = values.astype(str)
        common = banded[values.notna()].value_counts().index[:top]
        banded = banded.where(banded.isin(common), OTHER)
    return banded.where(values.notna(), MISSING)


def level_order(banded: pd.Series, values: pd.Series) -> list[str]:
    """Levels in reading order: bands from low to high, categories most frequent first."""
    if is_number(values) and values.nunique() > TOP_LEVELS:
        present = values.notna()
        bands = values[present].groupby(banded[present]).min().sort_values()
        return [str(name) for name in bands.index] + ([MISSING] if (banded == MISSING).any() else [])
    return [str(name) for name in banded.value_counts().index]


def outcome(frame: pd.DataFrame, target: Target) -> tuple[pd.Series, str]:
    """The number a table reports per group: the positive class as 1 (binary), the target (regression), or None."""
    y = frame[target.name]
    if target.task == "binary":
        return (y.astype(str) == target.positive).astype(float), f"share {target.positive}"
    if target.task == "regression":
        return y.astype(float), f"mean {target.name}"
    return y.astype(str), "most frequent class"


# --- tables --------------------------------------------------------------------------------------


def _summary(y: pd.Series, task: str) -> str:
    if y.empty:
        return "—"
    if task == "binary":
        return percent(float(y.mean()))
    if task == "regression":
        return number(float(y.mean()))
    counts = y.value_counts()
    return f"{counts.index[0]} ({percent(counts.iloc[0] / len(y))})"


def class_rates(frame: pd.DataFrame, target: Target, column: str) -> pd.DataFrame:
    """Per level (or band) of `column`: its rows, their share, and the target within it."""
    values = frame[column]
    banded = levels(values)
    y, name = outcome(frame, target)
    rows = [
        {column: level, "rows": number(int(inside.sum())), "share of rows": percent(inside.mean()),
         name: _summary(y[inside.to_numpy()], target.task)}
        for level in level_order(banded, values) if (inside := banded == level).any()
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Condition:
    """A row filter on one column: a closed range of numbers, or a set of levels."""

    column: str
    low: float | None = None
    high: float | None = None
    chosen: tuple[str, ...] = ()

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows the condition keeps."""
        values = frame[self.column]
        if self.low is not None and self.high is not None:
            return values.astype(float).between(self.low, self.high)
        return levels(values).isin(self.chosen)

    def text(self) -> str:
        """The condition in words."""
        if self.low is not None and self.high is not None:
            return f"{self.column} between {number(self.low)} and {number(self.high)}"
        return f"{self.column} is " + (" or ".join(self.chosen) or "(nothing chosen)")


def filter_summary(frame: pd.DataFrame, target: Target, condition: Condition) -> pd.DataFrame:
    """Rows kept by the condition and the target among them, beside all rows."""
    kept = condition.mask(frame).to_numpy()
    y, name = outcome(frame, target)
    return pd.DataFrame({
        "rows": [number(int(kept.sum())), number(len(frame))],
        "share of rows": [percent(kept.mean() if len(frame) else 0.0), percent(1.0)],
        name: [_summary(y[kept], target.task), _summary(y, target.task)],
    }, index=pd.Index([condition.text(), "all rows"], name="rows"))


def cross_table(frame: pd.DataFrame, target: Target, first: str, second: str) -> pd.DataFrame:
    """The target within each pair of levels of two columns (share of the positive class, mean target, or rows)."""
    a, b = levels(frame[first]), levels(frame[second])
    y, _ = outcome(frame, target)
    if target.task == "multiclass":
        table = pd.crosstab(a, b)
    else:
        table = pd.crosstab(a, b, values=y.astype(float), aggfunc="mean")
    rows, columns = level_order(a, frame[first]), level_order(b, frame[second])
    return table.reindex(index=rows, columns=columns).rename_axis(index=first, columns=second)


def cross_title(target: Target) -> str:
    """What a cross's cells hold."""
    if target.task == "binary":
        return f"share {target.positive}"
    return f"mean {target.name}" if target.task == "regression" else "rows"


# --- plots ---------------------------------------------------------------------------------------


def plot_column(frame: pd.DataFrame, target: Target, column: str, seed: int = 0) -> Figure:
    """A column's distribution by class (densities, so a rare class stays visible), or the target against it."""
    figure = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = figure.subplots()
    number_like = is_number(frame[column]) and frame[column].nunique() > TOP_LEVELS
    if target.task != "regression" and not number_like:  # shares are counted on every row: cheap, and exact
        _class_shares(ax, levels(frame[column]), frame[target.name].astype(str), target)
        ax.set_title(f"{column} by {target.name}", fontsize=10)
        return figure
    rows = sample(frame, PLOT_ROWS, seed)
    values, y = rows[column], rows[target.name]
    if target.task == "regression":
        _against_target(ax, values, y.astype(float), number_like)
    else:
        sns.histplot(x=values.astype(float), hue=y.astype(str), hue_order=list(target.labels), ax=ax, bins=30,
                     stat="density", common_norm=False, element="step")
        ax.set(xlabel=column, ylabel="density")
    shown = f"a sample of {number(len(rows))} of {number(len(frame))} rows" if len(rows) < len(frame) else "all rows"
    ax.set_title(f"{column} by {target.name} ({shown})", fontsize=10)
    return figure


def _against_target(ax: Any, values: pd.Series, y: pd.Series, number_like: bool) -> None:
    if number_like:
        ax.scatter(values.astype(float), y, s=5, alpha=0.4)
        ax.set(xlabel=str(values.name), ylabel=str(y.name))
        return
    banded = levels(values)
    order = level_order(banded, values)
    sns.boxplot(x=y, y=banded, order=order, ax=ax, color="C0", fliersize=2)
    ax.set(xlabel=str(y.name), ylabel="")


def _class_shares(ax: Any, banded: pd.Series, y: pd.Series, target: Target) -> None:
    shares = pd.crosstab(banded, y, normalize="index").reindex(columns=list(target.labels), fill_value=0.0)
    counts = banded.value_counts()
    shares = shares.reindex(counts.index)
    shares.index = [f"{level} ({number(int(counts[level]))})" for level in shares.index]
    shares.iloc[::-1].plot.barh(stacked=True, ax=ax, width=0.8, legend=True)
    ax.set(xlabel="share of rows in the level", ylabel="", xlim=(0, 1))
    ax.legend(title=target.name, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_cross(frame: pd.DataFrame, target: Target, first: str, second: str) -> Figure:
    """A heatmap of `cross_table`."""
    table = cross_table(frame, target, first, second)
    figure = Figure(figsize=(max(4.5, 0.9 * len(table.columns) + 2.5), max(2.5, 0.4 * len(table) + 1.5)),
                    layout="constrained")
    ax = figure.subplots()
    fmt = ".0%" if target.task == "binary" else (".0f" if target.task == "multiclass" else ".3g")
    sns.heatmap(table.astype(float), ax=ax, annot=True, fmt=fmt, cmap="Blues", annot_kws={"size": 10},
                cbar_kws={"label": cross_title(target)})
    ax.set_title(f"{cross_title(target)} by {first} and {second}", fontsize=10)
    ax.tick_params(axis="x", labelrotation=30)
    ax.grid(False)  # the theme's grid would cut through the cells
    return figure


def png(figure: Figure) -> bytes:
    """A figure as small PNG bytes (`plots.small_png`: the same figure gives the same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return plots.small_png(buffer.getvalue())


def image_html(data: bytes, alt: str) -> str:
    """PNG bytes as an inline <img> (reports load nothing from the network)."""
    return f'<img src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}" alt="{html.escape(alt)}">'


def table_html(table: pd.DataFrame, index: bool = False) -> str:
    """A small table as HTML, empty cells as '—'."""
    return table.to_html(index=index, na_rep="—", escape=True, border=0, float_format=lambda x: f"{x:.3g}")


@dataclass
class Drawn:
    """The frame explored, and its plots drawn once each (the live panel and the static report share them)."""

    frame: pd.DataFrame
    target: Target
    seed: int = 0
    plots: dict[tuple[str, ...], bytes] = field(default_factory=dict, repr=False)

    def column(self, column: str) -> bytes:
        """`plot_column` of one column, as PNG."""
        if (column,) not in self.plots:
            self.plots[(column,)] = png(plot_column(self.frame, self.target, column, self.seed))
        return self.plots[(column,)]

    def cross(self, first: str, second: str) -> bytes:
        """`plot_cross` of two columns, as PNG."""
        if (first, second) not in self.plots:
            self.plots[(first, second)] = png(plot_cross(self.frame, self.target, first, second))
        return self.plots[(first, second)]


# --- the static report ---------------------------------------------------------------------------


def column_html(drawn: Drawn, column: str) -> str:
    """One column's view: its distribution by class and, beside it, the target per level."""
    plot = image_html(drawn.column(column), f"{column} by {drawn.target.name}")
    return f'<div style="{SIDE_BY_SIDE}">{plot}{table_html(class_rates(drawn.frame, drawn.target, column))}</div>'


def flag_html(drawn: Drawn, column: str, reason: str) -> str:
    """One flagged column: why it is flagged, then its view."""
    return f"<p><b>{html.escape(column)}</b> — {html.escape(reason)}</p>{column_html(drawn, column)}"


def static_html(drawn: Drawn, ranked: list[str], flags: dict[str, str]) -> str:
    """What the panel shows, for the most predictive columns and every flagged one, as a static page section."""
    top = [c for c in ranked if c not in flags][:TOP_COLUMNS]
    parts = ["<h4>The most predictive columns, by class</h4>",
             "<p>Each level or band below is what filtering the rows to it shows: its rows and the target within.</p>"]
    parts += [f"<h5>{html.escape(c)}</h5>{column_html(drawn, c)}" for c in top]
    if len(top) >= 2:
        parts += [f"<h4>{html.escape(top[0])} crossed with {html.escape(top[1])}</h4>",
                  image_html(drawn.cross(top[0], top[1]), f"{top[0]} crossed with {top[1]}")]
    parts.append("<h4>Flagged columns</h4>")
    parts += [flag_html(drawn, c, reason) for c, reason in flags.items()] or ["<p>none</p>"]
    return f'<div class="mlw-explore-static">{"".join(parts)}</div>'


def static_text(ranked: list[str], flags: dict[str, str]) -> str:
    """A one-line summary of what the panel explores."""
    top = ", ".join(ranked[:TOP_COLUMNS])
    return f"Data explorer over {len(ranked)} columns, most predictive first: {top}; flagged: {', '.join(flags) or 'none'}"


# --- the JupyterLab panel ------------------------------------------------------------------------


@dataclass
class DataExplorer:
    """Four tabs over the frame: a column by class, a row filter, two columns crossed, the flagged columns."""

    drawn: Drawn
    ranked: list[str]
    flags: dict[str, str]
    controls: dict[str, Any]
    views: dict[str, Any]
    box: Any
    condition: Condition | None = None
    busy: bool = False

    def show_column(self, change: Any = None) -> None:
        """Redraw the chosen column's distribution and its table."""
        column = str(self.controls["column"].value)
        self.views["column_plot"].value = self.drawn.column(column)
        self.views["column_table"].value = table_html(class_rates(self.drawn.frame, self.drawn.target, column))

    def filter_choices(self, change: Any = None) -> None:
        """Offer the range or the levels of the column to filter on, then filter."""
        values = self.drawn.frame[str(self.controls["filter_column"].value)]
        self.busy = True  # the controls change below one trait at a time: filter once, at the end
        if is_number(values) and values.nunique() > TOP_LEVELS:
            set_range(self.controls["range"], float(values.min()), float(values.max()))
            self.controls["condition"].children = (self.controls["range"],)
        else:
            self.controls["levels"].options = level_order(levels(values), values)
            self.controls["levels"].value = tuple(self.controls["levels"].options[:1])
            self.controls["condition"].children = (self.controls["levels"],)
        self.busy = False
        self.filter_rows()

    def filter_rows(self, change: Any = None) -> None:
        """Apply the current condition: the rows kept, the target among them, the first rows."""
        if self.busy:
            return
        column, frame = str(self.controls["filter_column"].value), self.drawn.frame
        if self.controls["condition"].children == (self.controls["range"],):
            low, high = self.controls["range"].value
            self.condition = Condition(column, float(low), float(high))
        else:
            self.condition = Condition(column, chosen=tuple(str(v) for v in self.controls["levels"].value))
        kept = frame[self.condition.mask(frame).to_numpy()]
        summary = table_html(filter_summary(frame, self.drawn.target, self.condition), index=True)
        first = table_html(kept.head(SHOW_ROWS))
        self.views["filter"].value = f"{summary}<p>The first {min(SHOW_ROWS, len(kept))} rows kept:</p>{first}"

    def show_cross(self, change: Any = None) -> None:
        """Redraw the cross of the two chosen columns."""
        self.views["cross"].value = self.drawn.cross(str(self.controls["first"].value), str(self.controls["second"].value))

    def show_flag(self, change: Any = None) -> None:
        """Show why the chosen flagged column is flagged, and its view."""
        if not self.flags:
            self.views["flag"].value = "<p>No column is flagged.</p>"
            return
        column = str(self.controls["flag"].value)
        self.views["flag"].value = flag_html(self.drawn, column, self.flags[column])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.box._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        static = static_html(self.drawn, self.ranked, self.flags)
        return {**(bundle or {}), "text/plain": static_text(self.ranked, self.flags), "text/html": static}


def set_range(slider: Any, low: float, high: float) -> None:
    """Make a range slider span [low, high] and select all of it (min never passes max on the way)."""
    if low > slider.max:
        slider.max, slider.min = high, low
    else:
        slider.min, slider.max = low, high
    slider.step = (high - low) / 100 or 1.0
    slider.value = (low, high)


def _controls(ranked: list[str], flags: dict[str, str]) -> dict[str, Any]:
    import ipywidgets as widgets

    layout = widgets.Layout(width="320px")
    pick = {"options": ranked, "layout": layout}
    return {
        "column": widgets.Dropdown(description="column", value=ranked[0], **pick),
        "filter_column": widgets.Dropdown(description="filter on", value=ranked[0], **pick),
        "range": widgets.FloatRangeSlider(description="between", min=0.0, max=1.0, value=(0.0, 1.0),
                                          readout_format=".4g", continuous_update=False,
                                          layout=widgets.Layout(width="480px")),
        "levels": widgets.SelectMultiple(description="is", options=[], rows=6, layout=layout),
        "condition": widgets.HBox(),
        "first": widgets.Dropdown(description="rows", value=ranked[0], **pick),
        "second": widgets.Dropdown(description="columns", value=ranked[min(1, len(ranked) - 1)], **pick),
        "flag": widgets.Dropdown(description="flagged", options=list(flags) or ["(none)"], layout=layout),
    }


def _views() -> dict[str, Any]:
    import ipywidgets as widgets

    views = {"column_plot": widgets.Image(format="png"), "column_table": widgets.HTML(),
             "filter": widgets.HTML(), "cross": widgets.Image(format="png"), "flag": widgets.HTML()}
    for name, view in views.items():
        view.add_class(f"mlw-explore-{name.replace('_', '-')}")  # stable hooks for the browser test
    return views


def _tabs(controls: dict[str, Any], views: dict[str, Any]) -> Any:
    import ipywidgets as widgets

    pages = {
        "Column by class": [controls["column"], views["column_plot"], views["column_table"]],
        "Filter rows": [controls["filter_column"], controls["condition"], views["filter"]],
        "Cross two columns": [widgets.HBox([controls["first"], controls["second"]]), views["cross"]],
        "Flagged columns": [controls["flag"], views["flag"]],
    }
    tabs = widgets.Tab(children=[widgets.VBox(children) for children in pages.values()], titles=list(pages))
    tabs.add_class("mlw-explore")
    return tabs


def data_explorer(frame: pd.DataFrame, target: Target, profile: Profile, seed: int = 0) -> DataExplorer | Any:
    """The exploration panel over `frame` (with its target), its columns ranked and flagged by `profile`."""
    ranked, flags = ranked_columns(profile), flagged_columns(profile)
    if not ranked:
        from IPython.display import Markdown

        return Markdown("Nothing to explore: the data has no column besides the target.")
    controls, views = _controls(ranked, flags), _views()
    panel = DataExplorer(Drawn(frame, target, seed), ranked, flags, controls, views, _tabs(controls, views))
    for update in (panel.show_column, panel.filter_choices, panel.show_cross, panel.show_flag):
        update()
    for name, callback in (("column", panel.show_column), ("filter_column", panel.filter_choices),
                           ("first", panel.show_cross), ("second", panel.show_cross), ("flag", panel.show_flag),
                           ("range", panel.filter_rows), ("levels", panel.filter_rows)):
        controls[name].observe(callback, names="value")
    return panel
