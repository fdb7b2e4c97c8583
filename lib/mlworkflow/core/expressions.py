"""Formulas in params (`preprocess.features`, `data.target_expression`): a small whitelisted grammar, never `eval`.

A formula is parsed by Python's `ast` (mode "eval") and every node is checked against a whitelist: numbers,
column names (quoted with backticks or quotes when they hold spaces or dashes: `` `capital-gain` ``),
arithmetic (+ - * / % **), comparisons, `and`/`or`/`not`, and the functions in `FUNCTIONS`. Anything else
(attributes, subscripts, lambdas, keywords, other names called) is an `ExpressionError` naming the position
(1-based character) in the formula. Parsing needs no data and imports nothing heavy (`params` validates
formulas with it); `core.derived` evaluates the checked tree on a frame.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mlworkflow.errors import MlwError

NUMBER_FUNCTIONS: tuple[str, ...] = ("log", "log1p", "sqrt", "abs", "exp")
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
COMPARISONS: dict[type[ast.AST], str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}
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

    def column_position(self, column: str) -> int:
        """Where the formula first names a column (1 if it does not)."""
        named = [
            self.position(node) for node in ast.walk(self.tree)
            if (isinstance(node, ast.Name) and node.id == column) or (isinstance(node, ast.Constant) and node.value == column)
        ]
        return min(named, default=1)


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
