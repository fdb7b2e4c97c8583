"""Formulas in params (`preprocess.features`, `data.target_expression`): a small whitelisted grammar, never `eval`.

A formula is parsed by Python's `ast` (mode "eval") and every node is checked against a whitelist: numbers,
column names (quoted with backticks or quotes when they hold spaces or dashes: `` `capital-gain` ``),
arithmetic (+ - * / % **), comparisons, `and`/`or`/`not`, and the functions in `FUNCTIONS`. Anything else
(attributes, subscripts, lambdas, keywords, other names called) is an `ExpressionError` naming the position
(1-based character) in the formula. Evaluation walks the same tree with NumPy: numbers are float64 (a
comparison is 1.0 or 0.0, missing where an operand is), timestamps are parsed by `timestamps.parse_timestamps`,
and a difference of two timestamps is a duration that `minutes(...)`, `hours(...)`, … turn into a number.

`DerivedFeatures` computes the `preprocess.features` formulas inside a fitted pipeline, so a saved model
(and the service) takes the raw columns and derives them itself.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from mlworkflow.core.timestamps import looks_like_datetime, parse_timestamps, part_values
from mlworkflow.errors import MlwError

Kind = Literal["number", "timestamp", "duration"]
Array = npt.NDArray[Any]

NUMBER_FUNCTIONS: dict[str, Callable[[Array], Array]] = {
    "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "abs": np.abs, "exp": np.exp,
}
DURATION_UNITS: dict[str, float] = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
TIMESTAMP_PARTS: tuple[str, ...] = ("year", "month", "day", "weekday", "hour", "minute", "dayofyear")
ARITY: dict[str, int] = {
    **dict.fromkeys(NUMBER_FUNCTIONS, 1), **dict.fromkeys(DURATION_UNITS, 1), **dict.fromkeys(TIMESTAMP_PARTS, 1),
    "clip": 3, "where": 3,
}
FUNCTIONS: tuple[str, ...] = tuple(ARITY)
GRAMMAR = "numbers, column names, + - * / % **, comparisons, and/or/not and the functions " + ", ".join(FUNCTIONS)

OPERATORS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.Pow: "**",
}
COMPARISONS: dict[type[ast.AST], Callable[[Array, Array], Array]] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
NUMBER_TEXT_SHARE = 1.0  # a text column is read as numbers only when every filled value is one
BACKTICKED = re.compile(r"`([^`]*)`")


class ExpressionError(MlwError):
    """A formula outside the grammar, or one that cannot be computed on the data: names the position."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text, self.position, self.problem = text, position, problem
        super().__init__(f"{problem} at position {position} of {text!r}")


@dataclass(frozen=True)
class Expression:
    """A parsed formula: its text, its checked tree and the columns it reads (first use first)."""

    text: str
    tree: ast.expr
    columns: tuple[str, ...]
    source: str  # what ast parsed: the text stripped, on one line, backticks as quotes
    lead: int  # characters stripped from the start

    def position(self, node: ast.AST) -> int:
        """The 1-based character position of a node in the formula (ast counts UTF-8 bytes)."""
        offset = getattr(node, "col_offset", 0)
        return len(self.source.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + self.lead + 1

    def fail(self, node: ast.AST, problem: str) -> ExpressionError:
        """An error at a node's position."""
        return ExpressionError(self.text, self.position(node), problem)


# --- parsing ---------------------------------------------------------------------------------------


def quoted(text: str) -> str:
    """Backticked names as quoted strings of the same length, so ast's positions stay the user's."""
    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if '"' in name and "'" in name:
            raise ExpressionError(text, match.start() + 1, "a column name with both kinds of quotes")
        mark = "'" if '"' in name else '"'
        return f"{mark}{name}{mark}"

    swapped = BACKTICKED.sub(swap, text)
    if "`" in swapped:
        raise ExpressionError(text, swapped.index("`") + 1, "an unclosed backtick")
    return swapped


def parse(text: str) -> Expression:
    """Parse and check a formula against the grammar; an ExpressionError names the first problem's position."""
    source = quoted(text).replace("\n", " ").replace("\r", " ").replace("\t", " ")  # one line, same positions
    lead = len(source) - len(source.lstrip())
    if not source.strip():
        raise ExpressionError(text, 1, "an empty formula")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        position = min(max(exc.offset or len(source), 1) + lead, len(text))
        raise ExpressionError(text, position, f"a syntax error ({exc.msg})") from None
    unchecked = Expression(text, tree, (), source.strip(), lead)
    return Expression(text, tree, tuple(dict.fromkeys(check(unchecked, tree))), source.strip(), lead)


def check(expression: Expression, node: ast.AST) -> list[str]:
    """Walk the whitelist; return the column names read, in order."""
    if isinstance(node, ast.Constant):
        return constant_columns(expression, node)
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return check(expression, node.left) + check(expression, node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        return check(expression, node.operand)
    if isinstance(node, ast.Compare) and all(type(op) in COMPARISONS for op in node.ops):
        return [name for part in (node.left, *node.comparators) for name in check(expression, part)]
    if isinstance(node, ast.BoolOp):
        return [name for value in node.values for name in check(expression, value)]
    if isinstance(node, ast.Call):
        return call_columns(expression, node)
    raise expression.fail(node, f"{describe(node)} is not allowed (allowed: {GRAMMAR})")


def constant_columns(expression: Expression, node: ast.Constant) -> list[str]:
    """A quoted string names a column; numbers and booleans are values; nothing else is allowed."""
    if isinstance(node.value, str):
        if not node.value:
            raise expression.fail(node, "an empty column name")
        return [node.value]
    if isinstance(node.value, bool | int | float):
        return []
    raise expression.fail(node, f"the value {node.value!r} is not allowed (numbers only)")


def call_columns(expression: Expression, node: ast.Call) -> list[str]:
    """A call of a whitelisted function by name, with its number of positional arguments."""
    if not isinstance(node.func, ast.Name):
        raise expression.fail(node.func, f"{describe(node.func)} is not allowed (only the functions {', '.join(FUNCTIONS)})")
    if node.func.id not in ARITY:
        raise expression.fail(node, f"unknown function {node.func.id!r} (allowed: {', '.join(FUNCTIONS)})")
    name, arity = node.func.id, ARITY[node.func.id]
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise expression.fail(node, f"{name}() takes positional arguments only")
    if len(node.args) != arity:
        raise expression.fail(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
    return [column for arg in node.args for column in check(expression, arg)]


def describe(node: ast.AST) -> str:
    """A construct's name for a message, e.g. 'attribute access' for `a.b`."""
    names = {
        ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
        ast.IfExp: "an if-expression", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
        ast.Set: "a set", ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension",
        ast.Compare: "this comparison (is, in)", ast.BinOp: "this operator", ast.UnaryOp: "this operator",
        ast.NamedExpr: "an assignment", ast.JoinedStr: "an f-string", ast.Await: "await",
    }
    return names.get(type(node), type(node).__name__)


# --- evaluation -------------------------------------------------------------------------------------


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
