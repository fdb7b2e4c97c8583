"""The feature spec (what to predict, which columns are numeric or categorical) and the unfitted transformers it builds.

`FeatureSpec` is what stage `preprocess` saves in preprocess.json; every later stage and every model
family builds its preprocessing from it. The text helpers (`is_text`, `replace_markers`) clean the
training data in stage `preprocess` and the current data in stage `monitor` alike. `as_text` is
recorded by name inside saved models (skops bundles), so its qualified name
`mlworkflow.core.features.as_text` is part of the bundle format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from mlworkflow.errors import DataError

Task = Literal["binary", "multiclass", "regression"]

MISSING_CATEGORY = "missing"
INDICATOR_PREFIX = "missingindicator"


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
    task: Task
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


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python strings and missing as NaN: pd.NA and mixed types trip scikit-learn."""
    values = frame.astype(object)
    missing = values.isna()
    return values.where(missing, values.astype(str)).astype(object).where(~missing, np.nan)


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
        text = as_text(frame[[column]])[column]
        stripped = text.where(text.isna(), text.astype(str).str.strip())
        gone = stripped.isin(list(markers)) | stripped.eq("")
        out[column] = pd.Series(stripped.where(~gone, np.nan).to_numpy(dtype=object), index=frame.index)
    return out


def short_list(names: Sequence[str], limit: int = 3) -> str:
    """Names as 'a, b, c +2 more', or 'none' (record headlines and monitoring reasons)."""
    if not names:
        return "none"
    extra = f" +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + extra


# Types skops does not trust by default that the transformers built here hold (a saved model records them).
TRUSTED_TYPES: tuple[str, ...] = (f"{as_text.__module__}.{as_text.__qualname__}", "numpy.dtype")


def text_step() -> FunctionTransformer:
    """The step that normalises categorical values with `as_text` (its name is recorded in saved models)."""
    return FunctionTransformer(as_text, feature_names_out="one-to-one")


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
            ("text", text_step()),
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


def ordinal_preprocessor(spec: FeatureSpec, max_categories: int) -> ColumnTransformer:
    """For models that handle categories and NaN themselves: ordinal codes (NaN if missing or unseen), raw numerics."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=max_categories,
    )
    blocks = [
        ("categorical", Pipeline([("text", text_step()), ("encode", encoder)]), list(spec.categorical)),
        ("numeric", "passthrough", list(spec.numeric)),
    ]
    transformer = ColumnTransformer([b for b in blocks if b[2]], verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas")
