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


# --- the pipeline step ------------------------------------------------------------------------------


@pytest.fixture()
def trips() -> pd.DataFrame:
    """Four trips over two days: pickup and dropoff as text, one dropoff missing."""
    return pd.DataFrame({
        "pickup": ["2019-03-23 20:21:09", "2019-03-24 16:11:55", "2019-03-24 23:50:00", "2019-03-23 01:00:00"],
        "dropoff": ["2019-03-23 20:27:24", "2019-03-24 16:19:00", None, "2019-03-23 01:30:00"],
    })


def test_parts_that_vary_are_kept_with_sin_and_cos(trips: pd.DataFrame) -> None:
    step = timestamps.TimestampFeatures().fit(trips)
    assert step.parts_ == {"pickup": ["day", "weekday", "hour"], "dropoff": ["day", "weekday", "hour"]}
    out = step.transform(trips)
    assert list(out.columns) == list(step.get_feature_names_out())
    assert out["pickup_hour"].tolist() == [20.0, 16.0, 23.0, 1.0]
    assert out["pickup_weekday"].tolist() == [5.0, 6.0, 6.0, 5.0]  # Saturday, Sunday
    assert out["pickup_hour_sin"].iloc[0] == pytest.approx(np.sin(2 * np.pi * 20 / 24))
    assert out["pickup_hour_cos"].iloc[3] == pytest.approx(np.cos(2 * np.pi / 24))


def test_the_duration_is_the_later_listed_minus_the_earlier_in_minutes(trips: pd.DataFrame) -> None:
    out = timestamps.TimestampFeatures().fit(trips).transform(trips)
    minutes = out["dropoff_minus_pickup_minutes"]
    assert minutes.iloc[[0, 3]].tolist() == pytest.approx([6.25, 30.0])
    assert np.isnan(minutes.iloc[2])


def test_without_cyclical_or_durations_only_the_parts_remain(trips: pd.DataFrame) -> None:
    step = timestamps.TimestampFeatures(cyclical=False, durations=False).fit(trips)
    assert list(step.get_feature_names_out()) == [
        "pickup_day", "pickup_weekday", "pickup_hour", "dropoff_day", "dropoff_weekday", "dropoff_hour",
    ]


def test_a_row_unseen_in_fit_gets_the_same_columns_and_survives_skops(trips: pd.DataFrame) -> None:
    import skops.io as sio

    step = timestamps.TimestampFeatures().fit(trips)
    loaded = sio.loads(sio.dumps(step), trusted=[*timestamps.TRUSTED_TYPES])
    row = pd.DataFrame({"pickup": ["2020-07-01T08:00:00Z"], "dropoff": [None]})
    out = loaded.transform(row)
    assert list(out.columns) == list(step.get_feature_names_out())
    assert out["pickup_hour"].iloc[0] == 8.0
    assert out["dropoff_hour"].isna().all()


@pytest.mark.parametrize("codes", [["T-12", "T-13", "T-14"], ["12-1", "3-4", "5-6"], ["1-2", "10-11", "7-8"]])
def test_codes_without_a_year_are_not_timestamps(codes: list[str]) -> None:
    assert not timestamps.looks_like_datetime(pd.Series(codes * 10))  # pandas reads them as dates in year 1
    assert timestamps.looks_like_datetime(pd.Series(["Jan 2020", "Feb 2021", "2019-03-01 10:00"] * 10))
