"""The feature spec (preprocess.json) and the unfitted transformers it builds."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
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


def each_value_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The conversion one value at a time (what `as_text` did before it converted each distinct value once)."""
    values = frame.astype(object)
    missing = values.isna()
    return values.where(missing, values.astype(str)).astype(object).where(~missing, np.nan)


def test_as_text_converts_each_distinct_value_once_with_the_same_result() -> None:
    frame = pd.DataFrame({
        "object": ["x", None, "y", "x"], "string": pd.Series(["p", "q", pd.NA, "p"], dtype="string"),
        "category": pd.Categorical(["u", None, "v", "u"]), "mixed": [1, 1.0, True, None],  # equal hashes, three texts
        "floats": [1.5, np.nan, -0.0, 0.0], "ints": [1, 2, 3, 4], "codes": pd.Categorical([1, 2, None, 1]),
        "flags": pd.Series([True, False, None, True], dtype="boolean"),
    }, index=[7, 3, 5, 1])
    out, expected = features.as_text(frame), each_value_as_text(frame)
    assert out.index.equals(frame.index) and list(out.columns) == list(frame.columns)
    assert all(pd.api.types.is_object_dtype(dtype) for dtype in out.dtypes)
    for column in frame.columns:
        pairs = zip(out[column].tolist(), expected[column].tolist(), strict=True)
        assert all((a == b and type(a) is type(b)) or (a != a and b != b) for a, b in pairs), column
    assert out["mixed"].tolist()[:3] == ["1", "1.0", "True"]
    twice = pd.DataFrame([["a", "b"]], columns=["k", "k"])  # a repeated name keeps both columns
    assert features.as_text(twice).to_numpy().tolist() == [["a", "b"]]


def each_value_replaced(frame: pd.DataFrame, markers: list[str]) -> pd.DataFrame:
    """Markers and blanks replaced one value at a time (what `replace_markers` did before it cleaned each distinct value once)."""
    out = frame.copy()
    for column in frame.columns:
        if features.is_text(frame[column]):
            text = each_value_as_text(frame[[column]])[column]
            stripped = text.where(text.isna(), text.astype(str).str.strip())
            gone = stripped.isin(markers) | stripped.eq("")
            out[column] = pd.Series(stripped.where(~gone, np.nan).to_numpy(dtype=object), index=frame.index)
    return out


def test_replace_markers_cleans_each_distinct_value_once_with_the_same_result() -> None:
    frame = pd.DataFrame({
        "object": [" x", "?", "", None, "x "], "string": pd.Series(["p", " ?", "q", pd.NA, "  "], dtype="string"),
        "category": pd.Categorical(["u", "?", None, "u", "v"]), "mixed": [1, "?", True, None, 1.0],
        "numbers": [1.0, 2, 3, 4, 5], "str": pd.Series(["unknown", "k", None, "k", "?"], dtype="str"),
    }, index=[9, 3, 5, 1, 0])
    out, expected = features.replace_markers(frame, ["?", "unknown"]), each_value_replaced(frame, ["?", "unknown"])
    assert list(out.dtypes) == list(expected.dtypes) and out.index.equals(frame.index)
    for column in frame.columns:
        pairs = zip(out[column].tolist(), expected[column].tolist(), strict=True)
        assert all((a == b and type(a) is type(b)) or (a != a and b != b) for a, b in pairs), column
    assert out["object"].tolist()[0] == "x" and out["mixed"].tolist()[0] == "1" and pd.isna(out["mixed"].tolist()[1])


@pytest.mark.parametrize("rows", [0, 1, 5])
def test_replace_markers_infers_each_columns_dtype_as_from_every_row(rows: int) -> None:
    columns = {
        "plain": ["a", "b ", "a", "c", "b"], "all_markers": ["?", " ", "?", "", "?"], "no_gaps": ["x"] * 5,
        "pd_na": ["a", pd.NA, "?", "b", pd.NA], "none_only": [None] * 5, "large": pd.Series(list("abcde"), dtype="string"),
        "mixed": ["a", 1, pd.NA, 2.5, "?"],
    }
    frame = pd.DataFrame({name: pd.Series(values).iloc[:rows] for name, values in columns.items()})
    out, expected = features.replace_markers(frame, ["?"]), each_value_replaced(frame, ["?"])
    assert list(out.dtypes) == list(expected.dtypes) and out.index.equals(frame.index)
    for column in frame.columns:
        pairs = zip(out[column].tolist(), expected[column].tolist(), strict=True)
        assert all((a == b and type(a) is type(b)) or (a != a and b != b) for a, b in pairs), column


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


def levels_frame(rows: int = 400) -> pd.DataFrame:
    """Two categorical columns of 7 and 3 levels, with missing values, and a number."""
    rng = np.random.default_rng(0)
    many = rng.choice([f"v{i}" for i in range(7)], rows, p=[0.4, 0.3, 0.1, 0.1, 0.05, 0.03, 0.02]).astype(object)
    many[rng.random(rows) < 0.1] = None
    return pd.DataFrame({"x": rng.normal(size=rows), "c": many, "d": rng.choice(["p", "q", "r"], rows)})


def encoder(spec: features.FeatureSpec, max_categories: int) -> Any:
    """The OrdinalEncoder inside the ordinal preprocessor of a spec."""
    blocks = {name: step for name, step, _ in features.ordinal_preprocessor(spec, max_categories).transformers}
    return blocks["categorical"]["encode"]


def test_most_levels_counts_present_values_of_the_widest_column() -> None:
    assert features.most_levels(levels_frame(), ["c", "d"]) == 7
    assert features.most_levels(levels_frame(), []) == 0


@pytest.mark.parametrize("max_categories", [3, 7, 255])
def test_known_levels_skip_the_infrequent_count_only_when_none_can_be_infrequent(max_categories: int) -> None:
    frame = levels_frame()
    base = {"target": "y", "task": "binary", "numeric": ("x",), "categorical": ("c", "d")}
    known = features.FeatureSpec(**base, levels=features.most_levels(frame, ["c", "d"]))
    unknown = features.FeatureSpec(**base)  # a record written before levels: counts as before
    assert encoder(unknown, max_categories).max_categories == max_categories
    assert encoder(known, max_categories).max_categories == (None if max_categories >= 7 else max_categories)
    fitted = [features.ordinal_preprocessor(spec, max_categories).fit(frame) for spec in (known, unknown)]
    probe = pd.concat([frame, pd.DataFrame({"x": [0.0], "c": ["never seen"], "d": ["p"]})], ignore_index=True)
    pd.testing.assert_frame_equal(transform(fitted[0], probe), transform(fitted[1], probe))


def test_trusted_types_name_as_text_where_it_lives() -> None:
    assert "mlworkflow.core.features.as_text" in features.TRUSTED_TYPES


# --- text columns ----------------------------------------------------------------------------------

MESSAGES = ["win a free prize now", "lunch tomorrow at noon", "free entry win cash", "see you at lunch", None]


def text_frame(rows: int = 40) -> pd.DataFrame:
    """A numeric, a categorical and a text column (one message missing), and a target the words decide."""
    messages = [MESSAGES[i % len(MESSAGES)] for i in range(rows)]
    return pd.DataFrame({
        "x": np.arange(rows, dtype=float), "c": ["a", "b"] * (rows // 2), "message": messages,
        "y": ["spam" if m and ("free" in m or "win" in m) else "ham" for m in messages],
    })


def text_spec(**settings: Any) -> features.FeatureSpec:
    return features.FeatureSpec(target="y", task="binary", classes=("ham", "spam"), numeric=("x",),
                                categorical=("c",), text=("message",), transformer=settings)


def test_text_is_a_feature_group_of_the_spec() -> None:
    spec = text_spec()
    assert spec.features == ("x", "c", "message")
    with pytest.raises(DataError, match="disjoint"):
        features.FeatureSpec.from_json({"target": "y", "task": "binary", "categorical": ["t"], "text": ["t"]})
    only_text = features.FeatureSpec(target="y", task="binary", text=("message",))
    assert only_text.features == ("message",)


def test_sparse_text_keeps_the_terms_bounded_in_number() -> None:
    frame = text_frame()
    fitted = features.build_preprocessor(text_spec(text_max_features=10), sparse_text=True).fit(frame, frame["y"])
    out = fitted.transform(frame)
    names = list(fitted.get_feature_names_out())
    assert sp.issparse(out) and out.shape[1] == len(names)
    words = [n for n in names if n.startswith("text_words_message__")]
    chars = [n for n in names if n.startswith("text_chars_message__")]
    assert len(words) == 10 and len(chars) == 10  # max_features per analyzer
    assert "text_words_message__free" in words
    assert names[:3] == ["numeric__x", "categorical__c_a", "categorical__c_b"]  # the other blocks as before


def test_dense_text_is_reduced_to_components_for_every_other_family() -> None:
    frame = text_frame()
    fitted = features.build_preprocessor(text_spec(text_components=3)).fit(frame, frame["y"])
    out = fitted.transform(frame)
    assert isinstance(out, pd.DataFrame) and not out.isna().any().any()
    assert [c for c in out.columns if c.startswith("text_")] == [f"text_words_message__message_{i}" for i in range(3)]
    ordinal = features.ordinal_preprocessor(text_spec(text_components=3), max_categories=255).fit(frame)
    assert list(ordinal.transform(frame).columns) == ["c", "x", "message_0", "message_1", "message_2"]


def test_text_without_chars_and_with_a_vocabulary_smaller_than_the_components() -> None:
    frame = text_frame(10)
    fitted = features.build_preprocessor(text_spec(text_char_ngrams=None), sparse_text=True).fit(frame)
    assert not any("chars" in n for n in fitted.get_feature_names_out())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skrub says it keeps the first columns instead of an SVD
        dense = features.build_preprocessor(text_spec(text_components=50)).fit(frame).transform(frame)
    assert dense.shape[0] == 10 and np.isfinite(dense.to_numpy(dtype=float)).all()


def test_without_text_the_transformer_is_unchanged() -> None:
    spec = features.FeatureSpec(target="y", task="binary", numeric=("x",), categorical=("c",))
    built = features.build_preprocessor(spec, sparse_text=True)
    assert [name for name, _, _ in built.transformers] == ["numeric", "categorical"]
    assert built.sparse_threshold == 0.0 and built.verbose_feature_names_out is False


# --- timestamps and derived features ---------------------------------------------------------------


def trips_frame(rows: int = 60) -> pd.DataFrame:
    """Trips over a week: pickup/dropoff timestamps as text, a distance, a colour and a fare."""
    rng = np.random.default_rng(0)
    pickup = pd.Timestamp("2019-03-04") + pd.to_timedelta(rng.integers(0, 7 * 24 * 60, rows), unit="min")
    minutes = rng.uniform(2, 40, rows)
    dropoff = pickup + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame({
        "pickup": pickup.strftime("%Y-%m-%d %H:%M:%S"),
        "dropoff": dropoff.strftime("%Y-%m-%d %H:%M:%S"),
        "distance": rng.uniform(0.5, 10, rows),
        "color": rng.choice(["yellow", "green"], rows),
        "fare": 2.5 + 0.5 * minutes,
    })


def trips_spec(**changes: Any) -> features.FeatureSpec:
    """A regression spec with two timestamp columns and two derived features."""
    fields: dict[str, Any] = {
        "target": "fare", "task": "regression", "numeric": ("distance",), "categorical": ("color",),
        "datetime": ("pickup", "dropoff"),
        "derived": {"trip_minutes": "minutes(dropoff - pickup)", "hour": "hour(pickup)"},
    }
    return features.FeatureSpec(**{**fields, **changes})


def test_timestamps_and_derived_features_are_groups_of_the_spec() -> None:
    spec = trips_spec()
    assert spec.features == ("distance", "color", "pickup", "dropoff")  # raw inputs only: the contract's columns
    assert features.FeatureSpec.from_json(spec.to_json()) == spec
    plain = features.FeatureSpec(target="y", task="binary", numeric=("x",)).to_json()
    assert "derived" not in plain and "datetime" not in plain  # records without them stay as they were


@pytest.mark.parametrize(
    ("derived", "problem"),
    [
        ({"distance": "distance * 2"}, "'distance' is a column"),
        ({"fare2": "fare * 2"}, "'fare2' reads 'fare'"),
        ({"bad": "distance.real"}, "'bad': attribute access is not allowed"),
    ],
)
def test_derived_features_must_be_new_names_of_formulas_of_the_features(derived: dict[str, str], problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        features.FeatureSpec.from_json(trips_spec().to_json() | {"derived": derived})


def test_the_datetime_block_gives_parts_and_durations_imputed_and_scaled() -> None:
    frame = trips_frame()
    fitted = features.build_preprocessor(trips_spec(derived={})).fit(frame)
    out = transform(fitted, frame)
    names = list(out.columns)
    assert {"pickup_hour", "pickup_hour_sin", "pickup_weekday_cos", "dropoff_minus_pickup_minutes"} <= set(names)
    assert out.filter(like="pickup_").notna().all().all()
    assert abs(float(out["pickup_hour"].mean())) < 1e-9  # scaled like the numeric block


def test_the_derive_step_comes_first_and_the_pipeline_takes_raw_columns_only() -> None:
    from mlworkflow.core import families

    frame = trips_frame()
    spec = trips_spec()
    for family in ("logistic", "hist_gradient_boosting"):
        pipeline = families.make_pipeline(spec, family, 0).fit(frame[list(spec.features)], frame["fare"])
        assert pipeline.steps[0][0] == "derive"
        assert list(pipeline.feature_names_in_) == list(spec.features)
        one_row = frame[list(spec.features)].head(1)
        assert pipeline.predict(one_row)[0] == pytest.approx(pipeline.predict(frame[list(spec.features)])[0])
    assert features.derive_steps(trips_spec(derived={})) == []


def test_a_fitted_pipeline_with_timestamps_and_formulas_loads_with_the_registry_trust() -> None:
    import skops.io as sio

    from mlworkflow.bundle import registry
    from mlworkflow.core import families

    frame = trips_frame()
    spec = trips_spec()
    pipeline = families.make_pipeline(spec, "hist_gradient_boosting", 0).fit(frame[list(spec.features)], frame["fare"])
    data = sio.dumps(pipeline)
    assert set(sio.get_untrusted_types(data=data)) <= set(registry.default_trusted())
    loaded = sio.loads(data, trusted=list(registry.default_trusted()))
    X = frame[list(spec.features)]
    assert np.array_equal(loaded.predict(X), pipeline.predict(X))


def test_output_names_get_prefixes_when_a_timestamp_part_could_collide() -> None:
    assert features.names_stay_unique(trips_spec(numeric=(), categorical=(), derived={}))
    assert not features.names_stay_unique(trips_spec(numeric=("pickup_hour",), categorical=(), derived={}))
