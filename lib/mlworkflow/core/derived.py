"""Formulas evaluated on frames, and the pipeline step that adds derived features (`preprocess.features`).

Evaluation walks the tree `expressions.parse` checked, with NumPy: numbers are float64 (a comparison is 1.0
or 0.0, missing where an operand is), timestamps are parsed by `timestamps.parse_timestamps`, and a difference
of two timestamps is a duration that `minutes(...)`, `hours(...)`, … turn into a number. `DerivedFeatures`
computes the formulas inside a fitted pipeline, so a saved model (and the service) takes the raw columns and
derives them itself; saved models record it by its qualified name (`TRUSTED_TYPES`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from mlworkflow.core.expressions import DURATION_UNITS, OPERATORS, TIMESTAMP_PARTS, Expression, parse
from mlworkflow.core.timestamps import looks_like_datetime, parse_timestamps, part_values

Kind = Literal["number", "timestamp", "duration"]
Array = npt.NDArray[Any]

NUMBER_FUNCTIONS: dict[str, Callable[[Array], Array]] = {
    "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "abs": np.abs, "exp": np.exp,
}
COMPARISONS: dict[type[ast.AST], Callable[[Array, Array], Array]] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
NUMBER_TEXT_SHARE = 1.0  # a text column is read as numbers only when every filled value is one

@dataclass(frozen=True)
class Value:
    """An intermediate result: its kind and its values (float64, datetime64[ns] or timedelta64[ns])."""

    kind: Kind
    data: Array


def column_kind(values: pd.Series) -> Kind | None:
    """How a formula reads a column: numbers, timestamps or durations; None for text it cannot use."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return "number"
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        return "duration"
    if looks_like_datetime(values):
        return "timestamp"
    present = values.dropna()
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    return "number" if len(present) and parsed.notna().mean() >= NUMBER_TEXT_SHARE else None


def column_values(values: pd.Series, kind: Kind) -> Array:
    """A column as the arrays a kind computes with (missing as NaN or NaT)."""
    if kind == "timestamp":
        return parse_timestamps(values).to_numpy(dtype="datetime64[ns]")
    if kind == "duration":
        return pd.to_timedelta(values, errors="coerce").to_numpy(dtype="timedelta64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    text = values.astype(object).where(values.notna(), None)
    return pd.to_numeric(text.astype(str).str.strip().where(values.notna(), None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a formula on a frame, with the kinds its columns are read as."""

    expression: Expression
    frame: pd.DataFrame
    kinds: Mapping[str, Kind]

    def value(self, node: ast.AST) -> Value:
        """The value of a node (the tree was checked by `parse`)."""
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.column(node, node.id)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BoolOp):
            return self.boolean(node)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return self.call(node, node.func.id)

    def constant(self, node: ast.Constant) -> Value:
        """A number broadcast to every row, or the column a quoted name names."""
        if isinstance(node.value, str):
            return self.column(node, node.value)
        assert isinstance(node.value, bool | int | float)  # `parse` let no other constant through
        return Value("number", np.full(len(self.frame), float(node.value)))

    def column(self, node: ast.AST, name: str) -> Value:
        """A column's values as the kind it was learned as (or is found to be)."""
        if name not in self.frame.columns:
            raise self.expression.fail(node, f"unknown column {name!r}")
        kind = self.kinds.get(name) or column_kind(self.frame[name])
        if kind is None:
            shown = self.frame[name].dropna()
            example = repr(shown.iloc[0]) if len(shown) else "nothing"
            raise self.expression.fail(node, f"column {name!r} holds text (e.g. {example}), not numbers or timestamps")
        return Value(kind, column_values(self.frame[name], kind))

    def numbers(self, node: ast.AST, role: str) -> Array:
        """A node's values, which must be numbers."""
        found = self.value(node)
        if found.kind != "number":
            hint = " (take minutes(), hours() or days() of it)" if found.kind == "duration" else ""
            raise self.expression.fail(node, f"{role} needs numbers, found {found.kind}s{hint}")
        return found.data

    def binary(self, node: ast.BinOp) -> Value:
        """Arithmetic; timestamp − timestamp is a duration, durations add and subtract."""
        left, right = self.value(node.left), self.value(node.right)
        symbol = OPERATORS[type(node.op)]
        kinds = (left.kind, right.kind)
        if kinds == ("number", "number"):
            with np.errstate(all="ignore"):
                return Value("number", arithmetic(symbol, left.data, right.data))
        if symbol == "-" and kinds == ("timestamp", "timestamp"):
            return Value("duration", left.data - right.data)
        if symbol in "+-" and kinds == ("duration", "duration"):
            return Value("duration", left.data + right.data if symbol == "+" else left.data - right.data)
        raise self.expression.fail(node, f"'{symbol}' of a {left.kind} and a {right.kind} is not defined")

    def unary(self, node: ast.UnaryOp) -> Value:
        """Negation of numbers or durations; `not` of numbers (1.0 where zero)."""
        if isinstance(node.op, ast.USub | ast.UAdd) and (found := self.value(node.operand)).kind == "duration":
            return Value("duration", -found.data if isinstance(node.op, ast.USub) else found.data)
        data = self.numbers(node.operand, "this operator")
        if isinstance(node.op, ast.Not):
            return Value("number", np.where(np.isnan(data), np.nan, (data == 0).astype(np.float64)))
        return Value("number", -data if isinstance(node.op, ast.USub) else data)

    def compare(self, node: ast.Compare) -> Value:
        """A (chained) comparison of values of one kind: 1.0 or 0.0, missing where an operand is."""
        parts = [self.value(part) for part in (node.left, *node.comparators)]
        result = np.ones(len(self.frame))
        for op, left, right in zip(node.ops, parts, parts[1:], strict=False):
            if left.kind != right.kind:
                raise self.expression.fail(node, f"cannot compare a {left.kind} with a {right.kind}")
            missing = pd.isna(left.data) | pd.isna(right.data)
            result = np.where(missing | np.isnan(result), np.nan, result * COMPARISONS[type(op)](left.data, right.data))
        return Value("number", result)

    def boolean(self, node: ast.BoolOp) -> Value:
        """`and` / `or` of numbers (non-zero is true), missing where an operand is."""
        values = [self.numbers(value, f"'{type(node.op).__name__.lower()}'") for value in node.values]
        missing = np.logical_or.reduce([np.isnan(value) for value in values])
        truth = [value != 0 for value in values]
        combined = np.logical_and.reduce(truth) if isinstance(node.op, ast.And) else np.logical_or.reduce(truth)
        return Value("number", np.where(missing, np.nan, combined.astype(np.float64)))

    def call(self, node: ast.Call, name: str) -> Value:
        """One of the whitelisted functions."""
        if name in NUMBER_FUNCTIONS:
            with np.errstate(all="ignore"):  # log of 0 or of a negative number is -inf or NaN, as in NumPy
                return Value("number", NUMBER_FUNCTIONS[name](self.numbers(node.args[0], f"{name}()")))
        if name in DURATION_UNITS:
            return Value("number", self.duration(node.args[0], name) / DURATION_UNITS[name])
        if name in TIMESTAMP_PARTS:
            return Value("number", self.part(node.args[0], name))
        if name == "clip":
            low, high = (self.numbers(arg, "clip()") for arg in node.args[1:])
            return Value("number", np.clip(self.numbers(node.args[0], "clip()"), low, high))
        condition, *branches = (self.numbers(arg, "where()") for arg in node.args)
        chosen = np.where(condition != 0, branches[0], branches[1])
        return Value("number", np.where(np.isnan(condition), np.nan, chosen))

    def duration(self, node: ast.AST, name: str) -> Array:
        """Seconds of a duration (a difference of timestamps), NaN where missing."""
        found = self.value(node)
        if found.kind != "duration":
            raise self.expression.fail(node, f"{name}() needs a difference of timestamps, found {found.kind}s")
        seconds = found.data.astype("timedelta64[ns]").astype(np.int64) / 1e9
        return np.where(pd.isna(found.data), np.nan, seconds)

    def part(self, node: ast.AST, name: str) -> Array:
        """A part of a timestamp (Monday is weekday 0), NaN where missing."""
        found = self.value(node)
        if found.kind != "timestamp":
            raise self.expression.fail(node, f"{name}() needs a timestamp, found {found.kind}s")
        return part_values(pd.Series(found.data), name).to_numpy(dtype=np.float64, na_value=np.nan)


def arithmetic(symbol: str, left: Array, right: Array) -> Array:
    """One arithmetic operator on float arrays (division by zero gives inf or NaN, as in NumPy)."""
    operations: dict[str, Callable[[Array, Array], Array]] = {
        "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "%": np.mod, "**": np.power,
    }
    return operations[symbol](left, right)


def evaluate(expression: Expression, frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None) -> Value:
    """The formula's value on every row of the frame (its columns read as `kinds`, else as found)."""
    return Evaluation(expression, frame, kinds or {}).value(expression.tree)


def numbers(expression: Expression, frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None) -> Array:
    """The formula's values, which must be numbers (a feature or a target); infinities become NaN."""
    found = evaluate(expression, frame, kinds)
    if found.kind != "number":
        hint = " (take minutes(), hours() or days() of it)" if found.kind == "duration" else ""
        raise expression.fail(expression.tree, f"the formula gives {found.kind}s, not numbers{hint}")
    return np.where(np.isfinite(found.data), found.data, np.nan)


def learn_kinds(expressions: Sequence[Expression], frame: pd.DataFrame) -> dict[str, Kind]:
    """The kind of every column the formulas read, as the training frame shows it."""
    columns = dict.fromkeys(name for expression in expressions for name in expression.columns)
    return {name: kind for name in columns if name in frame.columns and (kind := column_kind(frame[name]))}


# --- the pipeline step ------------------------------------------------------------------------------


class DerivedFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Adds one column per formula ({name: formula}) to the frame; the raw columns stay (the next step picks).

    The kinds of the columns read (numbers or timestamps) are learned in `fit`, so a single row at predict
    time is read the way the training data was. Only the formulas' text is stored: a saved model holds no
    parsed tree, and loading it parses the same whitelisted grammar again.
    """

    def __init__(self, formulas: Mapping[str, str] | None = None) -> None:
        self.formulas = formulas

    def parsed(self) -> dict[str, Expression]:
        """The formulas, parsed."""
        return {name: parse(text) for name, text in (self.formulas or {}).items()}

    def fit(self, X: pd.DataFrame, y: Any = None) -> DerivedFeatures:
        """Learn the kinds of the columns read, and check every formula computes numbers."""
        parsed = self.parsed()
        self.kinds_ = learn_kinds(list(parsed.values()), X)
        for expression in parsed.values():
            numbers(expression, X, self.kinds_)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The frame with the derived columns appended (float64, missing as NaN)."""
        derived = {name: numbers(expression, X, self.kinds_) for name, expression in self.parsed().items()}
        return X.assign(**{name: pd.Series(values, index=X.index) for name, values in derived.items()})

    def get_feature_names_out(self, input_features: Any = None) -> Array:
        """The input columns, then the derived ones."""
        return np.asarray([*self.feature_names_in_, *(self.formulas or {})], dtype=object)


TRUSTED_TYPES: tuple[str, ...] = (f"{DerivedFeatures.__module__}.{DerivedFeatures.__qualname__}",)
