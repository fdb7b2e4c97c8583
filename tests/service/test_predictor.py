"""Tests of the predictor: the path taken, labels at the threshold, requests sharing one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlworkflow.bundle.contract import Validator
from mlworkflow.service.predictor import Labelling, Predictor, is_row_wise
from tests import servekit as kit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


def rows(tiny: kit.Tiny, n: int) -> list[list[Any]]:
    return Validator(tiny.contract, "reject").records(tiny.records(n)).rows


def test_small_batches_take_the_fast_path_and_large_ones_the_pipeline(tiny: kit.Tiny) -> None:
    predictor = Predictor(tiny.model.pipeline, tiny.model.metadata, tiny.contract, fast_path_rows=4)
    assert predictor.fast_note == "on for up to 4 rows"
    small, large = predictor.predict(rows(tiny, 4)), predictor.predict(rows(tiny, 5))
    assert (small.path, large.path) == ("fast", "sklearn")
    assert np.array_equal(small.scores, predictor.predict(rows(tiny, 4), "sklearn").scores)


def test_fast_path_off_when_asked(tiny: kit.Tiny) -> None:
    predictor = Predictor(tiny.model.pipeline, tiny.model.metadata, tiny.contract, fast_path_rows=0)
    assert predictor.fast is None and predictor.fast_note.startswith("off")
    assert predictor.predict(rows(tiny, 1)).path == "sklearn"


def test_labels_follow_the_threshold(tiny: kit.Tiny) -> None:
    low = Predictor(tiny.model.pipeline, tiny.model.metadata.model_copy(update={"threshold": 0.0}), tiny.contract, 8)
    high = Predictor(tiny.model.pipeline, tiny.model.metadata.model_copy(update={"threshold": 1.01}), tiny.contract, 8)
    assert set(low.predict(rows(tiny, 8)).predictions) == {">50K"}
    assert set(high.predict(rows(tiny, 8)).predictions) == {"<=50K"}


def test_records_and_frame_carry_every_class_probability(tiny: kit.Tiny) -> None:
    predictor = Predictor(tiny.model.pipeline, tiny.model.metadata, tiny.contract, 8)
    outputs = predictor.predict(rows(tiny, 3))
    (first, *_rest) = predictor.records(outputs)
    assert set(first["probabilities"]) == {"<=50K", ">50K"}
    assert first["prediction"] == (">50K" if first["probabilities"][">50K"] >= 0.4 else "<=50K")
    assert list(predictor.frame(outputs).columns) == ["prediction", "proba_<=50K", "proba_>50K"]


def test_target_defaults(tiny: kit.Tiny) -> None:
    class Model:
        classes_ = np.array(["no", "yes"])

        def predict_proba(self, X: Any) -> Any:
            return X

    unset = tiny.model.metadata.model_copy(update={"positive_class": "maybe", "threshold": None})
    labelling = Labelling.of(Model(), unset)
    assert (labelling.target.positive, labelling.threshold, labelling.score_key) == ("yes", 0.5, "probabilities")
    assert labelling.labels(np.array([[0.6, 0.4], [0.3, 0.7]])) == ["no", "yes"]


def test_tree_models_share_calls_exactly(tmp_path: Path) -> None:
    forest = kit.tiny_model(tmp_path, family="hist_gradient_boosting", rows=400)
    predictor = Predictor(forest.model.pipeline, forest.model.metadata, forest.contract, 32)
    assert is_row_wise(forest.model.pipeline) and predictor.row_wise
    batches = [rows(forest, 1), rows(forest, 3)[1:], rows(forest, 5)[3:]]
    shared = predictor.predict_each(batches)
    alone = [predictor.predict(batch) for batch in batches]
    for together, single in zip(shared, alone, strict=True):
        assert together.predictions == single.predictions
        assert np.array_equal(together.scores, single.scores)


def test_linear_models_do_not_share_calls(tiny: kit.Tiny) -> None:
    assert not Predictor(tiny.model.pipeline, tiny.model.metadata, tiny.contract, 32).row_wise



@pytest.fixture(scope="module")
def resampled(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    """A logistic model with feature selection and SMOTE (an imbalanced-learn Pipeline), registered and loaded."""
    import warnings

    from mlworkflow.bundle.registry import Registry
    from mlworkflow.core import families
    from mlworkflow.params import PreprocessParams
    from mlworkflow.stages import preprocess

    train = kit.adult(600)
    spec = preprocess.infer_spec(train, kit.META, PreprocessParams(feature_selection="model", imbalance="smote"))
    pipeline = families.make_pipeline(spec, "logistic", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(train[list(spec.features)], train[spec.target])
    registry = Registry(tmp_path_factory.mktemp("resampled"))
    entry = registry.register("tiny", kit.bundle(pipeline, train, spec))
    return kit.Tiny(registry, entry, registry.load(entry.ref), train, kit.adult(400, skip=600))


def test_a_resampling_pipeline_is_served_on_the_fast_path(resampled: kit.Tiny) -> None:
    pipeline = resampled.model.pipeline
    assert [name for name, _ in pipeline.steps] == ["preprocess", "resample", "select", "model"]
    predictor = Predictor(pipeline, resampled.model.metadata, resampled.contract, fast_path_rows=8)
    assert predictor.fast_note == "on for up to 8 rows"
    fast = predictor.predict(rows(resampled, 8))
    assert fast.path == "fast" and len(fast.predictions) == 8
    assert np.array_equal(fast.scores, predictor.predict(rows(resampled, 8), "sklearn").scores)


def test_without_the_fast_path_the_pipeline_serves_it(resampled: kit.Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlworkflow.service import fastpath

    def refuse(pipeline: Any) -> Any:
        raise fastpath.Unsupported("step FunctionSampler")

    monkeypatch.setattr(fastpath, "compile_pipeline", refuse)
    predictor = Predictor(resampled.model.pipeline, resampled.model.metadata, resampled.contract, fast_path_rows=8)
    assert predictor.fast is None and predictor.fast_note == "off: step FunctionSampler"
    from mlworkflow.service.predictor import to_frame

    checked = rows(resampled, 5)
    served = predictor.predict(checked)
    assert served.path == "sklearn" and len(served.predictions) == 5
    expected = resampled.model.pipeline.predict_proba(to_frame(resampled.contract, checked))
    assert served.scores is not None and np.array_equal(served.scores, expected)
