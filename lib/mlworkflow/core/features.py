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

from mlworkflow.core import derived, expressions, text, timestamps
from mlworkflow.core.steps import Imbalance, Selection
from mlworkflow.errors import DataError

Task = Literal["binary", "multiclass", "regression"]

MISSING_CATEGORY = "missing"
INDICATOR_PREFIX = "missingindicator"


class TransformerSettings(BaseModel):
    """The settings that rebuild the ColumnTransformer and the optional steps after it (`core.steps`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric_imputer: Literal["median", "mean"] = "median"
    scale: bool = True
    min_frequency: float = Field(0.01, ge=0.0, lt=1.0)
    max_categories: int | None = Field(30, ge=2)
    # left out of preprocess.json when "none", so records written before these steps read and write unchanged
    feature_selection: Selection = Field("none", exclude_if=lambda value: value == "none")
    imbalance: Imbalance = Field("none", exclude_if=lambda value: value == "none")
    # the text settings too when they are the defaults: records of tables without text stay as they were
    text_ngrams: tuple[int, int] = Field((1, 2), exclude_if=lambda value: value == (1, 2))
    text_char_ngrams: tuple[int, int] | None = Field((2, 5), exclude_if=lambda value: value == (2, 5))
    text_max_features: int = Field(20_000, ge=10, exclude_if=lambda value: value == 20_000)
    text_components: int = Field(100, ge=2, exclude_if=lambda value: value == 100)


class FeatureSpec(BaseModel):
    """What to predict and how each feature is transformed; saved in preprocess.json."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    target: str
    task: Task
    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = Field((), exclude_if=lambda value: not value)
    # left out of preprocess.json when empty, so records of tables without them read and write unchanged
    datetime: tuple[str, ...] = Field((), exclude_if=lambda value: not value)
    derived: dict[str, str] = Field(default_factory=dict, exclude_if=lambda value: not value)  # {name: formula}
    transformer: TransformerSettings = TransformerSettings()
    # the most distinct values of one categorical column in the training rows (`most_levels`); None: unknown
    levels: int | None = Field(None, ge=0, exclude_if=lambda value: value is None)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if not self.features:
            raise ValueError("at least one numeric, categorical or text feature")
        if len(set(self.features)) != len(self.features) or self.target in self.features:
            raise ValueError("numeric, categorical, text and target to be disjoint")
        if problem := derived_problem(self):
            raise ValueError(problem)
        return self

    @property
    def features(self) -> tuple[str, ...]:
        """All input feature names: numeric first, then categorical, then text."""
        return self.numeric + self.categorical + self.text + self.datetime

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
        out[column] = pd.Series(cleaned_text(frame[column], markers), index=frame.index)
    return out


def cleaned_text(values: pd.Series, markers: Sequence[str]) -> np.ndarray:
    """One text column stripped, its blanks and markers NaN; each distinct value is cleaned once when they map
    one-to-one to their text (`distinct_as_text`)."""
    codes, uniques = pd.factorize(values)
    labels = pd.Series(uniques, dtype=object)
    if not distinct_as_text(values, uniques):
        codes, labels = np.arange(len(values)), pd.Series(text_values(values), dtype=object)
    stripped = labels.where(labels.isna(), labels.astype(str).str.strip())
    gone = (stripped.isin(list(markers)) | stripped.eq("")).to_numpy()
    kept = np.array(stripped, dtype=object)
    kept[gone] = np.nan
    return np.append(kept, np.nan).astype(object)[codes]


def short_list(names: Sequence[str], limit: int = 3) -> str:
    """Names as 'a, b, c +2 more', or 'none' (record headlines and monitoring reasons)."""
    if not names:
        return "none"
    extra = f" +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + extra


# Types skops does not trust by default that the transformers built here hold (a saved model records them).
TRUSTED_TYPES: tuple[str, ...] = (f"{as_text.__module__}.{as_text.__qualname__}", "numpy.dtype", *text.TRUSTED_TYPES)


def derived_problem(spec: FeatureSpec) -> str | None:
    """Why the derived features do not fit the spec (a name taken, a formula reading a non-feature), or None."""
    taken = {*spec.features, spec.target}
    for name, formula in spec.derived.items():
        if name in taken:
            return f"derived feature names distinct from the columns ('{name}' is a column)"
        try:
            read = expressions.parse(formula).columns
        except expressions.ExpressionError as exc:
            return f"derived features in the formula grammar ('{name}': {exc})"
        if missing := [column for column in read if column not in spec.features]:
            return f"derived features reading feature columns only ('{name}' reads '{missing[0]}')"
    return None


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
