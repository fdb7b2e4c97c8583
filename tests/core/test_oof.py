"""Out-of-fold predictions: kept from a candidate's own fold fits, the artifact's table, stopping after the first fold."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

from mlworkflow.core import crossval, families, oof, searches
from tests.core.test_searches import TASKS, tiny


def folds_of(task: str, rows: int = 90, n_folds: int = 3) -> tuple[pd.DataFrame, pd.Series, object, list[oof.Split]]:
    """The tiny frame of a task, its logistic pipeline and three seeded folds."""
    X, y, spec = tiny(task, rows=rows)
    return X, y, families.make_pipeline(spec, "logistic", 0), list(crossval.make_cv(task, n_folds, 0).split(X, y))


@pytest.mark.parametrize("task", TASKS)
def test_the_held_out_predictions_are_cross_val_predicts(task: str) -> None:
    X, y, pipeline, splits = folds_of(task)
    scoring = searches.scorer("neg_root_mean_squared_error" if task == "regression" else "accuracy", y, tiny(task)[2])
    folds = oof.cross_validate_folds(pipeline, X, y, splits, scoring)
    method = "predict" if task == "regression" else "predict_proba"
    expected = cross_val_predict(pipeline, X, y, cv=splits, method=method)
    assert folds.oof is not None and not folds.stopped and len(folds.test) == 3
    np.testing.assert_allclose(folds.oof.predictions, expected)
    assert folds.oof.n_folds == 3 and list(folds.oof.target) == list(y)
    for number, (_, held) in enumerate(splits):
        assert (folds.oof.fold[held] == number).all()
    if task != "regression":
        assert folds.oof.classes == tuple(sorted(set(y)))
        margins = cross_val_predict(pipeline, X, y, cv=splits, method="decision_function")
        assert folds.oof.margins is not None
        np.testing.assert_allclose(folds.oof.margins, margins.reshape(len(y), -1))


@pytest.mark.parametrize("task", TASKS)
def test_the_artifact_table_round_trips(task: str) -> None:
    X, y, pipeline, splits = folds_of(task)
    predictions = oof.cross_validate_folds(pipeline, X, y, splits, None).oof
    assert predictions is not None
    table = predictions.to_frame()
    assert list(table.columns[:2]) == ["fold", "target"]
    if task == "regression":
        assert list(table.columns[2:]) == ["prediction"]
    else:
        assert list(table.columns[2:]) == [f"proba:{c}" for c in sorted(set(y))]
    back = oof.OutOfFold.from_frame(table)
    np.testing.assert_allclose(back.predictions, predictions.predictions)
    assert (back.fold == predictions.fold).all() and list(back.target) == list(y)
    assert back.classes == tuple(str(c) for c in predictions.classes) and back.margins is None


def test_proba_of_names_a_class_as_text() -> None:
    found = oof.OutOfFold(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([0, 1]), np.array([1, 0]), (0, 1))
    assert found.proba_of("1").tolist() == [0.8, 0.4] and found.response() is found.predictions


def test_a_stop_after_the_first_fold_fits_no_other() -> None:
    X, y, pipeline, splits = folds_of("binary")
    asked: list[tuple[int, float]] = []

    def stop(done: int, mean: float) -> bool:
        asked.append((done, mean))
        return True

    folds = oof.cross_validate_folds(pipeline, X, y, splits, "accuracy", stop=stop)
    assert folds.stopped and len(folds.test) == 1 and folds.oof is None
    assert asked == [(1, pytest.approx(folds.test[0]))]
    going_on = oof.cross_validate_folds(pipeline, X, y, splits, "accuracy", stop=lambda done, mean: False)
    assert not going_on.stopped and going_on.test == oof.cross_validate_folds(pipeline, X, y, splits, "accuracy").test


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
def test_failed_folds_are_nan_and_every_fold_failing_raises() -> None:
    X, y, pipeline, splits = folds_of("binary")
    broken = clone(pipeline).set_params(model__C=-1.0)
    with pytest.raises(ValueError, match="'C' parameter"):
        oof.cross_validate_folds(broken, X, y, splits, "accuracy", stop=lambda done, mean: False)
    one_class = pd.Series(np.where(np.arange(len(y)) < 30, "no", "yes"), name="t")  # fold 0 trains on "yes" only
    first = [(np.arange(30, 90), np.arange(0, 30)), *splits[1:]]
    folds = oof.cross_validate_folds(pipeline, X, one_class, first, "accuracy")
    assert math.isnan(folds.test[0]) and all(map(math.isfinite, folds.test[1:])) and folds.oof is None
