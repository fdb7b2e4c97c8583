"""Stage `preprocess`: clean the raw frame, split train/test, declare the (unfitted) feature transformer."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlworkflow.errors import DataError, did_you_mean
from mlworkflow.params import PreprocessParams

NUMERIC_SHARE = 0.95  # a text column becomes numeric when this share of its values parse as numbers
MISSING_CATEGORY = "missing"
INDICATOR_PREFIX = "missingindicator"


# --- the feature spec (preprocess.json) -------------------------------------------------------


class TransformerSettings(BaseModel):
    """The settings that rebuild the ColumnTransformer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric_imputer: Literal["median", "mean"] = "median"
    scale: bool = True
    min_frequency: float = Field(0.01, ge=0.0, lt=1.0)
    max_categories: int | None = Field(30, ge=2)


class FeatureSpec(BaseModel):
    """What to predict and how each feature is transformed; saved in preprocess.json."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    target: str
    task: Literal["binary", "multiclass", "regression"]
    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    transformer: TransformerSettings = TransformerSettings()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if not self.features:
            raise ValueError("at least one numeric or categorical feature")
        if set(self.numeric) & set(self.categorical) or self.target in self.features:
            raise ValueError("numeric, categorical and target to be disjoint")
        return self

    @property
    def features(self) -> tuple[str, ...]:
        """All input feature names: numeric first, then categorical."""
        return self.numeric + self.categorical

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the preprocess.json keys the spec owns)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, value: Mapping[str, Any], source: str = "preprocess.json") -> FeatureSpec:
        """Load from preprocess.json's dict; extra keys (headline, dropped, ...) are ignored."""
        try:
            return cls.model_validate(dict(value))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise DataError(f"not a valid feature spec: {problems}", source=source) from None


# --- clean -------------------------------------------------------------------------------------


def meta_value(meta: Mapping[str, Any], key: str) -> Any:
    """A key of data.json, or a DataError naming it."""
    if key not in meta:
        raise DataError(f"has no '{key}' entry; re-run stage 'data'", source="data.json")
    return meta[key]


def is_text(series: pd.Series) -> bool:
    """True for object, string (any storage) and categorical columns."""
    dtype = series.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


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


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python strings and missing as NaN: pd.NA and mixed types trip scikit-learn."""
    values = frame.astype(object)
    missing = values.isna()
    return values.where(missing, values.astype(str)).astype(object).where(~missing, np.nan)


def replace_markers(frame: pd.DataFrame, markers: Sequence[str], exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Strip text columns; blank strings and the given markers (e.g. '?', 'unknown') become NaN."""
    out = frame.copy()
    for column in frame.columns:
        if column in exclude or not is_text(frame[column]):
            continue
        text = as_text(frame[[column]])[column]
        stripped = text.where(text.isna(), text.astype(str).str.strip())
        gone = stripped.isin(list(markers)) | stripped.eq("")
        out[column] = pd.Series(stripped.where(~gone, np.nan).to_numpy(dtype=object), index=frame.index)
    return out


def numeric_share(series: pd.Series) -> float:
    """Share of a column's non-missing values that parse as finite numbers (0.0 if none)."""
    present = series.dropna()
    if present.empty:
        return 0.0
    parsed = pd.to_numeric(present.astype(str), errors="coerce")
    return float(np.isfinite(parsed.to_numpy(dtype=float, na_value=np.nan)).mean())


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
    flagged = [
        ("identifiers", params.drop_identifiers, "identifier"),
        ("leaks", params.drop_leaks, "label leak"),
    ]
    for key, wanted, label in flagged:
        names = meta.get(key, []) if wanted else []
        reasons.update({n: f"{label} (flagged by stage 'data')" for n in names if n not in reasons})
    for column in frame.columns:
        if column in reasons or column in keep:
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(
            series.dtype
        ):
            reasons[column] = "date/time values: not a feature as they are"
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
    out = coerce_numbers(replace_markers(frame, params.missing_markers, [target]), [target])
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
    return out, dropped


def clean_summary(raw: pd.DataFrame, cleaned: pd.DataFrame, dropped: Mapping[str, str]) -> pd.DataFrame:
    """One row per raw column: dtype and missing values before and after cleaning, and what happened."""
    rows = []
    for column in raw.columns:
        after = cleaned[column] if column in cleaned.columns else None
        coerced = after is not None and is_text(raw[column]) and pd.api.types.is_numeric_dtype(after.dtype)
        action = (
            f"dropped: {dropped[column]}" if column in dropped else "text → number" if coerced else "kept"
        )
        rows.append(
            {
                "column": column,
                "dtype": str(raw[column].dtype),
                "dtype after": str(after.dtype) if after is not None else "",
                "missing": int(raw[column].isna().sum()),
                "missing after": int(after.isna().sum()) if after is not None else pd.NA,
                "action": action,
            }
        )
    return pd.DataFrame(rows).set_index("column")


def row_summary(raw: pd.DataFrame, cleaned: pd.DataFrame, target: str) -> pd.Series:
    """Rows in, rows removed (no target, duplicates) and rows out."""
    unlabeled = int(raw[target].isna().sum())
    counts = {
        "rows in": len(raw),
        "rows without a target": unlabeled,
        "duplicate rows removed": len(raw) - unlabeled - len(cleaned),
        "rows out": len(cleaned),
    }
    return pd.Series(counts, name="rows")


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
    if is_text(values):
        try:
            values = pd.to_datetime(values.astype(str), format="mixed")
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot be read as dates: {exc}", time_column, "preprocess") from None
    return np.argsort(values.to_numpy(), kind="stable").astype(np.intp)


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


def class_balance(train: pd.DataFrame, test: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows and share of each class in train and test."""
    counts = pd.DataFrame({"train": train[target].value_counts(), "test": test[target].value_counts()})
    counts = counts.fillna(0).astype(int).sort_index(key=lambda index: index.astype(str))
    shares = (counts / counts.sum()).round(3)
    table = pd.concat([counts.add_suffix(" rows"), shares.add_suffix(" share")], axis=1)
    return table[["train rows", "train share", "test rows", "test share"]].rename_axis(target)


def target_summary(train: pd.DataFrame, test: pd.DataFrame, target: str) -> pd.DataFrame:
    """Distribution of a numeric target in train and test."""
    table = pd.DataFrame({"train": train[target].describe(), "test": test[target].describe()})
    return table.round(3).rename_axis(target)


def balance(train: pd.DataFrame, test: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Class balance per split (classification) or the target's distribution (regression)."""
    if spec.task == "regression":
        return target_summary(train, test, spec.target)
    return class_balance(train, test, spec.target)


# --- features ----------------------------------------------------------------------------------


def infer_spec(train: pd.DataFrame, meta: Mapping[str, Any], params: PreprocessParams) -> FeatureSpec:
    """Numeric vs categorical by dtype; numbers and booleans are numeric, everything else categorical.

    Integers stay numeric even with few levels: they are already a valid encoding (0/1 flags,
    ordinal codes) and one-hot encoding would throw their order away.
    """
    target = str(meta_value(meta, "target"))
    features = feature_columns(train, target, params.time_column)
    if not features:
        raise DataError("no feature columns left to learn from", source="preprocess")
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c].dtype)]
    spec = {
        "target": target,
        "task": meta_value(meta, "task"),
        "classes": [str(c) for c in meta.get("classes") or ()],
        "positive_class": meta.get("positive_class"),
        "numeric": numeric,
        "categorical": [c for c in features if c not in numeric],
        "transformer": params.model_dump(include=set(TransformerSettings.model_fields)),
    }
    return FeatureSpec.from_json(spec, source="data.json + preprocess params")


def names_stay_unique(spec: FeatureSpec) -> bool:
    """Whether short output names (no 'num__' prefixes) cannot collide, whatever the categories."""
    features = spec.features
    prefixed = any(a != b and a.startswith(f"{b}_") for a in features for b in spec.categorical)
    return not prefixed and not any(name.startswith(INDICATOR_PREFIX) for name in features)


def numeric_pipeline(settings: TransformerSettings) -> Pipeline:
    """Impute (with missing indicators), then scale."""
    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy=settings.numeric_imputer, add_indicator=True)),
    ]
    if settings.scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def categorical_pipeline(settings: TransformerSettings) -> Pipeline:
    """Normalise to strings, fill missing with 'missing', one-hot encode with infrequent/unknown handling."""
    encoder = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=settings.min_frequency or None,  # 0.0 means "off"; scikit-learn wants None
        max_categories=settings.max_categories,
        sparse_output=False,
    )
    return Pipeline(
        [
            ("text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", encoder),
        ]
    )


def build_preprocessor(spec: FeatureSpec) -> ColumnTransformer:
    """The UNFITTED ColumnTransformer for the spec's features; dense pandas output."""
    blocks = [
        ("numeric", numeric_pipeline(spec.transformer), list(spec.numeric)),
        ("categorical", categorical_pipeline(spec.transformer), list(spec.categorical)),
    ]
    transformer = ColumnTransformer(
        [block for block in blocks if block[2]],
        remainder="drop",
        sparse_threshold=0.0,
        verbose_feature_names_out=not names_stay_unique(spec),
    )
    return transformer.set_output(transform="pandas")


def describe_step(step: Any) -> str:
    """A short human label for one pipeline step."""
    if isinstance(step, SimpleImputer):
        fill = f" {step.fill_value!r}" if step.strategy == "constant" else ""
        return f"impute {step.strategy}{fill}" + (" + missing indicators" if step.add_indicator else "")
    if isinstance(step, OneHotEncoder):
        return f"one-hot (min_frequency={step.min_frequency}, max_categories={step.max_categories})"
    if isinstance(step, FunctionTransformer):
        return "values as text"
    return "scale to mean 0, sd 1" if isinstance(step, StandardScaler) else type(step).__name__


def preprocessor_steps(preprocessor: ColumnTransformer) -> pd.DataFrame:
    """One row per step of each block of the transformer, in order, with the block's input count."""
    rows = [
        {"block": name, "step": number, "features in": len(columns), "does": describe_step(step)}
        for name, pipe, columns in preprocessor.transformers
        for number, (_, step) in enumerate(pipe.steps, start=1)
    ]
    return pd.DataFrame(rows).set_index(["block", "step"])


def feature_table(train: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """One row per feature: kind, dtype, distinct values and missing share in train."""
    rows = [
        {
            "feature": name,
            "kind": "numeric" if name in spec.numeric else "categorical",
            "dtype": str(train[name].dtype),
            "distinct": int(train[name].nunique()),
            "missing share": round(float(train[name].isna().mean()), 3),
        }
        for name in spec.features
    ]
    return pd.DataFrame(rows).set_index("feature")


# --- a look at what the transformer produces ---------------------------------------------------


def transform(preprocessor: ColumnTransformer, frame: pd.DataFrame) -> pd.DataFrame:
    """Transform, without the expected warning about categories unseen in training."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        result: pd.DataFrame = preprocessor.transform(frame)
    return result


def fit_preview(spec: FeatureSpec, train: pd.DataFrame) -> ColumnTransformer:
    """A preprocessor fitted on train, only to show what it produces (later stages refit it in CV)."""
    return build_preprocessor(spec).fit(train[list(spec.features)], train[spec.target])


def output_summary(fitted: ColumnTransformer) -> pd.DataFrame:
    """Features in and columns out per block of a fitted preprocessor, with a total."""
    rows = []
    for name, _, columns in fitted.transformers_:
        out = fitted.output_indices_[name]
        if name != "remainder":
            rows.append({"block": name, "features in": len(columns), "columns out": out.stop - out.start})
    table = pd.DataFrame(rows).set_index("block")
    table.loc["total"] = table.sum()
    return table


def matrix_checks(train_matrix: pd.DataFrame, test_matrix: pd.DataFrame) -> pd.DataFrame:
    """Rows, columns and missing values of the transformed train and test matrices."""
    rows = {
        name: {"rows": len(m), "columns": m.shape[1], "missing values": int(m.isna().sum().sum())}
        for name, m in [("train", train_matrix), ("test", test_matrix)]
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("matrix")


def matrix_sample(matrix: pd.DataFrame, rows: int, seed: int, decimals: int = 3) -> pd.DataFrame:
    """A reproducible sample of transformed rows, rounded for display."""
    return matrix.sample(min(rows, len(matrix)), random_state=seed).round(decimals)


def unseen_categories(train: pd.DataFrame, test: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Per categorical feature: test values never seen in train, and how many test rows have one."""
    rows = []
    for name in spec.categorical:
        seen = set(as_text(train[[name]])[name].dropna())
        values = as_text(test[[name]])[name].dropna()
        new = values[~values.isin(seen)]
        rows.append({"feature": name, "unseen values": int(new.nunique()), "test rows": len(new)})
    return pd.DataFrame(rows, columns=["feature", "unseen values", "test rows"]).set_index("feature")


# --- the artifact --------------------------------------------------------------------------------


def short_list(names: Sequence[str], limit: int = 3) -> str:
    """'a, b, c +2 more', or 'none'."""
    if not names:
        return "none"
    extra = f" +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + extra


def record(
    spec: FeatureSpec,
    dropped: Mapping[str, str],
    train: pd.DataFrame,
    test: pd.DataFrame,
    columns_out: int,
    params: PreprocessParams,
    seed: int,
) -> dict[str, Any]:
    """The content of preprocess.json: the spec, what was dropped, the split and a headline."""
    headline = {
        "train rows": len(train),
        "test rows": len(test),
        "features in": len(spec.features),
        "features out": columns_out,
        "dropped": short_list(list(dropped)),
    }
    split_info = {"method": params.split, "test_size": params.test_size, "time_column": params.time_column}
    return {
        **spec.to_json(),
        "dropped": dict(dropped),
        "missing_markers": list(params.missing_markers),  # the service treats them as missing too
        "split": {**split_info, "seed": seed},
        "rows": {"train": len(train), "test": len(test)},
        "features_out": columns_out,
        "headline": headline,
    }
