"""Class imbalance: class weights where a family takes them, resampling in fit only, persisted and served."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from imblearn.pipeline import Pipeline as ResamplingPipeline
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlworkflow.core import families, features, imbalance
from mlworkflow.core.features import FeatureSpec, TransformerSettings
from mlworkflow.errors import ParamsError


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread: the machine is shared."""
    with threadpool_limits(limits=1):
        yield


def rare_yes(rows: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """About 10% 'yes': two numbers (one with gaps) and a category with gaps."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "noisy": rng.normal(size=rows),
                          "colour": rng.choice(np.array(["red", "green", "blue"], dtype=object), rows)})
    frame.loc[::9, "x"] = np.nan
    frame.loc[::13, "colour"] = np.nan
    signal = frame["x"].fillna(0) + (frame["colour"] == "red") + rng.normal(scale=0.5, size=rows)
    return frame, pd.Series(np.where(signal > 1.6, "yes", "no"), name="t")


def spec_for(method: str, selection: str = "none", task: str = "binary") -> FeatureSpec:
    settings = TransformerSettings(imbalance=method, feature_selection=selection)
    return FeatureSpec(target="t", task=task, numeric=("x", "noisy"), categorical=("colour",), transformer=settings)


def fit(method: str, family: str, selection: str = "none") -> tuple[Any, pd.DataFrame, pd.Series]:
    frame, y = rare_yes()
    pipeline = families.make_pipeline(spec_for(method, selection), family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(frame, y)
    return pipeline, frame, y


@pytest.mark.parametrize(("method", "expected"), [("undersample", "minority"), ("smote", "majority")])
def test_resampling_happens_in_fit_only_and_predict_gives_one_row_per_input(method: str, expected: str) -> None:
    pipeline, frame, y = fit(method, "knn")
    counts = y.value_counts()
    per_class = counts.min() if expected == "minority" else counts.max()
    assert isinstance(pipeline, ResamplingPipeline)
    assert pipeline.named_steps["model"].n_samples_fit_ == 2 * per_class  # the model saw balanced classes
    assert pipeline.predict(frame).shape == (len(frame),)  # no sampler at predict time
    assert pipeline.predict_proba(frame.iloc[:7]).shape == (7, 2)


def test_smote_keeps_one_hot_columns_zero_or_one_and_balances_the_classes() -> None:
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(100, 2)), rng.integers(0, 2, size=(100, 2))].astype(float)
    y = np.array(["a"] * 90 + ["b"] * 10)
    resampled, labels = imbalance.smote(X, y, seed=0)
    assert pd.Series(labels).value_counts().to_dict() == {"a": 90, "b": 90}
    assert set(np.unique(resampled[:, 2:])) <= {0.0, 1.0}
    assert len(np.unique(resampled[:, 0])) > 100  # continuous columns are interpolated: new values
    only_binary, _ = imbalance.smote(X[:, 2:], y, seed=0)  # SMOTE-N
    assert set(np.unique(only_binary)) <= {0.0, 1.0}


def test_smote_with_few_minority_rows_uses_fewer_neighbours_or_random_oversampling() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    few, _ = imbalance.smote(X[:53], np.array(["a"] * 50 + ["b"] * 3), seed=0)
    one, labels = imbalance.smote(X[:51], np.array(["a"] * 50 + ["b"]), seed=0)
    assert len(few) == 100 and len(one) == 100
    assert (one[labels == "b"] == X[50]).all()  # a lone row is repeated, not interpolated


def test_class_weights_go_to_the_families_that_take_them_and_leave_the_others_unaffected() -> None:
    takes = {f.name for f in families.CATALOGUE if f.class_weight}
    assert takes == {"logistic", "decision_tree", "random_forest", "hist_gradient_boosting", "svm", "lightgbm"}
    for name in families.available("binary"):
        pipeline, frame, _ = fit("class_weight", name)
        base = families.unwrap(pipeline.named_steps["model"])
        assert getattr(base, "class_weight", None) == ("balanced" if name in takes else None)
        assert type(pipeline) is Pipeline and pipeline.predict(frame).shape == (len(frame),)
    assert imbalance.family_note("class_weight", "knn", False).startswith("unaffected")


def test_class_weights_move_the_probabilities_towards_the_rare_class() -> None:
    weighted, frame, y = fit("class_weight", "logistic")
    plain, _, _ = fit("none", "logistic")
    rare = list(weighted.classes_).index("yes")
    assert weighted.predict_proba(frame)[:, rare].mean() > plain.predict_proba(frame)[:, rare].mean() + 0.1
    assert (weighted.predict(frame) == "yes").mean() > (y == "yes").mean()


def test_imbalance_for_regression_fails_naming_the_key() -> None:
    with pytest.raises(ParamsError) as caught:
        imbalance.check_task("smote", "regression")
    assert "preprocess.imbalance" in str(caught.value) and "'smote'" in str(caught.value)
    imbalance.check_task("none", "regression")
    imbalance.check_task("smote", "binary")


def test_gradient_boosting_with_smote_takes_the_imputed_one_hot_inputs() -> None:
    pipeline, frame, _ = fit("smote", "hist_gradient_boosting")
    assert pipeline.named_steps["model"].categorical_features == "from_dtype"  # its default: no column named
    assert not pipeline.named_steps["preprocess"].transform(frame).isna().any().any()


@pytest.mark.parametrize("method", ["undersample", "smote"])
def test_a_resampling_pipeline_round_trips_through_skops_on_the_registry_list(method: str) -> None:
    pipeline, frame, _ = fit(method, "logistic", selection="model")
    data = sio.dumps(pipeline)
    trusted = [*families.trusted_types(), *features.TRUSTED_TYPES]
    assert set(sio.get_untrusted_types(data=data)) <= set(trusted)
    reloaded = sio.loads(data, trusted=trusted)
    assert type(reloaded) is ResamplingPipeline
    assert np.array_equal(reloaded.predict_proba(frame), pipeline.predict_proba(frame))


def test_a_calibrated_resampling_pipeline_without_its_calibrator_still_skips_the_sampler() -> None:
    from mlworkflow.core import calibration

    pipeline, frame, y = fit("smote", "logistic")
    checked = calibration.check("logistic", pipeline, frame, y, 3, 0, 1)
    calibrated = calibration.calibrate(pipeline, dataclasses.replace(checked, method="sigmoid"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibrated.fit(frame, y)
    bare = calibration.uncalibrated(calibrated)
    assert type(bare) is ResamplingPipeline and [n for n, _ in bare.steps] == ["preprocess", "resample", "model"]
    assert bare.predict_proba(frame).shape == (len(frame), 2)
