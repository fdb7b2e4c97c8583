"""The fast path gives the sklearn pipeline's numbers exactly: checked bit for bit on real Adult rows."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures

from mlworkflow.core import families, features
from mlworkflow.params import PreprocessParams
from mlworkflow.service import fastpath
from mlworkflow.stages import preprocess
from tests import servekit as kit

CHUNKS = (1, 2, 3, 5, 8, 13, 21, 32)  # small request sizes, the fast path's main use


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    """5,000 real rows: 2,000 to fit on, 3,000 to compare on (with their missing values)."""
    return kit.adult(5000)


def fitted(frame: pd.DataFrame, family: str, meta: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    """A family's pipeline fitted on the frame; its feature names."""
    meta = meta or kit.META
    settings = PreprocessParams()
    spec = preprocess.infer_spec(frame, meta, settings)
    pipeline = families.make_pipeline(spec, family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(frame[list(spec.features)], frame[meta["target"]])
    return pipeline, list(spec.features)


def chunked(rows: pd.DataFrame, large: tuple[int, ...] = ()) -> list[pd.DataFrame]:
    """`large` chunks first, then consecutive chunks of every size in CHUNKS, in turn, covering all rows."""
    parts, start, turn = [], 0, 0
    for size in large:
        parts.append(rows.iloc[start : start + size])
        start += size
    while start < len(rows):
        size = CHUNKS[turn % len(CHUNKS)]
        parts.append(rows.iloc[start : start + size])
        start, turn = start + size, turn + 1
    return parts


def assert_identical(
    pipeline: Any, rows: pd.DataFrame, method: str = "predict_proba", large: tuple[int, ...] = ()
) -> None:
    """Fast path and pipeline agree bit for bit on every chunk (the same rows in the same call)."""
    fast = fastpath.compile_pipeline(pipeline)
    for part in chunked(rows, large):
        ours = getattr(fast, method)(fastpath.frame_values(part, fast.columns))
        theirs = getattr(pipeline, method)(part)
        assert np.array_equal(ours, theirs), f"differs on rows {part.index[0]}..{part.index[-1]}"


@pytest.mark.parametrize("family", ["logistic", "hist_gradient_boosting", "random_forest", "lightgbm"])
def test_identical_to_the_pipeline_on_thousands_of_real_rows(adult: pd.DataFrame, family: str) -> None:
    pipeline, features = fitted(adult.iloc[:2000], family)
    rows = adult.iloc[2000:][features]
    assert len(rows) >= 2900 and rows.isna().any().any(), "real rows, missing values included"
    assert_identical(pipeline, rows, large=(1000, 250, 100))


@pytest.mark.parametrize("family", ["decision_tree", "knn", "naive_bayes", "mlp", "svm"])
def test_identical_for_every_other_family(adult: pd.DataFrame, family: str) -> None:
    pipeline, features = fitted(adult.iloc[:800], family)
    assert_identical(pipeline, adult.iloc[2000:2400][features])


def test_identical_for_multiclass_and_regression(adult: pd.DataFrame) -> None:
    frame = adult.iloc[:1000]
    multiclass = {"target": "relationship", "task": "multiclass", "classes": sorted(frame["relationship"].unique())}
    regression = {"target": "hours-per-week", "task": "regression", "classes": []}
    for meta, method in ((multiclass, "predict_proba"), (regression, "predict")):
        for family in ("logistic", "hist_gradient_boosting", "mlp", "lightgbm"):
            pipeline, features = fitted(frame, family, meta)
            assert_identical(pipeline, adult.iloc[2000:2300][features], method)


def test_an_early_stopped_lightgbm_is_served_with_its_best_trees(adult: pd.DataFrame) -> None:
    from mlworkflow.core import families

    pipeline, features = fitted(adult.iloc[:2000], "lightgbm")
    model = pipeline.steps[-1][1]
    assert 0 < model.best_iteration_ == model.n_estimators_ < families.LGBM_DEFAULTS["n_estimators"]
    assert_identical(pipeline, adult.iloc[2000:2300][features])


def test_lightgbm_gets_arrays_without_the_feature_names_warning(adult: pd.DataFrame) -> None:
    pipeline, features = fitted(adult.iloc[:600], "lightgbm")
    fast = fastpath.compile_pipeline(pipeline)
    rows = fastpath.frame_values(adult.iloc[2000:2010][features], fast.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = fast.predict_proba(rows)
    assert np.array_equal(ours, pipeline.predict_proba(adult.iloc[2000:2010][features]))


def test_unseen_categories_and_missing_values_match(adult: pd.DataFrame) -> None:
    pipeline, features = fitted(adult.iloc[:600], "hist_gradient_boosting")
    rows = adult.iloc[2000:2040][features].copy()
    rows.loc[rows.index[::3], "workclass"] = "Never-seen-before"
    rows.loc[rows.index[1::3], "age"] = np.nan
    assert_identical(pipeline, rows)
    pipeline, _ = fitted(adult.iloc[:600], "logistic")
    assert_identical(pipeline, rows)


def test_unsupported_steps_are_refused() -> None:
    frame = kit.adult(200)
    pipeline, features = fitted(frame, "logistic")
    odd = Pipeline([("preprocess", pipeline[0]), ("poly", PolynomialFeatures(2)), ("model", pipeline[-1])])
    with pytest.raises(fastpath.Unsupported, match="PolynomialFeatures"):
        fastpath.compile_pipeline(odd)
    with pytest.raises(fastpath.Unsupported, match="not a Pipeline"):
        fastpath.compile_pipeline(pipeline[-1])
    del features


def test_as_text_matches_preprocess() -> None:
    values = np.array([["a", 1, None], [np.nan, 2.5, "b"]], dtype=object)
    ours = fastpath.as_text(values)
    theirs = features.as_text(pd.DataFrame(values)).to_numpy()
    assert [[str(v) for v in row] for row in ours] == [[str(v) for v in row] for row in theirs]


@pytest.mark.parametrize(
    ("family", "selection", "imbalance"),
    [("logistic", "model", "smote"), ("hist_gradient_boosting", "permutation", "undersample"),
     ("random_forest", "none", "class_weight")],
)
def test_identical_with_feature_selection_and_resampling(
    adult: pd.DataFrame, family: str, selection: str, imbalance: str
) -> None:
    settings = PreprocessParams.model_validate({"feature_selection": selection, "imbalance": imbalance})
    spec = preprocess.infer_spec(adult.iloc[:800], kit.META, settings)
    pipeline = families.make_pipeline(spec, family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(adult.iloc[:800][list(spec.features)], adult.iloc[:800][spec.target])
    assert_identical(pipeline, adult.iloc[2000:2400][list(spec.features)])


@pytest.mark.parametrize(("family", "step"), [("logistic", "sparse output"), ("hist_gradient_boosting", "StringComponents")])
def test_text_blocks_are_refused_so_the_service_keeps_the_pipeline(family: str, step: str) -> None:
    frame = pd.DataFrame({"message": [f"free prize {i}" if i % 2 else f"see you at {i}" for i in range(60)],
                          "y": ["spam", "ham"] * 30})
    spec = features.FeatureSpec(target="y", task="binary", classes=("ham", "spam"), text=("message",),
                                transformer={"text_components": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = families.make_pipeline(spec, family, seed=0).fit(frame[["message"]], frame["y"])
    with pytest.raises(fastpath.Unsupported, match=step):
        fastpath.compile_pipeline(pipeline)


@pytest.mark.parametrize(
    ("changes", "refused"),
    [({"derived": {"trip_minutes": "minutes(dropoff - pickup)"}}, "DerivedFeatures"), ({}, "TimestampFeatures")],
)
@pytest.mark.parametrize("family", ["logistic", "hist_gradient_boosting"])
def test_timestamps_and_formulas_are_left_to_the_pipeline(changes: dict[str, Any], refused: str, family: str) -> None:
    # Parsing text timestamps is pandas' job: the fast path refuses the steps and the service keeps the pipeline.
    rng = np.random.default_rng(0)
    pickup = pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.integers(0, 40_000, 80), unit="min")
    frame = pd.DataFrame({
        "pickup": pickup.strftime("%Y-%m-%d %H:%M:%S"),
        "dropoff": (pickup + pd.to_timedelta(rng.integers(2, 60, 80), unit="min")).strftime("%Y-%m-%d %H:%M:%S"),
        "distance": rng.uniform(1, 9, 80), "fare": rng.uniform(5, 40, 80),
    })
    spec = features.FeatureSpec(
        target="fare", task="regression", numeric=("distance",), datetime=("pickup", "dropoff"), **changes
    )
    pipeline = families.make_pipeline(spec, family, seed=0).fit(frame[list(spec.features)], frame["fare"])
    with pytest.raises(fastpath.Unsupported, match=refused):
        fastpath.compile_pipeline(pipeline)
