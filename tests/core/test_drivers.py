"""Tests for core/drivers.py: SHAP values add up to the prediction, partial dependence, worked what-if examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeRegressor

from mlworkflow.core import drivers
from mlworkflow.core.target import Target
from tests.core.test_scoring import BINARY, REGRESSION, classifier_frame, pipeline

FIRST_POSITIVE = Target("y", "binary", ("no", "yes"), "no")  # the positive class sorts first


def test_shap_values_add_up_to_the_forest_probability_minus_its_expected_value() -> None:
    X, y = classifier_frame()
    model = pipeline(RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)).fit(X, y)
    for target, column in ((BINARY, 1), (FIRST_POSITIVE, 0)):
        explained = drivers.shap_values(model, X.iloc[:50], target)
        assert explained is not None and explained.output == "probability"
        total = explained.values.sum(axis=1).to_numpy() + explained.base
        np.testing.assert_allclose(total, model.predict_proba(X.iloc[:50])[:, column], atol=1e-6)
    # the one-hot columns of 'colour' (cat__colour_blue, cat__colour_red) are added back to their input column
    assert sorted(explained.values.columns) == ["colour", "noise", "x"]


def test_shap_values_of_boosting_add_up_to_the_log_odds_and_rank_the_feature_that_matters() -> None:
    X, y = classifier_frame()
    model = pipeline(HistGradientBoostingClassifier(max_iter=30, random_state=0)).fit(X, y)
    explained = drivers.shap_values(model, X, BINARY)
    assert explained is not None and explained.output == "log-odds"
    np.testing.assert_allclose(explained.values.sum(axis=1) + explained.base, model.decision_function(X), atol=1e-6)
    ranking = drivers.shap_ranking(explained)
    assert ranking["feature"].iloc[0] == "x" and ranking["share"].sum() == pytest.approx(1.0)


def test_shap_values_of_a_regression_tree_add_up_to_its_prediction() -> None:
    X, _y = classifier_frame()
    target = X["x"] * 3 + (X["colour"] == "red")
    model = pipeline(DecisionTreeRegressor(max_depth=4, random_state=0)).fit(X, target)
    explained = drivers.shap_values(model, X, REGRESSION)
    assert explained is not None and explained.output == "predicted y"
    np.testing.assert_allclose(explained.values.sum(axis=1) + explained.base, model.predict(X), atol=1e-6)


def test_models_without_a_tree_explainer_get_none() -> None:
    X, y = classifier_frame()
    assert drivers.shap_values(pipeline(LogisticRegression()).fit(X, y), X, BINARY) is None
    assert drivers.split_model(LogisticRegression().fit(X[["x"]], y)) is None


@pytest.mark.parametrize("target", [BINARY, FIRST_POSITIVE])
def test_partial_dependence_of_a_linear_model_is_monotone_in_its_feature(target: Target) -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    one = drivers.partial_dependence(model, X, "x", target)
    line = one.average[0]
    steps = np.diff(line)
    # 'yes' grows with x: its probability rises, and the probability of 'no' falls
    assert (steps > 0).all() if target.positive == "yes" else (steps < 0).all()
    assert one.spread == pytest.approx(line.max() - line.min()) and one.spread > 0.5
    assert one.quantity == f"average P({target.positive})"


def test_partial_dependence_of_a_category_with_missing_values_uses_the_seen_values() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    X.loc[:5, "colour"] = None
    one = drivers.partial_dependence(model, X.astype({"colour": object}), "colour", BINARY)
    assert [str(v) for v in one.grid] == ["blue", "red"] and one.average.shape == (1, 2)


def test_input_column_maps_transformed_names_back() -> None:
    inputs = ["education", "education-num", "sex", "age"]
    assert drivers.input_column("education_Bachelors", inputs) == "education"
    assert drivers.input_column("education-num", inputs) == "education-num"
    assert drivers.input_column("cat__sex_Female", inputs) == "sex"
    assert drivers.input_column("remainder__age", inputs) == "age"
    assert drivers.input_column("text__svd0", inputs) == "svd0"


def test_sample_rows_is_bounded_seeded_and_in_order() -> None:
    X, _ = classifier_frame()
    rows = drivers.sample_rows(X, 50, seed=3)
    assert len(rows) == 50 and rows.index.is_monotonic_increasing
    assert rows.equals(drivers.sample_rows(X, 50, seed=3)) and drivers.sample_rows(X, 500, 3) is X


def test_what_if_examples_change_one_feature_and_predict_again() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    rows, changes = drivers.what_if_examples(model, X, X, BINARY, 0.5, ["x", "colour"])
    assert len(rows) == 3 and list(changes["feature"]) == ["x", "colour"] * 3
    proba = model.predict_proba(rows)[:, 1]
    assert proba[0] < proba[1] < proba[2]  # a low, a middle and a high score
    np.testing.assert_allclose(changes["score_before"], np.repeat(proba, 2))
    low, high = X["x"].quantile([0.25, 0.75])
    for example, row in rows.iterrows():
        x_line = changes[(changes["example"] == example) & (changes["feature"] == "x")].iloc[0]
        assert x_line["to"] == (high if row["x"] <= X["x"].median() else low)
        edited = row.to_frame().T.astype(X.dtypes.to_dict()).assign(x=x_line["to"])
        assert x_line["score_after"] == pytest.approx(model.predict_proba(edited)[0, 1])
        assert x_line["label_after"] == ("yes" if x_line["score_after"] >= 0.5 else "no")
    assert set(changes[changes["feature"] == "colour"]["to"]) <= {"red", "blue"}


def test_changed_value_of_each_kind() -> None:
    assert drivers.changed_value(pd.Series(["a", "a", "b", "c"]), "a") == "b"
    assert drivers.changed_value(pd.Series([True, False]), True) is False
    assert drivers.changed_value(pd.Series([1, 2, 3, 4, 5]), 1) == 4


def test_partial_dependence_of_an_integer_column() -> None:
    X, y = classifier_frame()
    X["count"] = np.arange(len(X)) % 7
    model = pipeline(LogisticRegression()).fit(X, y)
    one = drivers.partial_dependence(model, X, "count", BINARY)
    assert one.grid[0] == 0 and one.grid[-1] == 6 and np.isfinite(one.average).all()


def test_partial_dependence_of_a_many_valued_category_shows_the_commonest_values() -> None:
    X, y = classifier_frame()
    X["word"] = [f"w{i % 40}" if i % 3 else "common" for i in range(len(X))]
    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "word"])],
                               remainder="passthrough")
    model = Pipeline([("preprocess", encode), ("model", LogisticRegression())]).fit(X, y)
    one = drivers.partial_dependence(model, X, "word", BINARY)
    assert len(one.grid) == drivers.CATEGORIES and "common" in one.grid
