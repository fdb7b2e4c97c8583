"""Formulas evaluated on frames, and the pipeline step that derives features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone

from mlworkflow.core import derived, expressions
from mlworkflow.core.expressions import ExpressionError


@pytest.fixture()
def trips() -> pd.DataFrame:
    """Three trips: timestamps as text, a dashed numeric column, a count with a gap, a text column."""
    return pd.DataFrame({
        "pickup": ["2019-03-23 20:21:09", "2019-03-04 16:11:55", None],
        "dropoff": ["2019-03-23 20:27:24", "2019-03-04 16:19:00", "2019-03-05 01:00:00"],
        "capital-gain": [0.0, 100.0, np.nan],
        "num": [0, 2, 1],
        "color": ["yellow", "green", "yellow"],
    })


def values(formula: str, frame: pd.DataFrame) -> list[float]:
    """A formula's numbers as a list (NaN kept)."""
    return list(derived.numbers(expressions.parse(formula), frame))


def test_durations_and_parts_of_timestamps(trips: pd.DataFrame) -> None:
    assert values("minutes(dropoff - pickup)", trips)[:2] == pytest.approx([6.25, 85 / 12])
    assert np.isnan(values("minutes(dropoff - pickup)", trips)[2])
    assert values("hour(pickup)", trips)[:2] == [20.0, 16.0]
    assert values("weekday(dropoff)", trips) == [5.0, 0.0, 1.0]  # Saturday, Monday, Tuesday
    assert values("days(dropoff - dropoff)", trips) == [0.0, 0.0, 0.0]


def test_quoted_names_arithmetic_and_functions(trips: pd.DataFrame) -> None:
    assert values("log1p(`capital-gain`)", trips)[:2] == pytest.approx([0.0, np.log1p(100.0)])
    assert values('"capital-gain" / 2 + 1', trips)[:2] == [1.0, 51.0]
    assert values("clip(num, 0, 1)", trips) == [0.0, 1.0, 1.0]
    assert values("where(num > 1, 10, -10)", trips) == [-10.0, 10.0, -10.0]
    assert values("sqrt(abs(-num)) ** 2", trips) == pytest.approx([0.0, 2.0, 1.0])


def test_comparisons_give_one_or_zero_and_keep_missing_missing(trips: pd.DataFrame) -> None:
    assert values("num > 0", trips) == [0.0, 1.0, 1.0]
    gains = values("`capital-gain` > 50 and num >= 1", trips)
    assert gains[:2] == [0.0, 1.0] and np.isnan(gains[2])
    assert values("0 < num < 2", trips) == [0.0, 0.0, 1.0]
    assert values("not num", trips) == [1.0, 0.0, 0.0]


def test_log_of_zero_is_missing_not_an_infinity(trips: pd.DataFrame) -> None:
    assert np.isnan(values("log(num)", trips)[0])


@pytest.mark.parametrize(
    ("formula", "position", "problem"),
    [
        ("num + nope", 7, "unknown column 'nope'"),
        ("color * 2", 1, "column 'color' holds text (e.g. 'yellow')"),
        ("dropoff - pickup", 1, "gives durations, not numbers (take minutes()"),
        ("pickup + 1", 1, "'+' of a timestamp and a number is not defined"),
        ("hour(num)", 6, "hour() needs a timestamp, found numbers"),
        ("minutes(num)", 9, "minutes() needs a difference of timestamps"),
        ("num > pickup", 1, "cannot compare a number with a timestamp"),
    ],
)
def test_what_the_data_cannot_compute_names_the_position(
    trips: pd.DataFrame, formula: str, position: int, problem: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        values(formula, trips)
    assert caught.value.position == position
    assert problem in caught.value.problem


def test_learned_kinds_read_a_single_row_like_the_training_frame(trips: pd.DataFrame) -> None:
    kinds = derived.learn_kinds([expressions.parse("minutes(dropoff - pickup) + num")], trips)
    assert kinds == {"dropoff": "timestamp", "pickup": "timestamp", "num": "number"}
    row = pd.DataFrame({"dropoff": ["2019-03-23 20:27:24"], "pickup": [np.nan], "num": [1.0]}, dtype=object)
    found = derived.numbers(expressions.parse("minutes(dropoff - pickup) + num"), row, kinds)
    assert np.isnan(found[0])


def test_the_pipeline_step_adds_the_derived_columns_and_survives_skops(trips: pd.DataFrame) -> None:
    step = derived.DerivedFeatures({"trip_minutes": "minutes(dropoff - pickup)", "big": "num > 1"})
    out = clone(step).fit(trips).transform(trips)
    assert list(out.columns) == [*trips.columns, "trip_minutes", "big"]
    assert out["big"].tolist() == [0.0, 1.0, 0.0]
    fitted = step.fit(trips)
    loaded = sio.loads(sio.dumps(fitted), trusted=[*derived.TRUSTED_TYPES])
    pd.testing.assert_frame_equal(loaded.transform(trips.head(1)), fitted.transform(trips.head(1)))
    assert list(fitted.get_feature_names_out()) == list(out.columns)


def test_the_step_refuses_a_formula_that_gives_no_numbers_when_fitted(trips: pd.DataFrame) -> None:
    with pytest.raises(ExpressionError, match="gives timestamps"):
        derived.DerivedFeatures({"when": "pickup"}).fit(trips)


def test_every_number_function_of_the_grammar_is_computed() -> None:
    assert set(derived.NUMBER_FUNCTIONS) == set(expressions.NUMBER_FUNCTIONS)
    assert set(derived.COMPARISONS) == set(expressions.COMPARISONS)
