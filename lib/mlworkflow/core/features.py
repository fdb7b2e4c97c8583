"""The unfitted transformers a feature spec builds (the spec itself, plain data, is in `core.spec`).

`FeatureSpec` is what stage `preprocess` saves in preprocess.json; every later stage and every model
family builds its preprocessing from it. The text helpers (`is_text`, `replace_markers`) clean the
training data in stage `preprocess` and the current data in stage `monitor` alike. `as_text` is
recorded by name inside saved models (skops bundles), so its qualified name
`mlworkflow.core.features.as_text` is part of the bundle format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from mlworkflow.core import derived, text, timestamps
from mlworkflow.core.spec import FeatureSpec as FeatureSpec  # the plain types live in core.spec: re-exported
from mlworkflow.core.spec import Task as Task
from mlworkflow.core.spec import TransformerSettings as TransformerSettings

MISSING_CATEGORY = "missing"
INDICATOR_PREFIX = "missingindicator"


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python strings and missing as NaN: pd.NA and mixed types trip scikit-learn."""
    columns = {i: text_values(frame.iloc[:, i]) for i in range(frame.shape[1])}
    return pd.DataFrame(columns, index=frame.index, dtype=object).set_axis(frame.columns, axis=1)


def text_values(values: pd.Series) -> np.ndarray:
    """One column as `as_text` gives it: each distinct value is converted once, then spread by its codes."""
    codes, uniques = pd.factorize(values)
    if not distinct_as_text(values, uniques):
        every = values.astype(object)
        missing = every.isna()
        return np.asarray(every.where(missing, every.astype(str)).where(~missing, np.nan), dtype=object)
    labels = pd.Series(uniques, dtype=object).astype(str).to_numpy(dtype=object)
    return np.append(labels, np.nan).astype(object)[codes]  # code -1 (missing) takes the NaN at the end


def distinct_as_text(values: pd.Series, uniques: Any) -> bool:
    """Whether factorized values map one-to-one to their text: strings and categories do; 1, 1.0 and True hash alike."""
    dtype = values.dtype
    if pd.api.types.is_object_dtype(dtype):
        return all(isinstance(value, str) for value in uniques)
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def is_text(series: pd.Series) -> bool:
    """True for object, string (any storage) and categorical columns."""
    dtype = series.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def replace_markers(frame: pd.DataFrame, markers: Sequence[str], exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Strip text columns; blank strings and the given markers (e.g. '?', 'unknown') become NaN."""
    out = frame.copy()
    for column in frame.columns:
        if column in exclude or not is_text(frame[column]):
            continue
        out[column] = cleaned_column(frame[column], markers)
    return out


def cleaned_column(values: pd.Series, markers: Sequence[str]) -> pd.Series:
    """`cleaned_text` as a column with the values' index and the dtype pandas infers for the cleaned rows."""
    codes, kept = cleaned_text(values, markers)
    if len(values) and all(isinstance(value, str) or (isinstance(value, float) and value != value) for value in kept):
        # strings and NaN only: the distinct cleaned values infer the rows' dtype (one pass over the distinct
        # values instead of one over every row), then each row takes its own
        return pd.Series(pd.Series(kept).array.take(codes), index=values.index)
    return pd.Series(kept[codes], index=values.index)


def cleaned_text(values: pd.Series, markers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One text column stripped, its blanks and markers NaN, as each row's code into the cleaned distinct values
    (NaN last); each distinct value is cleaned once when they map one-to-one to their text (`distinct_as_text`)."""
    codes, uniques = pd.factorize(values)
    labels = pd.Series(uniques, dtype=object)
    if not distinct_as_text(values, uniques):
        codes, labels = np.arange(len(values)), pd.Series(text_values(values), dtype=object)
    stripped = labels.where(labels.isna(), labels.astype(str).str.strip())
    gone = (stripped.isin(list(markers)) | stripped.eq("")).to_numpy()
    kept = np.array(stripped, dtype=object)
    kept[gone] = np.nan
    return np.where(codes < 0, len(kept), codes), np.append(kept, np.nan).astype(object)


def short_list(names: Sequence[str], limit: int = 3) -> str:
    """Names as 'a, b, c +2 more', or 'none' (record headlines and monitoring reasons)."""
    if not names:
        return "none"
    extra = f" +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + extra


# Types skops does not trust by default that the transformers built here hold (a saved model records them).
TRUSTED_TYPES: tuple[str, ...] = (f"{as_text.__module__}.{as_text.__qualname__}", "numpy.dtype", *text.TRUSTED_TYPES)


def derive_steps(spec: FeatureSpec) -> list[tuple[str, Any]]:
    """The pipeline's first step when the spec derives features: ("derive", DerivedFeatures); else none."""
    return [("derive", derived.DerivedFeatures(dict(spec.derived)))] if spec.derived else []


def datetime_pipeline(settings: TransformerSettings) -> Pipeline:
    """Timestamp parts with sin/cos and durations, then imputed and scaled like numbers."""
    return Pipeline([("parts", timestamps.TimestampFeatures(cyclical=True)), *numeric_pipeline(settings).steps])


def text_step() -> FunctionTransformer:
    """The step that normalises categorical values with `as_text` (its name is recorded in saved models)."""
    return FunctionTransformer(as_text, feature_names_out="one-to-one")


def names_stay_unique(spec: FeatureSpec) -> bool:
    """Whether short output names (no 'num__' prefixes) cannot collide, whatever the categories (or words)."""
    if spec.text:
        return False
    features = (*spec.features, *spec.derived)
    prefixed = any(a != b and a.startswith(f"{b}_") for a in features for b in spec.categorical + spec.datetime)
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
            ("text", text_step()),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", encoder),
        ]
    )


def text_blocks(spec: FeatureSpec, sparse: bool) -> list[tuple[str, Any, str]]:
    """The text columns' blocks: sparse TF-IDF, or its truncated SVD (dense) for models that need dense input."""
    settings = spec.transformer
    components = None if sparse else settings.text_components
    return text.blocks(
        spec.text, settings.text_ngrams, settings.text_char_ngrams, settings.text_max_features, components
    )


def build_preprocessor(spec: FeatureSpec, sparse_text: bool = False) -> ColumnTransformer:
    """The UNFITTED ColumnTransformer for the spec's features; dense pandas output.

    With text columns and `sparse_text`, the output is a sparse matrix holding the TF-IDF terms
    themselves (for the models that take sparse input); otherwise text becomes dense SVD components.
    """
    blocks = [
        ("numeric", numeric_pipeline(spec.transformer), [*spec.numeric, *spec.derived]),
        ("categorical", categorical_pipeline(spec.transformer), list(spec.categorical)),
        ("datetime", datetime_pipeline(spec.transformer), list(spec.datetime)),
    ]
    sparse = sparse_text and bool(spec.text)
    transformer = ColumnTransformer(
        [block for block in blocks if block[2]] + text_blocks(spec, sparse),
        remainder="drop",
        sparse_threshold=1.0 if sparse else 0.0,
        verbose_feature_names_out=not names_stay_unique(spec),
    )
    return transformer if sparse else transformer.set_output(transform="pandas")


def most_levels(frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """The most distinct present values of one of these columns (0 for none): no fold of `frame` has more."""
    return max((int(frame[column].nunique()) for column in columns), default=0)


def ordinal_preprocessor(spec: FeatureSpec, max_categories: int) -> ColumnTransformer:
    """For models that handle categories and NaN themselves: ordinal codes (NaN if missing or unseen), raw numerics."""
    # To find infrequent levels scikit-learn counts an object column's values one by one in Python (37 s of a
    # fit on 800k rows); with no column above `max_categories` levels none is infrequent, so it need not count.
    needed = spec.levels is None or spec.levels > max_categories
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=max_categories if needed else None,
    )
    blocks = [
        ("categorical", Pipeline([("text", text_step()), ("encode", encoder)]), list(spec.categorical)),
        ("numeric", "passthrough", [*spec.numeric, *spec.derived]),
        ("datetime", timestamps.TimestampFeatures(cyclical=False), list(spec.datetime)),
    ]
    transformer = ColumnTransformer(
        [b for b in blocks if b[2]] + text_blocks(spec, sparse=False), verbose_feature_names_out=False
    )
    return transformer.set_output(transform="pandas")
