"""Which columns hold timestamps, and the one parsing rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlworkflow.core import timestamps


@pytest.mark.parametrize(
    "values",
    [
        ["2019-03-23 20:21:09", "2019-03-04 16:11:55", None],
        ["2020-01-01T10:00:00+02:00", "2020-01-01"],
        ["3 Jan 2020", "5 Feb 2021"],
    ],
)
def test_strings_that_parse_look_like_datetimes(values: list[str | None]) -> None:
    assert timestamps.looks_like_datetime(pd.Series(values, dtype=object))


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([20200101, 20200102]),
        pd.Series([1.5, 2.0]),
        pd.Series([True, False]),
        pd.Series(["12345", "23456"]),
        pd.Series(["1.5", "-2", "1e3"]),
        pd.Series(["May", "June"]),
        pd.Series(["Male", "Female"]),
        pd.Series([None, None], dtype=object),
    ],
)
def test_numbers_words_and_empty_columns_do_not(values: pd.Series) -> None:
    assert not timestamps.looks_like_datetime(values)


def test_a_datetime_dtype_always_does() -> None:
    assert timestamps.looks_like_datetime(pd.Series(pd.to_datetime(pd.Series(["2020-01-01", None]))))


def test_a_few_strays_are_tolerated_but_not_many() -> None:
    dates = [f"2020-01-{day:02d}" for day in range(1, 29)] * 4
    assert timestamps.looks_like_datetime(pd.Series([*dates, "n/a"]))
    assert not timestamps.looks_like_datetime(pd.Series([*dates[:10], *["n/a"] * 5]))


def test_parse_keeps_missing_and_unparseable_as_nat() -> None:
    parsed = timestamps.parse_timestamps(pd.Series(["2020-01-01 10:00", None, "later"], name="t"))
    assert parsed.iloc[0] == pd.Timestamp("2020-01-01 10:00")
    assert parsed.iloc[1:].isna().all()
    assert parsed.name == "t"


def test_an_explicit_format_decides_day_and_month() -> None:
    values = pd.Series(["01/02/2020", "13/02/2020"])
    parsed = timestamps.parse_timestamps(values, "%d/%m/%Y")
    assert list(parsed) == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-02-13")]


def test_without_format_a_non_iso_format_is_inferred() -> None:
    parsed = timestamps.parse_timestamps(pd.Series(["03/23/2019 08:21 PM", "03/04/2019 04:11 PM"]))
    assert list(parsed) == [pd.Timestamp("2019-03-23 20:21"), pd.Timestamp("2019-03-04 16:11")]


def test_aware_values_become_naive_utc() -> None:
    aware = pd.Series(pd.to_datetime(["2020-06-01 12:00"]).tz_localize("Europe/Paris"))
    assert timestamps.parse_timestamps(aware).iloc[0] == pd.Timestamp("2020-06-01 10:00")
    text = pd.Series(["2020-06-01T12:00:00+02:00", "2020-06-01T10:00:00Z"])
    assert timestamps.parse_timestamps(text).nunique() == 1


def test_parsing_is_the_same_for_object_and_string_dtypes() -> None:
    values = ["2019-03-23 20:21:09", None, "2019-03-04 16:11:55"]
    as_object = timestamps.parse_timestamps(pd.Series(values, dtype=object))
    as_string = timestamps.parse_timestamps(pd.Series(values, dtype="string"))
    pd.testing.assert_series_equal(as_object, as_string)
    assert np.isnat(as_object.to_numpy()[1])
