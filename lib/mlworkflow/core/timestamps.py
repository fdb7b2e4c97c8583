"""Timestamps: which columns hold them, and the one rule that parses them everywhere.

Role detection (`looks_like_datetime`), the timestamp features of the pipeline, derived features
(`minutes(dropoff - pickup)`) and the time split all parse with `parse_timestamps`, so a value means the
same instant wherever it is read. Timezone-aware values become naive UTC, so differences and parts
never depend on the machine's zone.
"""

from __future__ import annotations

import warnings

import pandas as pd

# Share of the non-missing values that must parse for a column to count as timestamps.
PARSED_SHARE = 0.95
# Values looked at by `looks_like_datetime`: enough to decide, cheap on a large table.
SAMPLE_SIZE = 500
# Numbers kept as text (codes, zip codes, amounts) are not timestamps, though pandas would read some as years.
NUMBER_PATTERN = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


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
    return bool(parse_timestamps(sample, date_format).notna().mean() >= PARSED_SHARE)


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
