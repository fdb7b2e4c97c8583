"""Tests of stage `preprocess`: cleaning, splitting, the feature spec and the unfitted transformer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from mlworkflow import io
from mlworkflow.core import features
from mlworkflow.core.features import FeatureSpec, build_preprocessor
from mlworkflow.errors import DataError
from mlworkflow.params import PreprocessParams
from mlworkflow.records import RAW, TEST_SPLIT, TRAIN_SPLIT, DataRecord, PreprocessRecord
from mlworkflow.stages import preprocess as pp
from mlworkflow.views import preprocess as view
from tests import recordkit

META: dict[str, Any] = {
    "target": "y",
    "task": "binary",
    "classes": ["no", "yes"],
    "positive_class": "yes",
    "identifiers": ["id"],
    "leaks": ["outcome"],
}


def make_frame(n: int = 40) -> pd.DataFrame:
    """A small raw frame with an identifier, a leak, text numbers, markers, a constant and a bool."""
    rng = np.random.default_rng(0)
    charges = [f" {v:.2f}" for v in rng.uniform(10, 100, n)]
    charges[3] = " "
    y = np.array(["no"] * (n - n // 4) + ["yes"] * (n // 4))
    return pd.DataFrame(
        {
            "id": [f"c{i:03d}" for i in range(n)],
            "age": rng.integers(18, 80, n),
            "charges": charges,
            "city": rng.choice(["north", "south", "east", "?"], n),
            "flag": rng.choice([True, False], n),
            "const": "same",
            "outcome": y,
            "y": y,
        }
    )


def params(**changes: Any) -> PreprocessParams:
    """Preprocess params with a few fields changed."""
    return PreprocessParams(**changes)


def spec_for(train: pd.DataFrame, **changes: Any) -> FeatureSpec:
    """The inferred spec of a cleaned frame."""
    return pp.infer_spec(train, META, params(**changes))


# --- clean ---------------------------------------------------------------------------------------


def test_meta_value_names_the_missing_entry() -> None:
    with pytest.raises(DataError, match=r"data.json: has no 'target' entry"):
        pp.meta_value({}, "target")


def test_numeric_share() -> None:
    assert pp.numeric_share(pd.Series(["1", "2.5", "x", None])) == pytest.approx(2 / 3)
    assert pp.numeric_share(pd.Series([None, None], dtype=object)) == 0.0
    assert pp.numeric_share(pd.Series(["inf", "1"])) == 0.5


def test_coerce_numbers_parses_text_numbers() -> None:
    frame = pd.DataFrame({"t": ["1.5", None, "3"], "y": ["1", "2", "3"], "b": [True, False, True]})
    out = pp.coerce_numbers(frame, exclude=["y"])
    assert out["t"].dtype == np.float64
    assert out["t"].tolist()[::2] == [1.5, 3.0]
    assert features.is_text(out["y"])
    assert out["b"].dtype == bool


def test_coerce_numbers_keeps_mostly_text_and_clears_infinity() -> None:
    text = [str(i) for i in range(18)] + ["a", "b"]  # 90% numbers: below the 95% threshold
    frame = pd.DataFrame({"t": text, "f": [np.inf, -np.inf, *range(18)]})
    out = pp.coerce_numbers(frame)
    assert features.is_text(out["t"])
    assert out["f"].isna().sum() == 2


def test_clean_drops_flagged_constant_and_listed_columns_with_reasons() -> None:
    frame = make_frame().assign(empty=np.nan, extra=1.0)
    frame.loc[0, "extra"] = 2.0
    cleaned, dropped = pp.clean(frame, META, params(drop=("extra",)))
    assert dropped == {
        "extra": "listed in preprocess.drop",
        "id": "identifier (flagged by stage 'data')",
        "outcome": "label leak (flagged by stage 'data')",
        "const": "constant: the only value is 'same'",
        "empty": "empty: every value is missing",
    }
    assert list(cleaned.columns) == ["age", "charges", "city", "flag", "y"]
    assert cleaned["charges"].dtype == np.float64
    assert cleaned["charges"].isna().sum() == 1
    assert cleaned["city"].isna().sum() == (frame["city"] == "?").sum()


def test_clean_keeps_flagged_columns_when_told() -> None:
    cleaned, dropped = pp.clean(make_frame(), META, params(drop_identifiers=False, drop_leaks=False))
    assert {"id", "outcome"} <= set(cleaned.columns)
    assert set(dropped) == {"const"}


def test_clean_never_drops_the_target_or_time_column_automatically() -> None:
    frame = make_frame().assign(when=1)
    meta = {**META, "identifiers": ["id", "y"]}
    cleaned, dropped = pp.clean(frame, meta, params(split="time", time_column="when"))
    assert {"y", "when"} <= set(cleaned.columns)
    assert dropped["when"].startswith("time column")
    assert "y" not in dropped


def test_constant_reason_keeps_one_value_with_gaps() -> None:
    assert pp.constant_reason(pd.Series(["no", "no"])) == "constant: the only value is 'no'"
    assert pp.constant_reason(pd.Series(["no", None])) is None  # 'unknown' vs 'no' can be informative
    assert pp.constant_reason(pd.Series([None, None], dtype=object)) == "empty: every value is missing"
    assert pp.constant_reason(pd.Series([1, 2])) is None


def test_clean_keeps_date_columns_as_features_and_drops_time_spans() -> None:
    days = pd.date_range("2020-01-01", periods=40)
    frame = make_frame().assign(day=days, span=days - days[0])
    cleaned, dropped = pp.clean(frame, META, params())
    assert "day" in cleaned.columns and "day" not in dropped
    assert dropped["span"].startswith("time spans")


def with_duplicates() -> pd.DataFrame:
    """The standard frame plus 5 repeated rows, 2 rows that differ only by id, and one row without a target."""
    frame = make_frame()
    other_ids = frame.iloc[:2].assign(id=["d1", "d2"])  # same features, other customers: kept
    raw = pd.concat([frame, frame.iloc[:5], other_ids], ignore_index=True)
    raw.loc[len(raw) - 3, "y"] = None
    return raw


def test_clean_removes_duplicates_and_unlabeled_rows() -> None:
    raw = with_duplicates()
    cleaned, _ = pp.clean(raw, META, params())
    assert len(cleaned) == 42
    kept, _ = pp.clean(raw, META, params(deduplicate=False))
    assert len(kept) == 46


def test_clean_rejects_unknown_drop_column_with_hint() -> None:
    with pytest.raises(
        DataError, match=r"preprocess.drop: column 'cty': is not a column.*Did you mean 'city'"
    ):
        pp.clean(make_frame(), META, params(drop=("cty",)))


def test_clean_rejects_unknown_time_column() -> None:
    with pytest.raises(DataError, match=r"preprocess.time_column: column 'agee'.*Did you mean 'age'"):
        pp.clean(make_frame(), META, params(split="time", time_column="agee"))


def test_clean_rejects_unknown_target() -> None:
    with pytest.raises(DataError, match=r"data.target: column 'label': is not a column"):
        pp.clean(make_frame(), {**META, "target": "label"}, params())


@pytest.mark.parametrize(("name", "role"), [("y", "target"), ("age", "time column")])
def test_clean_refuses_to_drop_target_or_time_column(name: str, role: str) -> None:
    with pytest.raises(DataError, match=rf"column '{name}': is the {role}, so it cannot be dropped"):
        pp.clean(make_frame(), META, params(drop=(name,), time_column="age"))


def test_clean_rejects_dropping_everything() -> None:
    frame = make_frame()[["id", "const", "y"]]
    with pytest.raises(
        DataError, match=r"every feature column was dropped \(id: identifier.*const: constant"
    ):
        pp.clean(frame, META, params())


def test_clean_rejects_frame_without_labels() -> None:
    frame = make_frame().assign(y=None)
    with pytest.raises(DataError, match="no rows left"):
        pp.clean(frame, META, params())


# --- split ---------------------------------------------------------------------------------------


def test_count_test_rows_rounds_up_and_needs_both_parts() -> None:
    assert pp.count_test_rows(10, 0.25) == 3
    with pytest.raises(DataError, match="too few to split"):
        pp.count_test_rows(1, 0.5)


def test_stratified_split_keeps_class_ratios() -> None:
    frame = pd.DataFrame({"x": range(100), "y": ["a"] * 80 + ["b"] * 20})
    train, test = pp.split(frame, "y", "binary", params(), seed=1)
    assert len(test) == 20 and len(train) == 80
    assert (test["y"] == "b").sum() == 4 and (train["y"] == "b").sum() == 16
    assert set(train.index).isdisjoint(test.index)


def test_random_split_is_seeded() -> None:
    frame = pd.DataFrame({"x": range(50), "y": [0, 1] * 25})
    first = pp.split(frame, "y", "binary", params(split="random"), seed=3)[1]
    again = pp.split(frame, "y", "binary", params(split="random"), seed=3)[1]
    other = pp.split(frame, "y", "binary", params(split="random"), seed=4)[1]
    assert first.index.tolist() == again.index.tolist() != other.index.tolist()


def test_regression_with_stratified_splits_at_random() -> None:
    frame = pd.DataFrame({"x": range(30), "y": np.linspace(0, 1, 30)})
    train, test = pp.split(frame, "y", "regression", params(), seed=0)
    assert (len(train), len(test)) == (24, 6)


def test_time_split_puts_latest_rows_in_test_and_drops_time_column() -> None:
    times = pd.date_range("2021-01-01", periods=10, freq="D")
    frame = pd.DataFrame({"when": times, "x": range(10), "y": [0, 1] * 5}).sample(frac=1, random_state=0)
    train, test = pp.split(frame, "y", "binary", params(split="time", time_column="when", test_size=0.3), 0)
    assert sorted(test["x"]) == [7, 8, 9]
    assert sorted(train["x"]) == list(range(7))
    assert "when" not in train.columns and "when" not in test.columns


def test_time_split_without_column_keeps_row_order() -> None:
    frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    train, test = pp.split(frame, "y", "binary", params(split="time", test_size=0.2), 0)
    assert test["x"].tolist() == [8, 9]
    assert train["x"].tolist() == list(range(8))


def test_time_split_parses_text_dates() -> None:
    frame = pd.DataFrame(
        {"when": ["2020-03-01", "2020-01-15", "2020-02-01", "2019-12-31"], "y": [0, 1, 0, 1]}
    )
    train, test = pp.split(frame, "y", "binary", params(split="time", time_column="when", test_size=0.25), 0)
    assert test.index.tolist() == [0]
    assert train.index.tolist() == [3, 1, 2]


def test_time_split_rejects_unparsable_or_missing_times() -> None:
    bad = pd.DataFrame({"when": ["soon", "later", "now"], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"column 'when': cannot be read as dates"):
        pp.split(bad, "y", "binary", params(split="time", time_column="when"), 0)
    gap = pd.DataFrame({"when": [1.0, None, 3.0], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"column 'when': 1 rows have no time value"):
        pp.split(gap, "y", "binary", params(split="time", time_column="when"), 0)


def test_time_split_rejects_missing_time_column() -> None:
    frame = pd.DataFrame({"when": [1, 2, 3], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"preprocess.time_column: column 'wen'.*Did you mean 'when'"):
        pp.split(frame, "y", "binary", params(split="time", time_column="wen"), 0)


def test_stratified_split_rejects_a_class_too_small() -> None:
    frame = pd.DataFrame({"x": range(10), "y": ["a"] * 9 + ["b"]})
    with pytest.raises(DataError, match=r"column 'y': class 'b' has only 1 row.*'random'"):
        pp.split(frame, "y", "binary", params(), 0)


def test_stratified_split_rejects_test_part_smaller_than_class_count() -> None:
    frame = pd.DataFrame({"x": range(6), "y": ["a", "b", "c"] * 2})
    with pytest.raises(DataError, match=r"preprocess.split: column 'y': cannot split"):
        pp.split(frame, "y", "multiclass", params(), 0)


# --- features ------------------------------------------------------------------------------------


def clean_split(frame: pd.DataFrame | None = None, **changes: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean and split the standard frame."""
    settings = params(**changes)
    cleaned, _ = pp.clean(make_frame() if frame is None else frame, META, settings)
    return pp.split(cleaned, "y", "binary", settings, seed=0)


def test_infer_spec_by_dtype() -> None:
    frame = make_frame().assign(code=pd.Series(["1", "2"] * 20).astype("category"), ratio=0.5)
    frame.loc[0, "ratio"] = 0.25
    train, _ = clean_split(frame, min_frequency=0.0, scale=False)
    spec = spec_for(train, min_frequency=0.0, scale=False)
    assert spec.numeric == ("age", "charges", "flag", "code", "ratio")  # '1'/'2' text parses as numbers
    assert spec.categorical == ("city",)
    assert (spec.target, spec.task, spec.classes, spec.positive_class) == (
        "y",
        "binary",
        ("no", "yes"),
        "yes",
    )
    assert spec.transformer.min_frequency == 0.0 and spec.transformer.scale is False


def test_infer_spec_excludes_time_column_and_rejects_bad_meta() -> None:
    train = pd.DataFrame({"t": [1, 2], "x": ["a", "b"], "y": [0, 1]})
    assert spec_for(train, time_column="t").features == ("x",)
    with pytest.raises(DataError, match="task"):
        pp.infer_spec(train, {**META, "task": "auto"}, params())
    with pytest.raises(DataError, match="no feature columns"):
        pp.infer_spec(train[["y"]], META, params())


def test_build_preprocessor_is_unfitted() -> None:
    train, _ = clean_split()
    preprocessor = build_preprocessor(spec_for(train))
    with pytest.raises(NotFittedError):
        check_is_fitted(preprocessor)


@pytest.mark.parametrize("dtype", [object, "str", "string[pyarrow]", "category"])
def test_fitted_transformer_handles_unseen_categories_and_nans(dtype: Any) -> None:
    train, _ = clean_split()
    train = train.assign(city=train["city"].astype(dtype))
    spec = spec_for(train)
    fitted = build_preprocessor(spec).fit(train, train["y"])
    test = pd.DataFrame(
        {
            "age": [np.nan, 30],
            "charges": [np.nan, 5.0],
            "flag": [True, False],
            "city": pd.Series(["atlantis", None], dtype=dtype),
        }
    )
    out = fitted.transform(test)
    assert list(out.columns) == list(fitted.get_feature_names_out())
    assert out.shape == (2, len(out.columns)) and not out.isna().any().any()
    assert out.filter(like="city_").iloc[0].sum() == 0  # unseen: all zeros, no crash
    assert out.loc[1, "city_missing"] == 1.0


def test_transformer_fits_inside_cross_validation() -> None:
    train, _ = clean_split(make_frame(80))
    spec = spec_for(train)
    model = make_pipeline(build_preprocessor(spec), LogisticRegression(max_iter=200))
    scores = cross_val_score(model, train[list(spec.features)], train["y"], cv=3, n_jobs=1)
    assert len(scores) == 3 and np.isfinite(scores).all()


def test_transformer_survives_parquet_and_skops(tmp_path: Path) -> None:
    train, test = clean_split()
    store = io.Artifacts(tmp_path)
    store.write_frame(TRAIN_SPLIT, train)
    store.write_frame(TEST_SPLIT, test)
    train, test = store.read_frame(TRAIN_SPLIT), store.read_frame(TEST_SPLIT)
    spec = FeatureSpec.from_json(spec_for(train).to_json())
    fitted = pp.fit_preview(spec, train)
    loaded = io.read_model(io.write_model(tmp_path / "pre.skops", fitted))
    pd.testing.assert_frame_equal(pp.transform(loaded, test), pp.transform(fitted, test))


def test_preview_rows_are_a_bounded_seeded_sample_in_split_order() -> None:
    frame = pd.DataFrame({"x": np.arange(500)}, index=np.random.default_rng(0).permutation(500))
    shown = pp.preview_rows(frame, seed=1, rows=120)
    assert len(shown) == 120 and shown.index.isin(frame.index).all()
    positions = frame.index.get_indexer(shown.index)
    assert (np.diff(positions) > 0).all()  # the split's own order, not sorted by label
    assert shown.equals(pp.preview_rows(frame, seed=1, rows=120))
    assert not shown.equals(pp.preview_rows(frame, seed=2, rows=120))
    assert pp.preview_rows(frame, seed=1, rows=500) is frame and pp.PREVIEW_ROWS == 50_000


def test_the_preview_fitted_on_a_sample_transforms_every_row() -> None:
    train, test = clean_split()
    spec = spec_for(train)
    fitted = pp.fit_preview(spec, pp.preview_rows(train, seed=0, rows=len(train) // 2))
    out = pp.transform(fitted, test)
    assert len(out) == len(test) and not out.isna().any().any()


# --- the artifact --------------------------------------------------------------------------------


def test_record_meets_the_artifact_contract() -> None:
    train, test = clean_split()
    spec = spec_for(train)
    value = pp.record(spec, {"id": "identifier"}, train, test, 9, params(), seed=42)
    required = {
        "target",
        "task",
        "classes",
        "positive_class",
        "numeric",
        "categorical",
        "dropped",
        "transformer",
        "headline",
    }
    assert required <= set(value.model_dump())
    assert value.missing_markers == ["?"]  # the service's contract reads them
    assert value.headline == {
        "train rows": len(train),
        "test rows": len(test),
        "features in": 4,
        "features out": 9,
        "dropped": "id",
    }
    assert value.spec == spec


def test_stage_end_to_end_through_artifacts(tmp_path: Path) -> None:
    store = io.Artifacts(tmp_path)
    store.write_frame(RAW, make_frame(60))
    store.write(recordkit.record(DataRecord, **META))
    meta, raw = store.read(DataRecord), store.read_frame(RAW)
    settings = params()
    cleaned, dropped = pp.clean(raw, dict(meta), settings)
    train, test = pp.split(cleaned, meta.target, meta.task, settings, seed=42)
    spec = pp.infer_spec(train, dict(meta), settings)
    store.write(pp.record(spec, dropped, train, test, 0, settings, 42))
    loaded = store.read(PreprocessRecord).spec
    out = pp.transform(pp.fit_preview(loaded, train), test)
    assert len(out) == len(test) == 12 and not out.isna().any().any()


# --- the shared real datasets --------------------------------------------------------------------


@pytest.mark.shared
def test_telco_total_charges_and_customer_id(shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "telco_churn.csv")  # plain read: the blanks keep the column text
    meta = {
        "target": "Churn",
        "task": "binary",
        "classes": ["No", "Yes"],
        "positive_class": "Yes",
        "identifiers": ["customerID"],
        "leaks": [],
    }
    settings = params()
    cleaned, dropped = pp.clean(raw, meta, settings)
    assert features.is_text(raw["TotalCharges"]) and cleaned["TotalCharges"].dtype == np.float64
    assert cleaned["TotalCharges"].isna().sum() == 11
    assert dropped == {"customerID": "identifier (flagged by stage 'data')"}
    train, test = pp.split(cleaned, "Churn", "binary", settings, seed=42)
    balance = view.class_balance(train, test, "Churn")
    assert abs(balance.loc["Yes", "train share"] - balance.loc["Yes", "test share"]) < 0.01
    spec = pp.infer_spec(train, meta, settings)
    assert "TotalCharges" in spec.numeric and "Contract" in spec.categorical
    out = pp.transform(pp.fit_preview(spec, train), test)
    assert "missingindicator_TotalCharges" in out.columns and not out.isna().any().any()


@pytest.mark.shared
def test_bank_marketing_unknown_marker_and_time_split(shared_data: Path) -> None:
    raw = io.read_file(shared_data / "bank_marketing.csv")
    meta = {
        "target": "y",
        "task": "binary",
        "classes": ["no", "yes"],
        "positive_class": "yes",
        "identifiers": [],
        "leaks": ["duration"],
    }
    settings = params(missing_markers=("unknown",), split="time")
    cleaned, dropped = pp.clean(raw, meta, settings)
    assert dropped == {"duration": "label leak (flagged by stage 'data')"}
    assert len(raw) - len(cleaned) == 12  # identical records
    assert cleaned["default"].isna().sum() == (raw.loc[cleaned.index, "default"] == "unknown").sum() > 8000
    assert not cleaned.isin(["unknown"]).any().any()
    train, test = pp.split(cleaned, "y", "binary", settings, seed=42)
    assert train.index.max() < test.index.min()
    assert len(test) == pp.count_test_rows(len(cleaned), 0.2)
    rate = view.class_balance(train, test, "y").loc["yes"]
    assert rate["test share"] > 3 * rate["train share"]  # the documented drift: 6.4% → 30.8%


def test_stratify_column_with_bins_matches_a_hand_made_split() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"income": rng.uniform(0, 10, 500), "y": rng.normal(size=500)})
    bins = (0.0, 1.5, 3.0, 4.5, 6.0, float("inf"))
    train, test = pp.split(
        frame, "y", "regression", params(stratify_column="income", stratify_bins=bins), seed=42
    )
    from sklearn.model_selection import train_test_split

    labels = pd.cut(frame["income"], bins=list(bins)).astype(str)
    expected_train, expected_test = train_test_split(frame, test_size=100, random_state=42, stratify=labels)
    assert list(test.index) == list(expected_test.index)
    assert list(train.index) == list(expected_train.index)


def test_stratify_column_without_bins_and_unknown_column() -> None:
    frame = make_frame(40)
    _, test = pp.split(frame, "y", "binary", params(stratify_column="flag"), seed=0)
    assert test["flag"].mean() == pytest.approx(frame["flag"].mean(), abs=0.07)
    with pytest.raises(DataError, match=r"column 'flagg'.*Did you mean 'flag'"):
        pp.split(frame, "y", "binary", params(stratify_column="flagg"), seed=0)


# --- roles and text ------------------------------------------------------------------------------


def with_messages(n: int = 40) -> pd.DataFrame:
    """make_frame plus a free-text column (words shared between rows, a distinct value per row)."""
    frame = make_frame(n)
    words = ["free prize", "call now", "see you", "at lunch", "win cash"]
    return frame.assign(message=[f"{words[i % 5]} {words[(i * 3) % 5]} {i}" for i in range(n)])


def test_text_roles_from_stage_data_make_the_text_group() -> None:
    meta = {**META, "roles": {"message": "text", "city": "categorical", "id": "identifier"}}
    cleaned, dropped = pp.clean(with_messages(), meta, params())
    spec = pp.infer_spec(cleaned, meta, params())
    assert spec.text == ("message",) and "message" not in spec.categorical
    assert spec.categorical == ("city",) and "message" not in dropped
    fitted = pp.fit_preview(spec, cleaned)
    assert any(name.startswith("text_words_message__") for name in fitted.get_feature_names_out())


def test_roles_override_the_detected_ones_and_the_flags() -> None:
    roles = {"id": "categorical", "outcome": "ignore", "age": "categorical", "charges": "identifier", "city": "text"}
    settings = params(roles=roles)
    cleaned, dropped = pp.clean(make_frame(), META, settings)
    assert dropped["outcome"] == "role 'ignore' in preprocess.roles"
    assert dropped["charges"] == "role 'identifier' in preprocess.roles"
    assert "id" not in dropped  # flagged by stage data, but the params say it is a category
    spec = pp.infer_spec(cleaned, META, settings)
    assert spec.categorical == ("id", "age") and spec.text == ("city",) and spec.numeric == ("flag",)


def test_roles_keep_codes_as_text_and_make_numbers_of_numeric_text() -> None:
    frame = make_frame().assign(zip=[f"{i:05d}" for i in range(40)], count=[str(i) for i in range(40)])
    cleaned, _ = pp.clean(frame, META, params(roles={"zip": "categorical", "count": "numeric"}))
    assert cleaned["zip"].iloc[1] == "00001" and cleaned["count"].dtype.kind in "if"


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"city": "numeric"}, r"preprocess.roles: column 'city': role 'numeric' needs numbers, found '(north|south|east)'"),
        ({"age": "datetime"}, r"preprocess.roles: column 'age': role 'datetime' needs dates or times, found \d+"),
        ({"cty": "text"}, r"preprocess.roles: column 'cty': is not a column of the data. Did you mean 'city'\?"),
        ({"y": "numeric"}, r"preprocess.roles: column 'y': is the target, so it takes no role"),
    ],
)
def test_a_role_that_does_not_fit_stops_the_stage_naming_the_column(roles: dict[str, str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        pp.clean(make_frame(), META, params(roles=roles))


def test_a_table_of_text_alone_is_learned_from() -> None:
    frame = with_messages(60)[["message", "y"]]
    meta = {**META, "identifiers": [], "leaks": [], "roles": {"message": "text"}}
    cleaned, dropped = pp.clean(frame, meta, params())
    assert dropped == {}
    train, test = pp.split(cleaned, "y", "binary", params(), seed=0)
    spec = pp.infer_spec(train, meta, params())
    assert spec.features == ("message",)
    out = pp.transform(pp.fit_preview(spec, train), test)
    assert len(out) == len(test) and np.isfinite(out.to_numpy(dtype=float)).all()


def test_an_old_data_record_without_roles_keeps_the_dtype_rule() -> None:
    cleaned, _ = pp.clean(with_messages(), META, params())
    assert pp.infer_spec(cleaned, META, params()).categorical == ("city", "message")


# --- timestamps and derived features ----------------------------------------------------------------


def with_trips(n: int = 40) -> pd.DataFrame:
    """The standard frame plus pickup and dropoff timestamps as text."""
    pickup = pd.Timestamp("2019-03-01 08:00") + pd.to_timedelta(np.arange(n) * 97, unit="min")
    dropoff = pickup + pd.to_timedelta(5 + np.arange(n) % 30, unit="min")
    return make_frame(n).assign(
        pickup=pickup.strftime("%Y-%m-%d %H:%M:%S"), dropoff=dropoff.strftime("%Y-%m-%d %H:%M:%S")
    )


TRIP_FORMULAS = {"trip_minutes": "minutes(dropoff - pickup)", "late": "hour(pickup) >= 20"}


def test_the_time_split_orders_by_the_parsed_time_not_the_text() -> None:
    # As text "…T06:00+00:00" sorts before "…T10:00+05:00", yet 10:00 at +05:00 is 05:00 UTC: the earlier one.
    frame = pd.DataFrame({
        "when": ["2020-01-01T06:00:00+00:00", "2020-01-01T10:00:00+05:00", "2020-01-01T07:00:00+00:00"],
        "x": [0, 1, 2], "y": [0, 1, 0],
    })
    train, test = pp.split(frame, "y", "binary", params(split="time", time_column="when", test_size=0.3), 0)
    assert train["x"].tolist() == [1, 0] and test["x"].tolist() == [2]


def test_the_time_split_names_a_value_that_is_not_a_time() -> None:
    frame = pd.DataFrame({"when": ["2020-01-01", "2020-01-02", "soon"], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"column 'when': cannot be read as dates: 1 values do not parse, e.g. 'soon'"):
        pp.split(frame, "y", "binary", params(split="time", time_column="when"), 0)


def test_timestamp_roles_make_the_datetime_group_and_formulas_the_derived_features() -> None:
    meta = {**META, "roles": {"pickup": "datetime", "dropoff": "datetime"}}
    settings = params(features=TRIP_FORMULAS)
    cleaned, dropped = pp.clean(with_trips(), meta, settings)
    assert "pickup" not in dropped
    spec = pp.infer_spec(cleaned, meta, settings)
    assert spec.datetime == ("pickup", "dropoff") and "pickup" not in spec.categorical
    assert spec.derived == TRIP_FORMULAS and "trip_minutes" not in spec.features
    fitted = pp.fit_preview(spec, cleaned)
    out = pp.transform(fitted, cleaned)
    assert {"trip_minutes", "late", "pickup_hour_sin", "dropoff_minus_pickup_minutes"} <= set(out.columns)
    assert view.output_summary(fitted).loc["datetime", "features in"] == 2


def test_a_formula_reading_a_dropped_column_names_the_key_and_the_reason() -> None:
    settings = params(features={"twice": "2 * `outcome`"})
    with pytest.raises(DataError, match=r"preprocess.features.twice: reads 'outcome' \(position 5\), which is not a "
                                        r"feature: label leak \(flagged by stage 'data'\)"):
        pp.clean(with_trips(), META, settings)


def test_a_formula_that_gives_no_numbers_on_the_data_names_the_key_and_the_position() -> None:
    with pytest.raises(DataError, match=r"preprocess.features.span: the formula gives durations, not numbers .*position 1"):
        pp.clean(with_trips(), META, params(features={"span": "dropoff - pickup"}))
    with pytest.raises(DataError, match=r"preprocess.features.bad: column 'city' holds text .* at position 1"):
        pp.clean(with_trips(), META, params(features={"bad": "city * 2"}))
