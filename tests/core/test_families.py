"""The model-family catalogue: every family builds, fits and predicts for every task it supports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlworkflow.core import families
from mlworkflow.core.features import FeatureSpec
from mlworkflow.errors import ParamsError
from mlworkflow.params import space_spec_problem

N_ROWS = 120
SUPPORTED = [(task, family) for task in families.TASKS for family in families.available(task)]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread: the machine is shared, and gradient boosting oversubscribes it otherwise."""
    with threadpool_limits(limits=1):
        yield


def tiny(task: str, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, FeatureSpec]:
    """A small frame with signal: two numbers (one with NaN) and a category with NaN."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N_ROWS)
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), N_ROWS)
    colour[::7] = np.nan
    noisy = rng.normal(size=N_ROWS)
    noisy[::5] = np.nan
    frame = pd.DataFrame({"x": x, "noisy": noisy, "colour": colour})
    signal = x + (colour == "red")
    if task == "binary":
        y = pd.Series(np.where(signal > 0.3, "yes", "no"), name="t")
    elif task == "multiclass":
        y = pd.Series(np.array(["low", "mid", "high"])[np.digitize(signal, [-0.3, 0.7])], name="t")
    else:
        y = pd.Series(1000 * signal + rng.normal(size=N_ROWS), name="t")
    spec = FeatureSpec(target="t", task=task, numeric=("x", "noisy"), categorical=("colour",))
    return frame, y, spec


def unseen(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a category never seen in training and a missing one."""
    out = frame.copy()
    out.loc[0, "colour"] = "ultraviolet"
    out.loc[1, "colour"] = np.nan
    return out


def test_catalogue_lists_every_family_and_regression_skips_naive_bayes() -> None:
    assert tuple(family.name for family in families.CATALOGUE) == families.FAMILIES
    assert families.available("binary") == families.FAMILIES
    assert families.available("multiclass") == families.FAMILIES
    assert "naive_bayes" not in families.available("regression")
    assert len(families.available("regression")) == len(families.FAMILIES) - 1


def test_unknown_family_suggests_the_closest_name() -> None:
    with pytest.raises(ParamsError) as caught:
        families.check_family("random_forrest", "binary")
    assert "Did you mean 'random_forest'?" in str(caught.value)
    assert "'random_forrest'" in str(caught.value)


def test_classification_only_family_is_refused_for_regression() -> None:
    _, _, spec = tiny("regression")
    with pytest.raises(ParamsError, match="classification only"):
        families.make_pipeline(spec, "naive_bayes", 0)


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ParamsError, match="one of binary, multiclass, regression"):
        families.available("ranking")


def test_unknown_task_names_the_key_path_the_caller_gives() -> None:
    with pytest.raises(ParamsError, match=r"^families: key 'data\.task': expected one of binary, multiclass, regression, found 'ranking'"):
        families.check_task("ranking", key="data.task")


@pytest.mark.parametrize(("task", "family"), SUPPORTED)
def test_family_fits_and_predicts_with_missing_and_unseen_categories(task: str, family: str) -> None:
    frame, y, spec = tiny(task)
    pipeline = families.make_pipeline(spec, family, seed=0)
    assert [name for name, _ in pipeline.steps] == ["preprocess", "model"]
    pipeline.fit(frame, y)
    predicted = pipeline.predict(unseen(frame))
    assert len(predicted) == N_ROWS
    if task == "regression":
        assert np.isfinite(predicted).all()
        assert np.corrcoef(predicted, y)[0, 1] > 0.5, "the model learned the signal"
    else:
        assert set(predicted) <= set(y)
        proba = pipeline.predict_proba(unseen(frame))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert (pipeline.predict(frame) == y).mean() > 0.5


@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting", "mlp", "svm", "lightgbm"])
def test_same_seed_same_predictions(family: str) -> None:
    frame, y, spec = tiny("binary")
    first = families.make_pipeline(spec, family, 7).fit(frame, y).predict_proba(frame)
    second = families.make_pipeline(spec, family, 7).fit(frame, y).predict_proba(frame)
    np.testing.assert_array_equal(first, second)


def test_hist_gradient_boosting_treats_categories_natively() -> None:
    frame, y, spec = tiny("multiclass")
    pipeline = families.make_pipeline(spec, "hist_gradient_boosting", 0).fit(frame, y)
    model = pipeline.named_steps["model"]
    assert list(pipeline.named_steps["preprocess"].get_feature_names_out()) == ["colour", "x", "noisy"]
    assert model.is_categorical_.tolist() == [True, False, False]


def test_hist_gradient_boosting_without_categorical_columns() -> None:
    frame, y, _ = tiny("regression")
    spec = FeatureSpec(target="t", task="regression", numeric=("x", "noisy"))
    pipeline = families.make_pipeline(spec, "hist_gradient_boosting", 0).fit(frame[["x", "noisy"]], y)
    assert pipeline.named_steps["model"].categorical_features is None


def lightgbm_split_kinds(pipeline: Any) -> set[str]:
    """The decision types of every split in a fitted LightGBM pipeline's trees ('==' splits a category)."""
    def walk(node: dict[str, Any]) -> Iterator[str]:
        if "decision_type" in node:
            yield node["decision_type"]
            yield from (kind for side in ("left_child", "right_child") for kind in walk(node[side]))

    trees = pipeline.named_steps["model"].booster_.dump_model()["tree_info"]
    return {kind for tree in trees for kind in walk(tree["tree_structure"])}


@pytest.mark.parametrize("task", families.TASKS)
def test_lightgbm_splits_categories_natively_by_position(task: str) -> None:
    frame, y, spec = tiny(task)
    pipeline = families.make_pipeline(spec, "lightgbm", 0).fit(frame, y)
    model = pipeline.named_steps["model"]
    assert list(pipeline.named_steps["preprocess"].get_feature_names_out()) == ["colour", "x", "noisy"]
    assert model.get_params()["categorical_column"] == [0]
    assert "==" in lightgbm_split_kinds(pipeline), "the colour is split as a category"
    assert model.get_params()["n_jobs"] == 1 and model.get_params()["deterministic"]


def test_lightgbm_without_categories_or_with_selection_splits_numbers_only() -> None:
    from mlworkflow.core.features import TransformerSettings

    frame, y, spec = tiny("binary")
    plain = FeatureSpec(target="t", task="binary", numeric=("x", "noisy"))
    assert families.make_pipeline(plain, "lightgbm", 0).named_steps["model"].get_params()["categorical_column"] is None
    selected = spec.model_copy(update={"transformer": TransformerSettings(feature_selection="model")})
    pipeline = families.make_pipeline(selected, "lightgbm", 0).fit(frame, y)
    assert "==" not in lightgbm_split_kinds(pipeline)


def test_lightgbm_takes_column_names_it_would_refuse_itself() -> None:
    frame, y, spec = tiny("binary")
    odd = {"x": "price: [usd]", "colour": 'colour, "main"'}
    spec = spec.model_copy(update={"numeric": (odd["x"], "noisy"), "categorical": (odd["colour"],)})
    pipeline = families.make_pipeline(spec, "lightgbm", 0).fit(frame.rename(columns=odd), y)
    assert "==" in lightgbm_split_kinds(pipeline)
    assert (pipeline.predict(frame.rename(columns=odd)) == y).mean() > 0.7


@pytest.mark.parametrize("task", families.TASKS)
def test_lightgbm_stops_early_below_its_cap_on_rows_it_holds_out(task: str) -> None:
    from mlworkflow.core import boosting

    frame, y, spec = tiny(task)
    model = families.make_pipeline(spec, "lightgbm", 0).fit(frame, y).named_steps["model"]
    assert isinstance(model, boosting.LGBMRegressor if task == "regression" else boosting.LGBMClassifier)
    assert model.early_stopping is True and "model__n_estimators" not in families.search_space("lightgbm", task)
    assert model.best_iteration_ > 0, "a fit without early stopping has no best iteration"
    assert model.n_estimators_ < families.LGBM_DEFAULTS["n_estimators"]


def test_lightgbm_seed_changes_the_bagged_model() -> None:
    frame, y, spec = tiny("regression")
    first = families.make_pipeline(spec, "lightgbm", 1).fit(frame, y).predict(frame)
    second = families.make_pipeline(spec, "lightgbm", 2).fit(frame, y).predict(frame)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("task", families.TASKS)
def test_lightgbm_round_trips_through_skops_under_the_registry_trust_list(tmp_path: Any, task: str) -> None:
    import skops.io as sio

    from mlworkflow import io
    from mlworkflow.bundle.registry import default_trusted

    frame, y, spec = tiny(task)
    pipeline = families.make_pipeline(spec, "lightgbm", 0).fit(frame, y)
    path = io.write_model(tmp_path / "model.skops", pipeline)
    untrusted = set(sio.get_untrusted_types(file=path))
    assert {"lightgbm.basic.Booster"} <= untrusted <= set(default_trusted())
    loaded = io.read_model(path, trusted=list(default_trusted()))
    method = "predict" if task == "regression" else "predict_proba"
    assert np.array_equal(getattr(loaded, method)(unseen(frame)), getattr(pipeline, method)(unseen(frame)))


def test_model_params_reach_the_base_estimator_inside_wrappers() -> None:
    svm = families.make_estimator("svm", "binary", 0, C=10.0)
    assert type(svm).__name__ == "CalibratedClassifierCV"
    assert families.unwrap(svm).C == 10.0
    svr = families.make_estimator("svm", "regression", 0, epsilon=0.5)
    assert type(svr).__name__ == "TransformedTargetRegressor"
    assert families.unwrap(svr).epsilon == 0.5
    forest = families.make_estimator("random_forest", "binary", 0, n_estimators=5)
    assert families.unwrap(forest) is forest and forest.n_estimators == 5


def test_unknown_model_param_fails_when_building() -> None:
    with pytest.raises(ValueError, match="Invalid parameter"):
        families.make_estimator("knn", "binary", 0, n_neighbours=3)


@pytest.mark.parametrize(("task", "family"), SUPPORTED)
def test_search_space_is_json_and_names_pipeline_parameters(task: str, family: str) -> None:
    space = families.search_space(family, task)
    assert space and json.loads(json.dumps(space)) == space
    _, _, spec = tiny(task)
    pipeline = families.make_pipeline(spec, family, 0)
    for key, spec_value in space.items():
        assert key.startswith("model__")
        assert space_spec_problem(spec_value) is None, f"{family}.{key} is a valid spec for train"
        sample: Any = spec_value[0] if isinstance(spec_value, list) else spec_value["low"]
        pipeline.set_params(**{key: sample})


def test_search_space_is_a_copy() -> None:
    space = families.search_space("svm", "binary")
    space["model__estimator__C"]["low"] = -1
    assert families.search_space("svm", "binary")["model__estimator__C"]["low"] == 1e-2


@pytest.mark.parametrize("family", families.CATALOGUE, ids=lambda family: family.name)
def test_every_family_record_is_complete_and_consistent(family: families.Family) -> None:
    assert family.tasks and set(family.tasks) <= set(families.TASKS)
    for task in family.tasks:
        record = family.estimator(task)
        base = record.build(seed=0)
        assert type(base).__name__ == record.cls.rsplit(".", 1)[-1]
        known = base.get_params()
        assert record.space and set(record.space) <= set(known), f"{family.name}: space names are parameters"
        assert set(record.defaults) <= set(known) and (not record.seeded or "random_state" in known)
        assert record.curve_param in record.space, f"{family.name}: the curve parameter is tuned"
        model = families.make_estimator(family.name, task, 0)
        assert families.unwrap(model) is not model if record.wrapper else families.unwrap(model) is model
    if family.native is not None:
        assert family.native.param in family.estimator(family.tasks[0]).build(0).get_params()
    assert all(name.count(".") >= 1 for name in family.trusted_types)


def test_the_reference_family_learns_every_task() -> None:
    assert set(families.BY_NAME[families.REFERENCE].tasks) == set(families.TASKS)


def test_trusted_types_are_the_union_of_the_records() -> None:
    from mlworkflow.core import derived, imbalance, selection, timestamps

    listed = families.trusted_types()
    assert len(listed) == len(set(listed))
    steps = {*selection.TRUSTED_TYPES, *imbalance.TRUSTED_TYPES, *derived.TRUSTED_TYPES, *timestamps.TRUSTED_TYPES}
    assert set(listed) == {name for family in families.CATALOGUE for name in family.trusted_types} | steps


@pytest.mark.parametrize(
    ("selection", "imbalance", "names", "resampling"),
    [
        ("none", "none", ["preprocess", "model"], False),
        ("none", "class_weight", ["preprocess", "model"], False),
        ("model", "none", ["preprocess", "select", "model"], False),
        ("permutation", "undersample", ["preprocess", "resample", "select", "model"], True),
        ("rfecv", "smote", ["preprocess", "resample", "select", "model"], True),
    ],
)
def test_the_optional_steps_sit_between_the_transformer_and_the_model(
    selection: str, imbalance: str, names: list[str], resampling: bool
) -> None:
    from imblearn.pipeline import Pipeline as ResamplingPipeline

    from mlworkflow.core.features import TransformerSettings

    _, _, spec = tiny("binary")
    spec = spec.model_copy(update={"transformer": TransformerSettings(feature_selection=selection, imbalance=imbalance)})
    for family in families.available("binary"):
        pipeline = families.make_pipeline(spec, family, seed=0)
        assert [name for name, _ in pipeline.steps] == names
        assert isinstance(pipeline, ResamplingPipeline) is resampling


def test_class_weights_only_for_classification_and_the_families_that_take_them() -> None:
    from mlworkflow.core.features import TransformerSettings

    weighted = TransformerSettings(imbalance="class_weight")
    for task in families.TASKS:
        _, _, spec = tiny(task)
        spec = spec.model_copy(update={"transformer": weighted})
        expected = {"class_weight": "balanced"} if task != "regression" else {}
        assert families.class_weights(spec, "random_forest") == expected
        assert families.class_weights(spec, "knn") == {}


def test_row_wise_models_are_the_tree_families_models() -> None:
    assert families.row_wise_models() == {
        "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
        "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "LGBMClassifier", "LGBMRegressor",
    }


def test_lightgbm_is_a_default_candidate() -> None:
    from mlworkflow.params import SelectParams

    assert SelectParams().candidates == families.DEFAULT_CANDIDATES
    assert "lightgbm" in families.DEFAULT_CANDIDATES
    assert set(families.FAMILIES) == set(families.DEFAULT_CANDIDATES)
    assert SelectParams(candidates=("lightgbm", "logistic")).candidates == ("lightgbm", "logistic")
