"""Formulas in params: the whitelisted grammar and the positions its errors name."""

from __future__ import annotations

import pytest

from mlworkflow.core import expressions
from mlworkflow.core.expressions import ExpressionError


def test_columns_are_listed_in_first_use_order() -> None:
    assert expressions.parse("minutes(dropoff - pickup) + `a b` * dropoff").columns == ("dropoff", "pickup", "a b")


@pytest.mark.parametrize(
    ("formula", "position", "problem"),
    [
        ("__import__('os').system('ls')", 1, "attribute access is not allowed"),
        ("eval('1')", 1, "unknown function 'eval'"),
        ("num + x.y", 7, "attribute access is not allowed"),
        ("num[0]", 1, "indexing is not allowed"),
        ("lambda: 1", 1, "a lambda is not allowed"),
        ("1 if num else 2", 1, "an if-expression is not allowed"),
        ("log(num, 2)", 1, "log() takes 1 argument, got 2"),
        ("clip(num, lo=0, hi=1)", 1, "clip() takes positional arguments only"),
        ("num in (1, 2)", 1, "this comparison (is, in) is not allowed"),
        ("num +", 5, "a syntax error"),
        ("  num ^ 2", 3, "this operator is not allowed"),
        ("`capital gain + 1", 1, "an unclosed backtick"),
        ("", 1, "an empty formula"),
        ("num + None", 7, "the value None is not allowed"),
    ],
)
def test_anything_outside_the_grammar_is_refused_at_its_position(formula: str, position: int, problem: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        expressions.parse(formula)
    assert caught.value.position == position
    assert problem in caught.value.problem
    assert f"at position {position} of {formula!r}" in str(caught.value)


def test_positions_count_characters_not_bytes() -> None:
    with pytest.raises(ExpressionError) as caught:
        expressions.parse("`température` + x.y")
    assert caught.value.position == 17
