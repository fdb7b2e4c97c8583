"""Feature selection: a pipeline step after the transformer, refitted per fold, persisted by skops."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from mlworkflow.core import families, features, selection, steps
from mlworkflow.core.features import FeatureSpec, TransformerSettings

METHODS = ("model", "rfecv", "permutation")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread: the machine is shared."""
    with threadpool_limits(limits=1):
        yield


def signal_and_noise(rows: int = 400, noise: int = 6, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Two informative numbers (one with gaps), `noise` pure-noise numbers and a category; a binary target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"noise{i}": rng.normal(size=rows) for i in range(noise)})
    frame["strong"], frame["weak"] = rng.normal(size=rows), rng.normal(size=rows)
    frame.loc[::11, "weak"] = np.nan
    frame["colour"] = rng.choice(np.array(["red", "green", "blue"], dtype=object), rows)
    signal = 2 * frame["strong"] + frame["weak"].fillna(0) + rng.normal(scale=0.5, size=rows)
    return frame, pd.Series(np.where(signal > 0, "yes", "no"), name="t")


def spec_for(frame: pd.DataFrame, method: str, task: str = "binary") -> FeatureSpec:
    numeric = tuple(c for c in frame.columns if c != "colour")
    return FeatureSpec(target="t", task=task, numeric=numeric, categorical=("colour",),
                       transformer=TransformerSettings(feature_selection=method))


def fitted(method: str, family: str = "logistic") -> tuple[Any, pd.DataFrame, pd.Series]:
    frame, y = signal_and_noise()
    pipeline = families.make_pipeline(spec_for(frame, method), family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(frame, y)
    return pipeline, frame, y


@pytest.mark.parametrize("method", METHODS)
def test_each_method_keeps_the_strong_feature_and_drops_noise(method: str) -> None:
    pipeline, frame, _ = fitted(method)
    assert [name for name, _ in pipeline.steps] == ["preprocess", "select", "model"]
    chosen = selection.chosen_features(pipeline)
    assert chosen is not None
    kept, dropped = chosen
    assert "strong" in kept
    if method == "rfecv":  # it keeps the count with the best inner CV score, which may be all of them
        rounds = len(pipeline.named_steps["select"].cv_results_["n_features"])
        assert rounds == len(kept + dropped)  # 12 features: 10% rounds down to one per round
    else:
        assert any(name.startswith("noise") for name in dropped)
    assert sorted(kept + dropped) == sorted(pipeline.named_steps["preprocess"].get_feature_names_out())
    assert pipeline.predict_proba(frame).shape == (len(frame), 2)


def test_without_selection_the_pipeline_is_the_two_step_one() -> None:
    pipeline, _, _ = fitted("none")
    assert [name for name, _ in pipeline.steps] == ["preprocess", "model"]
    assert selection.chosen_features(pipeline) is None


def test_selection_is_fitted_inside_the_folds_so_noise_scores_as_noise() -> None:
    # Pure noise, many columns: a selection fitted on all rows before the split would pick the columns that
    # happen to fit the labels and score well above chance; inside the folds it must not.
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(240, 120)), columns=[f"c{i}" for i in range(120)])
    y = pd.Series(rng.choice(np.array(["a", "b"]), 240), name="t")
    spec = FeatureSpec(target="t", task="binary", numeric=tuple(frame.columns),
                       transformer=TransformerSettings(feature_selection="permutation"))
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = cross_val_predict(families.make_pipeline(spec, "logistic", 0), frame, y, cv=cv, method="predict_proba")
    assert 0.35 < roc_auc_score(y == "b", proba[:, 1]) < 0.65


def test_gradient_boosting_with_selection_splits_codes_as_numbers() -> None:
    pipeline, frame, _ = fitted("model", "hist_gradient_boosting")
    assert pipeline.named_steps["model"].categorical_features is None  # a named category could be selected away
    assert pipeline.predict(frame).shape == (len(frame),)


def test_permutation_selector_handles_missing_values_and_keeps_one_feature_at_least() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    X[::4, 1] = np.nan
    y = (X[:, 0] > 0).astype(int)
    chosen = selection.PermutationSelector(selection.selector_model("binary", 0), random_state=0).fit(X, y)
    assert chosen.get_support().tolist()[0] is True
    assert chosen.importances_.shape == (3,)
    assert selection.keep_mask(np.array([-0.1, -0.3, -0.2])).tolist() == [True, False, False]


def test_a_pipeline_with_a_permutation_selector_round_trips_through_skops_on_the_registry_list() -> None:
    pipeline, frame, _ = fitted("permutation")
    data = sio.dumps(pipeline)
    trusted = [*families.trusted_types(), *features.TRUSTED_TYPES]
    assert set(sio.get_untrusted_types(data=data)) <= set(trusted)
    reloaded = sio.loads(data, trusted=trusted)
    assert np.array_equal(reloaded.predict_proba(frame), pipeline.predict_proba(frame))
    assert "mlworkflow.core.selection.PermutationSelector" in families.trusted_types()


def test_the_cost_sentences_state_the_bounds() -> None:
    assert f"{steps.SELECTOR_TREES} extremely randomized trees" in steps.selection_cost("model")
    assert f"{steps.RFECV_STEP:.0%}" in steps.selection_cost("rfecv")
    assert f"{steps.PERMUTATION_REPEATS} times" in steps.selection_cost("permutation")
    assert selection.make_selector("none", "binary", 0) is None
    assert selection.make_selector("rfecv", "regression", 0).step == steps.RFECV_STEP
