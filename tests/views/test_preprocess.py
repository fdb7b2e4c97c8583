"""Presentation for stage `preprocess`: what cleaning did, the split's balance, the transformer's steps and output."""

from __future__ import annotations

import pandas as pd

from mlworkflow.core.features import FeatureSpec, build_preprocessor
from mlworkflow.stages import preprocess as pp
from mlworkflow.views import preprocess as view
from mlworkflow.views import tables
from tests.stages.test_preprocess import META, clean_split, make_frame, params, spec_for, with_duplicates


def test_row_summary_counts_what_clean_removed() -> None:
    raw = with_duplicates()
    cleaned, _ = pp.clean(raw, META, params())
    assert view.row_summary(raw, cleaned, "y").to_dict() == {
        "rows in": 47,
        "rows without a target": 1,
        "duplicate rows removed": 4,
        "rows out": 42,
    }


def test_clean_summary_says_what_happened() -> None:
    raw = make_frame()
    cleaned, dropped = pp.clean(raw, META, params())
    summary = view.clean_summary(raw, cleaned, dropped)
    assert summary.loc["charges", "action"] == "text → number"
    assert summary.loc["id", "action"].startswith("dropped: identifier")
    assert summary.loc["city", "missing after"] > summary.loc["city", "missing"]
    assert summary.loc["age", "action"] == "kept"
    assert (summary.loc["charges", "holds"], summary.loc["charges", "holds after"]) == ("text", "number")


def test_class_balance_counts_and_shares() -> None:
    train = pd.DataFrame({"y": ["a", "a", "a", "b"]})
    test = pd.DataFrame({"y": ["a", "b"]})
    table = view.class_balance(train, test, "y")
    assert table.to_dict(orient="index") == {
        "a": {"train rows": 3, "train share": 0.75, "test rows": 1, "test share": 0.5},
        "b": {"train rows": 1, "train share": 0.25, "test rows": 1, "test share": 0.5},
    }
    assert "<td>75.0%</td>" in tables.html(table)  # shown as percentages


def test_balance_describes_a_regression_target() -> None:
    train, test = pd.DataFrame({"y": [1.0, 2.0, 3.0]}), pd.DataFrame({"y": [4.0]})
    spec = FeatureSpec(target="y", task="regression", numeric=("x",))
    table = view.balance(train, test, spec)
    assert table.loc["mean", "train"] == 2.0 and table.loc["count", "test"] == 1


def test_preprocessor_steps_in_words() -> None:
    train, _ = clean_split()
    steps = view.preprocessor_steps(build_preprocessor(spec_for(train)))
    assert steps["does"].tolist() == [
        "impute median + missing indicators",
        "scale to mean 0, sd 1",
        "values as text",
        "impute constant 'missing'",
        "one-hot (min_frequency=0.01, max_categories=30)",
    ]
    assert steps.loc[("numeric", 1), "features in"] == 3 and steps.loc[("categorical", 3), "features in"] == 1


def test_summaries_of_the_transformed_matrix() -> None:
    train, test = clean_split()
    spec = spec_for(train)
    fitted = pp.fit_preview(spec, train)
    summary = view.output_summary(fitted)
    matrix = pp.transform(fitted, train)
    assert summary.loc["total", "columns out"] == matrix.shape[1]
    assert summary.loc["numeric", "features in"] == 3 and summary.loc["categorical", "features in"] == 1
    sample = view.matrix_sample(matrix, rows=3, seed=0)
    assert sample.equals(view.matrix_sample(matrix, rows=3, seed=0)) and len(sample) == 3
    assert (sample.round(3) == sample).all().all()
    assert list(sample.index) == [0, 1, 2], "no sampled row numbers: they mean nothing to a reader"
    checks = view.matrix_checks(matrix, pp.transform(fitted, test))
    assert checks.loc["test", "rows"] == len(test) and checks["missing values"].tolist() == [0, 0]
    assert checks["columns"].tolist() == [matrix.shape[1]] * 2 and "rows in split" not in checks
    of_split = view.matrix_checks(matrix.head(4), pp.transform(fitted, test), (len(train), len(test)))
    assert of_split["rows"].tolist() == [4, len(test)] and of_split["rows in split"].tolist() == [len(train), len(test)]
    table = view.feature_table(train, spec)
    assert table.loc["city", "kind"] == "categorical" and table.loc["charges", "missing share"] >= 0


def test_unseen_categories_counts_values_and_rows() -> None:
    train = pd.DataFrame({"c": ["a", "b", None]})
    test = pd.DataFrame({"c": ["a", "z", "z", "w", None]})
    spec = FeatureSpec(target="y", task="binary", categorical=("c",))
    assert view.unseen_categories(train, test, spec).loc["c"].tolist() == [2, 3]


def test_the_feature_table_shows_timestamps_and_derived_features_with_their_formula() -> None:
    train = pd.DataFrame({
        "pickup": ["2019-03-01 10:00:00", "2019-03-01 11:00:00", None],
        "dropoff": ["2019-03-01 10:30:00", "2019-03-01 11:05:00", "2019-03-01 12:00:00"],
        "fare": [10.0, 5.0, 7.0],
    })
    spec = FeatureSpec(target="fare", task="regression", datetime=("pickup", "dropoff"),
                       derived={"minutes": "minutes(dropoff - pickup)"})
    table = view.feature_table(train, spec)
    assert table.loc["pickup", "kind"] == "datetime"
    assert table.loc["minutes"].to_dict() == {
        "kind": "derived: minutes(dropoff - pickup)", "holds": "number", "distinct": 2, "missing share": 0.333,
    }
