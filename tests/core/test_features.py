"""The feature spec (preprocess.json) and the unfitted transformers it builds."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from mlworkflow.core import features
from mlworkflow.errors import DataError


def transform(fitted: object, frame: pd.DataFrame) -> pd.DataFrame:
    """Transform without the expected warning about unseen categories."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        out: pd.DataFrame = fitted.transform(frame)  # type: ignore[attr-defined]
    return out


def test_spec_round_trips_through_json_and_ignores_extra_keys() -> None:
    spec = features.FeatureSpec(target="y", task="binary", classes=("a", "b"), numeric=("x",), categorical=("c",))
    data = {**spec.to_json(), "headline": {"rows": 3}, "dropped": {}}
    assert features.FeatureSpec.from_json(data) == spec
    assert data["transformer"] == {
        "numeric_imputer": "median",
        "scale": True,
        "min_frequency": 0.01,
        "max_categories": 30,
    }
    assert spec.features == ("x", "c")


def test_spec_from_json_names_the_missing_key() -> None:
    with pytest.raises(DataError, match=r"preprocess.json: .*numeric.*categorical|preprocess.json: .*task"):
        features.FeatureSpec.from_json({"target": "y", "numeric": ["x"]})


def test_spec_rejects_overlapping_features() -> None:
    with pytest.raises(DataError, match="disjoint"):
        features.FeatureSpec.from_json({"target": "y", "task": "binary", "numeric": ["x"], "categorical": ["x"]})


def test_spec_needs_a_feature() -> None:
    with pytest.raises(DataError, match="at least one"):
        features.FeatureSpec.from_json({"target": "y", "task": "regression"})


def test_transformer_output_names_and_infrequent_grouping() -> None:
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0] * 5, "c": ["a"] * 15 + ["b"] * 4 + ["rare"], "y": 0})
    spec = features.FeatureSpec(
        target="y",
        task="binary",
        numeric=("x",),
        categorical=("c",),
        transformer=features.TransformerSettings(min_frequency=0.1),
    )
    fitted = features.build_preprocessor(spec).fit(train)
    names = list(fitted.get_feature_names_out())
    assert names == ["x", "missingindicator_x", "c_a", "c_b", "c_infrequent_sklearn"]
    out = transform(fitted, pd.DataFrame({"x": [2.0], "c": ["never seen"]}))
    assert out.loc[0, "c_infrequent_sklearn"] == 1.0  # unknown goes to the infrequent column


def test_transformer_without_scaling_or_min_frequency() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"], "y": 0})
    settings = features.TransformerSettings(scale=False, min_frequency=0.0, max_categories=None)
    spec = features.FeatureSpec(
        target="y", task="regression", numeric=("x",), categorical=("c",), transformer=settings
    )
    preprocessor = features.build_preprocessor(spec)
    assert not any(isinstance(step, StandardScaler) for _, step in preprocessor.transformers[0][1].steps)
    out = preprocessor.fit_transform(train)
    assert out["x"].tolist() == [1.0, 2.0, 3.0]
    assert list(out.columns) == ["x", "c_a", "c_b", "c_c"]


def test_names_get_prefixes_when_they_could_collide() -> None:
    train = pd.DataFrame({"color_red": [1.0, 2.0], "color": ["red", "blue"], "y": [0, 1]})
    spec = features.FeatureSpec(target="y", task="binary", numeric=("color_red",), categorical=("color",))
    assert not features.names_stay_unique(spec)
    out = features.build_preprocessor(spec).fit_transform(train)
    assert "numeric__color_red" in out.columns and "categorical__color_red" in out.columns
    assert features.names_stay_unique(features.FeatureSpec(target="y", task="binary", numeric=("a",), categorical=("b",)))


def test_build_preprocessor_is_unfitted() -> None:
    spec = features.FeatureSpec(target="y", task="binary", numeric=("x",), categorical=("c",))
    with pytest.raises(NotFittedError):
        check_is_fitted(features.build_preprocessor(spec))


def test_as_text_gives_python_strings_and_nan_for_missing() -> None:
    frame = pd.DataFrame({"c": pd.Series(["a", None, "b"], dtype="string"), "n": [1, 2, 3]})
    out = features.as_text(frame)
    assert out["c"].tolist()[0] == "a" and np.isnan(out["c"].tolist()[1]) and out["n"].tolist() == ["1", "2", "3"]
    assert all(isinstance(value, str) for value in out["n"])


@pytest.mark.parametrize("dtype", [object, "str", "string[pyarrow]", "category"])
def test_is_text_for_every_text_dtype(dtype: Any) -> None:
    assert features.is_text(pd.Series(["a", None], dtype=dtype))


@pytest.mark.parametrize("values", [[1, 2], [1.5, np.nan], [True, False]])
def test_is_text_false_for_numbers_and_booleans(values: list[Any]) -> None:
    assert not features.is_text(pd.Series(values))


@pytest.mark.parametrize("dtype", [object, "str", "string[pyarrow]", "category"])
def test_replace_markers_strips_and_blanks(dtype: Any) -> None:
    frame = pd.DataFrame(
        {"c": pd.Series([" a ", "?", "", " unknown", None], dtype=dtype), "n": [1, 2, 3, 4, 5]}
    )
    out = features.replace_markers(frame, ["?", "unknown"])
    assert out["c"].tolist()[0] == "a"
    assert out["c"].isna().tolist() == [False, True, True, True, True]
    assert out["n"].tolist() == [1, 2, 3, 4, 5]


def test_replace_markers_turns_mixed_values_into_strings_and_skips_excluded() -> None:
    frame = pd.DataFrame({"c": pd.Series([1, "x", pd.NA], dtype=object), "y": ["?", "a", "b"]})
    out = features.replace_markers(frame, ["?"], exclude=["y"])
    assert out["c"].tolist()[:2] == ["1", "x"]
    assert out["c"].isna().tolist() == [False, False, True]
    assert out["y"].tolist() == ["?", "a", "b"]


def test_short_list() -> None:
    assert features.short_list([]) == "none"
    assert features.short_list(["a", "b"]) == "a, b"
    assert features.short_list(["a", "b", "c", "d", "e"]) == "a, b, c +2 more"


def test_ordinal_preprocessor_codes_categories_and_passes_numbers() -> None:
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0], "c": ["a", "b", None]})
    spec = features.FeatureSpec(target="y", task="binary", numeric=("x",), categorical=("c",))
    fitted = features.ordinal_preprocessor(spec, max_categories=255).fit(train)
    out = transform(fitted, pd.DataFrame({"x": [2.0, np.nan], "c": ["b", "never seen"]}))
    assert list(out.columns) == ["c", "x"]
    assert out["c"].iloc[0] == 1.0 and np.isnan(out["c"].iloc[1]) and np.isnan(out["x"].iloc[1])


def test_trusted_types_name_as_text_where_it_lives() -> None:
    assert "mlworkflow.core.features.as_text" in features.TRUSTED_TYPES
