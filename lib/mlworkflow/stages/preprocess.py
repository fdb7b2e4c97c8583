"""Stage `preprocess`: clean the raw frame, split train/test, infer the feature spec (`core.features` builds its transformer)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from mlworkflow.core import derived, expressions, imbalance, roles
from mlworkflow.core.features import (
    FeatureSpec,
    TransformerSettings,
    build_preprocessor,
    derive_steps,
    is_text,
    most_levels,
    replace_markers,
    short_list,
)
from mlworkflow.core.timestamps import parse_timestamps
from mlworkflow.errors import DataError, did_you_mean
from mlworkflow.params import PreprocessParams
from mlworkflow.records import DATA, PreprocessRecord

NUMERIC_SHARE = 0.95  # a text column becomes numeric when this share of its values parse as numbers
PREVIEW_ROWS = 50_000  # rows the display-only transformer is fitted on and shows (its shape does not need more)
NOT_FEATURES = ("identifier", "ignore")  # the roles in preprocess.roles that drop a column


# --- clean -------------------------------------------------------------------------------------


def meta_value(meta: Mapping[str, Any], key: str) -> Any:
    """A key of data.json, or a DataError naming it."""
    if key not in meta:
        raise DataError(f"has no '{key}' entry; re-run stage '{DATA.stage}'", source=DATA.name)
    return meta[key]


def check_columns(frame: pd.DataFrame, target: str, params: PreprocessParams) -> None:
    """Every column named in params exists, and the target and time column are not dropped."""
    columns = [str(c) for c in frame.columns]
    named = [(target, "data.target"), *[(name, "preprocess.drop") for name in params.drop]]
    if params.time_column is not None:
        named.append((params.time_column, "preprocess.time_column"))
    for name, key in named:
        if name not in columns:
            raise DataError(f"is not a column of the data.{did_you_mean(name, columns)}", name, key)
    for kept, role in [(target, "target"), (params.time_column, "time column")]:
        if kept is not None and kept in params.drop:
            raise DataError(f"is the {role}, so it cannot be dropped", kept, "preprocess.drop")
    if target in params.roles:
        raise DataError("is the target, so it takes no role", target, "preprocess.roles")


def numeric_share(series: pd.Series) -> float:
    """Share of a column's non-missing values that parse as finite numbers (0.0 if none); each distinct value is
    parsed once."""
    counts = roles.distinct_counts(series)
    if counts.empty:
        return 0.0
    parsed = pd.to_numeric(pd.Series(counts.index).astype(str), errors="coerce")
    finite = np.isfinite(parsed.to_numpy(dtype=float, na_value=np.nan))
    return float(counts.to_numpy()[finite].sum() / counts.sum())


def coerce_numbers(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Parse numbers stored as text (≥ NUMERIC_SHARE of values); infinities become NaN."""
    out = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if column in exclude or pd.api.types.is_bool_dtype(series.dtype):
            continue
        if is_text(series) and numeric_share(series) >= NUMERIC_SHARE:
            series = pd.to_numeric(series.astype(object).where(series.notna(), np.nan), errors="coerce")
        if pd.api.types.is_float_dtype(series.dtype):
            series = series.mask(np.isinf(series.to_numpy(dtype=float, na_value=np.nan)))
        out[column] = series
    return out


def constant_reason(series: pd.Series) -> str | None:
    """Why a column carries no information (no value, or one value and no gaps), or None.

    One value with gaps is kept: whether a value is missing can itself be informative.
    """
    values = series.dropna().unique()
    if len(values) == 0:
        return "empty: every value is missing"
    one_value = len(values) == 1 and not series.isna().any()
    return f"constant: the only value is {values[0]!r}" if one_value else None


def drop_reasons(frame: pd.DataFrame, meta: Mapping[str, Any], params: PreprocessParams) -> dict[str, str]:
    """Columns to drop and why: params.drop, flagged identifiers and leaks, dates, constants."""
    keep = {meta_value(meta, "target"), params.time_column}
    reasons = {name: "listed in preprocess.drop" for name in params.drop}
    given = {n: f"role '{r}' in preprocess.roles" for n, r in params.roles.items() if r in NOT_FEATURES}
    reasons.update({n: why for n, why in given.items() if n not in reasons})
    flagged = [
        ("identifiers", params.drop_identifiers, "identifier"),
        ("leaks", params.drop_leaks, "label leak"),
    ]
    for key, wanted, label in flagged:
        names = [n for n in meta.get(key, []) if n not in params.roles] if wanted else []
        reasons.update({n: f"{label} (flagged by stage 'data')" for n in names if n not in reasons})
    for column in frame.columns:
        if column in reasons or column in keep:
            continue
        series = frame[column]
        if pd.api.types.is_timedelta64_dtype(series.dtype):  # timestamps are features (parts, durations)
            reasons[column] = "time spans: not a feature as they are"
        elif (reason := constant_reason(series)) is not None:
            reasons[column] = reason
    return {name: reason for name, reason in reasons.items() if name in frame.columns and name not in keep}


def feature_columns(frame: pd.DataFrame, target: str, time_column: str | None) -> list[str]:
    """The columns that can be features: all but the target and the time column."""
    return [c for c in frame.columns if c not in (target, time_column)]


def clean(
    frame: pd.DataFrame, meta: Mapping[str, Any], params: PreprocessParams
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Replace missing markers, coerce numbers, drop unlabeled and duplicate rows, then columns.

    Duplicates are identical whole records, found before any column is dropped: two customers
    who differ only by their ID are two observations. Returns the cleaned frame and {dropped
    column: reason}; the time column (if any) is listed there but kept in the frame, because
    `split` orders the rows by it and then removes it.
    """
    target = str(meta_value(meta, "target"))
    check_columns(frame, target, params)
    out = replace_markers(frame, params.missing_markers, [target])
    roles.check_overrides(out, params.roles)
    as_given = [name for name, role in params.roles.items() if role != "numeric"]  # '007' stays a code
    out = coerce_numbers(out, [target, *as_given])
    out = out[out[target].notna()]
    if out.empty:
        raise DataError("no rows left: every row lacks a target value", target, "preprocess")
    out = out.drop_duplicates() if params.deduplicate else out
    dropped = drop_reasons(out, meta, params)
    out = out.drop(columns=list(dropped))
    if not feature_columns(out, target, params.time_column):
        listed = "; ".join(f"{name}: {why}" for name, why in dropped.items())
        raise DataError(
            f"every feature column was dropped ({listed}); keep at least one", source="preprocess"
        )
    if params.time_column:
        dropped[params.time_column] = "time column: orders the split, not a feature"
    check_derived(out, dropped, params)
    return out, dropped


def check_derived(frame: pd.DataFrame, dropped: Mapping[str, str], params: PreprocessParams) -> None:
    """Each `preprocess.features` formula reads kept columns and gives numbers on the cleaned frame."""
    for name, formula in params.features.items():
        key = f"preprocess.features.{name}"
        parsed = expressions.parse(formula)
        gone = [column for column in parsed.columns if column in dropped]
        if gone:
            position = parsed.column_position(gone[0])
            reason = f"reads '{gone[0]}' (position {position}), which is not a feature: {dropped[gone[0]]}"
            raise DataError(reason + "; give it a role in preprocess.roles or leave it out", source=key)
        try:
            derived.numbers(parsed, frame)
        except expressions.ExpressionError as exc:
            raise DataError(str(exc), source=key) from None


# --- split -------------------------------------------------------------------------------------


def count_test_rows(n_rows: int, test_size: float) -> int:
    """Rows in the test part (rounded up, like scikit-learn); both parts must be non-empty."""
    n_test = math.ceil(n_rows * test_size)
    if n_test >= n_rows:
        raise DataError(f"{n_rows} rows are too few to split with test_size={test_size}", source="preprocess")
    return n_test


def time_order(frame: pd.DataFrame, time_column: str | None) -> np.ndarray[Any, np.dtype[np.intp]]:
    """Row positions sorted by time (stable), or in row order when there is no time column."""
    if time_column is None:
        return np.arange(len(frame), dtype=np.intp)
    if time_column not in frame.columns:
        hint = did_you_mean(time_column, [str(c) for c in frame.columns])
        raise DataError(f"is not a column of the data.{hint}", time_column, "preprocess.time_column")
    values = frame[time_column]
    if values.isna().any():
        raise DataError(f"{int(values.isna().sum())} rows have no time value", time_column, "preprocess")
    if is_text(values) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = parsed_times(values, time_column)
    return np.argsort(values.to_numpy(), kind="stable").astype(np.intp)


def parsed_times(values: pd.Series, time_column: str) -> pd.Series:
    """A time column parsed by the one timestamp rule (text order is not time order: '9:00' > '10:00')."""
    parsed = parse_timestamps(values)
    failed = values[parsed.isna()]
    if len(failed):
        reason = f"cannot be read as dates: {len(failed)} values do not parse, e.g. {failed.iloc[0]!r}"
        raise DataError(reason, time_column, "preprocess")
    return parsed


def split_labels(frame: pd.DataFrame, target: str, task: str, params: PreprocessParams) -> pd.Series | None:
    """What a stratified split keeps balanced: `stratify_column` (binned by `stratify_bins`) or the class."""
    if params.split != "stratified":
        return None
    column = params.stratify_column
    if column is None:
        return None if task == "regression" else stratify_labels(frame, target)
    if column not in frame.columns:
        raise DataError(
            "is not a column of the data" + did_you_mean(column, list(frame.columns)),
            column,
            "preprocess.stratify_column",
        )
    if not params.stratify_bins:
        return stratify_labels(frame.assign(**{column: frame[column].astype(str)}), column)
    binned = pd.cut(frame[column], bins=list(params.stratify_bins)).astype(str)
    return stratify_labels(frame.assign(**{column: binned}), column)


def stratify_labels(frame: pd.DataFrame, target: str) -> pd.Series:
    """The target, checked to have at least 2 rows per class (a stratified split needs them)."""
    counts = frame[target].value_counts()
    if counts.min() < 2:
        rare = counts.idxmin()
        raise DataError(
            f"class {rare!r} has only {int(counts.min())} row, a stratified split needs at least 2 per class; "
            "set preprocess.split to 'random' or collect more rows",
            target,
            "preprocess.split",
        )
    return frame[target]


def split(
    frame: pd.DataFrame, target: str, task: str, params: PreprocessParams, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, test): stratified (classification), random, or the latest rows by time.

    Regression with split 'stratified' splits at random. The time column is removed from both parts.
    """
    if target not in frame.columns:
        raise DataError("is not a column of the data", target, "data.target")
    n_test = count_test_rows(len(frame), params.test_size)
    if params.split == "time":
        ordered = frame.iloc[time_order(frame, params.time_column)]
        train, test = ordered.iloc[:-n_test], ordered.iloc[-n_test:]
    else:
        labels = split_labels(frame, target, task, params)
        try:
            train, test = train_test_split(frame, test_size=n_test, random_state=seed, stratify=labels)
        except ValueError as exc:
            raise DataError(f"cannot split: {exc}", target, "preprocess.split") from None
    drop = [params.time_column] if params.time_column in frame.columns else []
    return train.drop(columns=drop), test.drop(columns=drop)


# --- features ----------------------------------------------------------------------------------


def column_roles(meta: Mapping[str, Any], params: PreprocessParams) -> dict[str, str]:
    """Each column's role: the one stage `data` detected (data.json), or the one `preprocess.roles` gives."""
    return {**dict(meta.get("roles") or {}), **params.roles}


def feature_groups(train: pd.DataFrame, features: Sequence[str], found: Mapping[str, str]) -> dict[str, list[str]]:
    """Numeric, categorical and text features: text by role, numbers (and booleans) by dtype unless made categorical."""
    text = [c for c in features if found.get(c) == "text"]
    datetime = [
        c for c in features if found.get(c) == "datetime" or pd.api.types.is_datetime64_any_dtype(train[c].dtype)
    ]
    numeric = [
        c for c in features
        if c not in text and c not in datetime and found.get(c) != "categorical"
        and pd.api.types.is_numeric_dtype(train[c].dtype)
    ]
    categorical = [c for c in features if c not in numeric and c not in text and c not in datetime]
    return {"numeric": numeric, "categorical": categorical, "text": text, "datetime": datetime}


def infer_spec(train: pd.DataFrame, meta: Mapping[str, Any], params: PreprocessParams) -> FeatureSpec:
    """Numeric, categorical or text: free text by its role, then numbers and booleans numeric, everything else categorical.

    Integers stay numeric even with few levels: they are already a valid encoding (0/1 flags,
    ordinal codes) and one-hot encoding would throw their order away. `preprocess.roles` overrides.
    """
    target = str(meta_value(meta, "target"))
    features = feature_columns(train, target, params.time_column)
    if not features:
        raise DataError("no feature columns left to learn from", source="preprocess")
    groups = feature_groups(train, features, column_roles(meta, params))
    spec = {
        "target": target,
        "task": meta_value(meta, "task"),
        "classes": [str(c) for c in meta.get("classes") or ()],
        "positive_class": meta.get("positive_class"),
        **groups,
        "levels": most_levels(train, groups["categorical"]),  # lets native families skip counting levels
        "derived": dict(params.features),
        "transformer": params.model_dump(include=set(TransformerSettings.model_fields)),
    }
    imbalance.check_task(params.imbalance, str(spec["task"]))
    return FeatureSpec.from_json(spec, source="data.json + preprocess params")


# --- a look at what the transformer produces ---------------------------------------------------


def transform(preprocessor: ColumnTransformer | Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Transform, without the expected warning about categories unseen in training."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        result: pd.DataFrame = preprocessor.transform(frame)
    return result


def preview_rows(frame: pd.DataFrame, seed: int, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """At most `rows` rows of a split, a seeded random sample in split order, for the display-only transformer."""
    if len(frame) <= rows:
        return frame
    kept = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
    return frame.iloc[kept]


def fit_preview(spec: FeatureSpec, train: pd.DataFrame) -> ColumnTransformer | Pipeline:
    """A preprocessor fitted on the training rows given, only to show what it produces (later stages refit it in CV).

    With derived features it is a Pipeline whose "derive" step computes them before the ColumnTransformer.
    """
    steps = derive_steps(spec)
    columns = build_preprocessor(spec)
    preprocessor = Pipeline([*steps, ("columns", columns)]) if steps else columns
    return preprocessor.fit(train[list(spec.features)], train[spec.target])


# --- the artifact --------------------------------------------------------------------------------


def record(
    spec: FeatureSpec,
    dropped: Mapping[str, str],
    train: pd.DataFrame,
    test: pd.DataFrame,
    columns_out: int,
    params: PreprocessParams,
    seed: int,
) -> PreprocessRecord:
    """The content of preprocess.json: the spec, what was dropped, the split and a headline."""
    headline = {
        "train rows": len(train),
        "test rows": len(test),
        "features in": len(spec.features),
        "features out": columns_out,
        "dropped": short_list(list(dropped)),
    }
    split_info = {"method": params.split, "test_size": params.test_size, "time_column": params.time_column}
    return PreprocessRecord.model_validate({
        **spec.to_json(),
        "dropped": dict(dropped),
        "missing_markers": list(params.missing_markers),  # the service treats them as missing too
        "split": {**split_info, "seed": seed},
        "rows": {"train": len(train), "test": len(test)},
        "features_out": columns_out,
        "headline": headline,
    })
