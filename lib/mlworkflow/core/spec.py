"""The feature spec as plain data: what to predict and which columns are numeric, categorical, text or dates.

`FeatureSpec` is what stage `preprocess` saves in preprocess.json; records and registry metadata read it.
It lives apart from `core.features`, which builds scikit-learn transformers from it, so reading a record
imports neither scikit-learn nor pandas (a re-run that reuses every stage needs neither).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlworkflow.core import expressions
from mlworkflow.core.steps import Imbalance, Selection
from mlworkflow.errors import DataError

Task = Literal["binary", "multiclass", "regression"]


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
