"""Timestamps: which columns hold them, the one rule that parses them everywhere, and their features.

Role detection (`looks_like_datetime`), the timestamp features of the pipeline, derived features
(`minutes(dropoff - pickup)`) and the time split all parse with `parse_timestamps`, so a value means the
same instant wherever it is read. Timezone-aware values become naive UTC, so differences and parts
never depend on the machine's zone. `TimestampFeatures` is the pipeline step that turns timestamp
columns into numbers; saved models record it by its qualified name (`TRUSTED_TYPES`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# Share of the non-missing values that must parse for a column to count as timestamps.
PARSED_SHARE = 0.95
# Values looked at by `looks_like_datetime`: enough to decide, cheap on a large table.
SAMPLE_SIZE = 500
# Numbers kept as text (codes, zip codes, amounts) are not timestamps, though pandas would read some as years.
NUMBER_PATTERN = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
# Years a detected timestamp may fall in: text with no year ("12-1", "T-12") parses to year 1, a code not a date.
PLAUSIBLE_YEARS = (1700, 2200)


def looks_like_datetime(values: pd.Series, date_format: str | None = None) -> bool:
    """True when nearly all non-missing values are timestamps (datetime dtype, or strings that parse as one)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    present = values.dropna()
    if present.empty:
        return False
    sample = present.iloc[:: max(1, len(present) // SAMPLE_SIZE)].astype(str)
    datelike = sample.str.contains(r"\d") & ~sample.str.match(NUMBER_PATTERN)
    if datelike.mean() < PARSED_SHARE:
        return False
    parsed = parse_timestamps(sample, date_format)
    return bool(parsed.dt.year.between(*PLAUSIBLE_YEARS).mean() >= PARSED_SHARE)


def parse_timestamps(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Values as naive (UTC) datetimes, NaT where a value does not parse; `date_format` (strftime codes) when given.

    Without a format, ISO 8601 is tried first (unambiguous, fast); if it leaves more values unparsed than
    pandas' own inference (one format guessed from the first value, then applied to all), the inference wins.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _naive_utc(values)
    if date_format is not None:
        return _parsed(values, date_format)
    iso = _parsed(values, "ISO8601")
    if iso.notna().sum() == values.notna().sum():
        return iso
    inferred = _parsed(values, None)
    return inferred if inferred.notna().sum() > iso.notna().sum() else iso


def _parsed(values: pd.Series, date_format: str | None) -> pd.Series:
    """pandas' parse with unparseable values as NaT; silent about a format it had to guess."""
    text = values.astype(object).where(values.notna(), None)
    with warnings.catch_warnings():
        # The guess is deterministic (from the first value); the warning only says it was a guess.
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    return pd.Series(parsed.dt.tz_convert(None), index=values.index, name=values.name)


def _naive_utc(values: pd.Series) -> pd.Series:
    """A datetime column without a timezone: aware values are converted to UTC, naive ones kept."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.Series(values.dt.tz_convert(None), index=values.index, name=values.name)
    return values


# --- features ------------------------------------------------------------------------------------

# Parts of a timestamp the pipeline can learn from, and the period of those that wrap around.
PARTS: tuple[str, ...] = ("year", "month", "day", "weekday", "hour")
PERIODS: dict[str, int] = {"month": 12, "day": 31, "weekday": 7, "hour": 24}
SECONDS_PER_MINUTE = 60.0
PANDAS_NAMES = {"weekday": "day_of_week", "dayofyear": "day_of_year"}  # the formula names pandas spells otherwise


class TimestampFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Timestamp columns as numbers: parts (year, month, day, weekday, hour) and durations between columns.

    `fit` keeps the parts that vary in training (a date-only column has no hour; one month of data has no
    year). With `cyclical`, each periodic part also gets sin/cos columns, so a linear model sees hour 23
    next to hour 0. With `durations`, every pair of timestamp columns gives the later-listed minus the
    earlier-listed in minutes. Missing or unparseable timestamps give NaN (imputed by the next step).
    """

    def __init__(self, cyclical: bool = True, durations: bool = True) -> None:
        self.cyclical = cyclical
        self.durations = durations

    def fit(self, X: pd.DataFrame, y: Any = None) -> TimestampFeatures:
        """Learn which parts vary, per column."""
        parsed = parse_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.parts_ = {
            name: [part for part in PARTS if part_values(values, part).nunique() > 1] for name, values in parsed.items()
        }
        return self

    def pairs(self) -> list[tuple[str, str]]:
        """The (earlier-listed, later-listed) column pairs whose durations are features."""
        names = [str(n) for n in self.feature_names_in_]
        return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]] if self.durations else []

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The learned parts (and their sin/cos), then the durations, as float64 columns."""
        parsed = parse_frame(X)
        columns: dict[str, Any] = {}
        for name, parts in self.parts_.items():
            for part in parts:
                columns.update(encoded(f"{name}_{part}", part_values(parsed[name], part), part, self.cyclical))
        for first, second in self.pairs():
            minutes = (parsed[second] - parsed[first]).dt.total_seconds() / SECONDS_PER_MINUTE
            columns[f"{second}_minus_{first}_minutes"] = minutes.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.DataFrame(columns, index=X.index, columns=list(self.get_feature_names_out()))

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[Any]:
        """Output column names, e.g. pickup_hour, pickup_hour_sin, dropoff_minus_pickup_minutes."""
        names = [
            column for name, parts in self.parts_.items() for part in parts
            for column in encoded_names(f"{name}_{part}", part, self.cyclical)
        ]
        names += [f"{second}_minus_{first}_minutes" for first, second in self.pairs()]
        return np.asarray(names, dtype=object)


def parse_frame(X: pd.DataFrame) -> dict[str, pd.Series]:
    """Each column parsed by the one rule."""
    return {str(name): parse_timestamps(X[name]) for name in X.columns}


def part_values(values: pd.Series, part: str) -> pd.Series:
    """One part (year, month, day, weekday, hour, minute, dayofyear) of parsed timestamps as floats, NaN where missing.

    Monday is weekday 0.
    """
    attribute = PANDAS_NAMES.get(part, part)
    return pd.Series(getattr(values.dt, attribute), index=values.index, dtype="float64")


def encoded_names(name: str, part: str, cyclical: bool) -> list[str]:
    """The column names of one part: itself, and its sin/cos when cyclical and periodic."""
    return [name, f"{name}_sin", f"{name}_cos"] if cyclical and part in PERIODS else [name]


def encoded(name: str, values: pd.Series, part: str, cyclical: bool) -> dict[str, npt.NDArray[np.float64]]:
    """One part's columns: the value, then sin and cos of its angle on the part's period."""
    raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (cyclical and part in PERIODS):
        return {name: raw}
    angle = 2.0 * np.pi * raw / PERIODS[part]
    return {name: raw, f"{name}_sin": np.sin(angle), f"{name}_cos": np.cos(angle)}


TRUSTED_TYPES: tuple[str, ...] = (f"{TimestampFeatures.__module__}.{TimestampFeatures.__qualname__}",)
