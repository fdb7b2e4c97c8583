"""Frames shown as clean tables: no row-number index, '—' for a missing value, shares as %, numbers rounded by
meaning, long cells wrapped (never cut), `code` in a cell rendered, and 'none' for an empty table.

A view marks what only it knows (which columns are shares, whether its index means something) with `table`;
`register` makes the notebook display every frame and series through `html`, marked or not.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from pandas.io.formats.style import Styler

from mlworkflow.views import labels
from mlworkflow.views.labels import MISSING, number, percent

Data = TypeVar("Data", pd.DataFrame, pd.Series)
PERCENT = "mlw_percent"  # keys of DataFrame.attrs, which pandas carries with the frame
INDEX = "mlw_index"
CODE = re.compile(r"`([^`<>]+)`")
SHARE = re.compile(r"\bshare\b", re.I)  # a column named a share holds one, unless a view says otherwise
NONE = '<p class="mlw-none">none</p>'
PROSE = "\x00"  # marks the cells of a column of sentences (read left-aligned); html.escape leaves it alone
PROSE_CHARS = 30
HEADING_CHARS = 40  # a longer label is a sentence: its words stay as written


def table(data: Data, percent: Iterable[str] = (), index: bool | None = None) -> Data:
    """`data` marked for display: the columns in `percent` hold shares (0.056 → 5.6%); `index` shows the index or
    hides it (None: hidden when it only numbers the rows)."""
    marked = data.copy(deep=False)
    marked.attrs = {**data.attrs, PERCENT: tuple(percent), INDEX: index}
    return marked


def _cell(value: Any) -> str:
    """One cell of a text column: a dash when missing, a rounded number, a list joined, else the text."""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_cell(item) for item in value) or MISSING
    if isinstance(value, bool | int | float) or _is_numpy_number(value):
        return number(value)
    return MISSING if pd.api.types.is_scalar(value) and pd.isna(value) else named(str(value))


def named(text: str) -> str:
    """A cell that is a family key, a list of them or a metric key, in human names ('random_forest, knn' →
    'Random forest, Nearest neighbours'); other text with the keys it names in human names (`labels.in_words`)."""
    parts = [part.strip() for part in text.split(",")]
    if all(part in labels.FAMILIES for part in parts):
        return ", ".join(map(labels.family_label, parts))
    return labels.metric_label(text) if text in labels.METRICS else labels.in_words(text)


def heading(label: Any) -> Any:
    """A column or row label with the metric keys in it named ('cv roc_auc' → 'cv ROC AUC'); others unchanged."""
    if not isinstance(label, str) or len(label) > HEADING_CHARS:
        return label
    return labels.in_words(named(label))


def _unset(cells: list[str], column: Any, rows: pd.Index) -> list[str]:
    """Cells reading 'None' (a hyperparameter left unset) in words, by the column's or the row's name (`names.unset`)."""
    said = [{labels.unset(str(column)), labels.unset(str(row))} for row in rows]
    return [cell if cell != "None" else "no limit" if "no limit" in words else "none"
            for cell, words in zip(cells, said, strict=True)]


def _is_numpy_number(value: Any) -> bool:
    """True for NumPy's numeric and bool scalars."""
    return type(value).__module__ == "numpy" and pd.api.types.is_number(value)


def guessed_shares(frame: pd.DataFrame) -> set[Any]:
    """The numeric columns named '… share' whose values all lie in [0, 1]."""
    return {
        name for name in frame.columns
        if SHARE.search(str(name)) and pd.api.types.is_numeric_dtype(frame[name].dtype)
        and bool(frame[name].dropna().between(0, 1).all())
    }


def _formatter(column: pd.Series, shares: bool) -> Callable[[Any], str]:
    """How one column's cells are written."""
    if shares:
        return percent
    if pd.api.types.is_float_dtype(column.dtype):
        return _decimals(column)
    return number if pd.api.types.is_numeric_dtype(column.dtype) else _cell


def _decimals(column: pd.Series) -> Callable[[Any], str]:
    """A column of fractions written with one number of decimals (the most `number` needs, at most 4), so its
    values line up ('1.000' beside '0.973'); counts, large and tiny values as `number` writes them."""
    values = column.dropna()
    if values.empty or bool((values == values.round()).all()) or not 1e-3 <= values.abs().max() < 1000:
        return number
    decimals = min(4, max(len(number(value).partition(".")[2]) for value in values))
    return lambda value: number(value) if pd.isna(value) else f"{value:,.{decimals}f}"


def _shows_index(frame: pd.DataFrame, index: bool | None) -> bool:
    """Whether the index is worth a column: asked for, or anything but an unnamed row number."""
    if index is not None:
        return index
    return not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)


def as_frame(data: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A series as a one-column frame (named after it, or 'value'); a frame as it is."""
    if isinstance(data, pd.Series):
        return data.to_frame(data.name if data.name is not None else "value")
    return data


def html(data: pd.DataFrame | pd.Series) -> str:
    """The clean HTML table of a frame or series, in a box that scrolls sideways when it is wide."""
    frame = as_frame(data)
    if frame.empty:
        return NONE
    shares = set(data.attrs[PERCENT]) if PERCENT in data.attrs else guessed_shares(frame)
    text = frame.astype(object)  # a copy whose cells take the written text, column by column (names may repeat)
    if not isinstance(frame.index, pd.MultiIndex):
        text.index = pd.Index([heading(_cell(label)) for label in frame.index], name=frame.index.name)
    if not isinstance(frame.columns, pd.MultiIndex):
        text.columns = pd.Index([heading(label) for label in frame.columns], name=frame.columns.name)
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        cells = _unset([_formatter(column, name in shares)(value) for value in column], name, frame.index)
        prose = max(map(len, cells)) > PROSE_CHARS and not pd.api.types.is_numeric_dtype(column.dtype)
        text.isetitem(position, [PROSE + cell for cell in cells] if prose else cells)
    body = text.to_html(index=_shows_index(frame, data.attrs.get(INDEX)), border=0, escape=True)
    body = CODE.sub(r"<code>\1</code>", body).replace(f"<td>{PROSE}", '<td class="mlw-prose">')
    return f'<div class="mlw-table">{body}</div>'


def styled_html(styler: Styler) -> str:
    """A pandas Styler's table by the same rules as `html` (cells written, headings named, a row-number index hidden,
    'none' when empty, in the scrolling box), its cell styles and caption kept."""
    frame: pd.DataFrame = styler.data  # type: ignore[attr-defined]  # public, but pandas-stubs leaves it out
    if frame.empty:
        return NONE
    shown = copy.deepcopy(styler)  # the caller's Styler stays as it was
    shares = set(frame.attrs[PERCENT]) if PERCENT in frame.attrs else guessed_shares(frame)
    if frame.columns.is_unique:
        shown.format({name: _formatter(frame[name], name in shares) for name in frame.columns})
    shown.format_index(heading, axis=1).format_index(lambda label: heading(_cell(label)), axis=0)
    if not _shows_index(frame, frame.attrs.get(INDEX)):
        shown.hide(axis="index")
    body = CODE.sub(r"<code>\1</code>", shown.to_html())
    return f'<div class="mlw-table">{body}</div>'


@dataclass(frozen=True)
class Styled:
    """A Styler a view returns for display: the notebook shows it as a clean table (`styled_html`)."""

    styler: Styler

    def to_html(self) -> str:
        """The clean HTML of the styled table."""
        return styled_html(self.styler)

    def _repr_html_(self) -> str:
        return self.to_html()


def register() -> None:
    """Display every frame, series and Styler of this kernel as a clean table (no-op outside IPython)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    for kind in (pd.DataFrame, pd.Series):
        formatter.for_type(kind, html)
    formatter.for_type(Styler, styled_html)
