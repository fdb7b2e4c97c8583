"""Calibration: out-of-fold losses against the prior's, the choice of calibration, the calibrated model saved and served."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import cross_val_predict

from mlworkflow.bundle import registry
from mlworkflow.core import calibration, families, oof
from mlworkflow.core.calibration import Check, Losses
from mlworkflow.core.features import FeatureSpec
from mlworkflow.service import fastpath
from tests.core.test_families import tiny


def few_rows_five_classes() -> tuple[pd.DataFrame, pd.Series, FeatureSpec]:
    """303 rows, 5 imbalanced classes with label noise (the size of the issue's held-out multiclass problem)."""
    X, codes = make_classification(n_samples=303, n_features=13, n_informative=5, n_redundant=3, n_classes=5,
                                   weights=[0.54, 0.18, 0.12, 0.12, 0.04], class_sep=0.6, flip_y=0.15, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(13)])
    y = pd.Series(np.array(["c0", "c1", "c2", "c3", "c4"])[codes], name="t")
    spec = FeatureSpec(target="t", task="multiclass", classes=tuple(sorted(set(y))), numeric=tuple(frame.columns))
    return frame, y, spec


def forced(method: str, n_folds: int = 3) -> Check:
    """A check that chose `method` (to build a calibrated model without measuring)."""
    return Check("any", Losses(1.0, 1.0), Losses(0.9, 0.9), {method: Losses(0.5, 0.5)}, method, n_folds)


# --- losses and the choice ----------------------------------------------------------------------------------


def test_losses_are_scikit_learns_for_binary_and_multiclass() -> None:
    y = pd.Series(["b", "a", "b", "c"])
    proba = np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    found = calibration.losses(y, proba, ["a", "b", "c"])
    assert found.log_loss == pytest.approx(log_loss(y, proba, labels=["a", "b", "c"]))
    assert found.brier == pytest.approx(brier_score_loss(y, proba, labels=["a", "b", "c"]))
    two = calibration.losses(pd.Series([0, 1]), np.array([[0.8, 0.2], [0.4, 0.6]]), [0, 1])
    assert two.brier == pytest.approx(brier_score_loss([0, 1], [0.2, 0.6]))


def test_a_calibration_is_kept_only_when_it_improves_one_loss_without_worsening_the_other() -> None:
    prior, raw = Losses(1.3, 0.7), Losses(1.0, 0.5)
    assert calibration.choose(raw, {"sigmoid": Losses(0.9, 0.5)}, prior) == "sigmoid"
    assert calibration.choose(raw, {"sigmoid": Losses(0.9, 0.51)}, prior) == "none", "Brier worse"
    assert calibration.choose(raw, {"sigmoid": Losses(0.95, 0.4), "isotonic": Losses(0.9, 0.45)}, prior) == "isotonic"
    assert calibration.choose(raw, {"sigmoid": Losses(1.1, 0.6)}, prior) == "none"
    untrusted = Losses(4.38, 0.6)  # worse than the prior: any lower log-loss is taken, whatever Brier does
    assert calibration.choose(untrusted, {"sigmoid": Losses(1.2, 0.65)}, prior) == "sigmoid"


def test_isotonic_is_tried_only_with_a_thousand_rows_in_every_class() -> None:
    assert calibration.methods(pd.Series(["a"] * 1000 + ["b"] * 1000)) == ("sigmoid", "isotonic")
    assert calibration.methods(pd.Series(["a"] * 5000 + ["b"] * 999)) == ("sigmoid",)


def test_calibrated_out_of_fold_probabilities_fix_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(rng.integers(0, 2, 600))
    right = rng.random(600) < 0.7  # 70 % right, but always 99 % sure
    p = np.where(right == (y == 1), 0.99, 0.01)
    proba = np.column_stack([1 - p, p])
    cv = calibration.folds(5, 0)
    fixed = calibration.calibrated_out_of_fold(proba, y, "sigmoid", cv)
    assert np.allclose(fixed.sum(axis=1), 1.0)
    assert calibration.losses(y, fixed, [0, 1]).log_loss < 0.65 < calibration.losses(y, proba, [0, 1]).log_loss


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrating_given_margins_is_what_calibrating_the_model_does(n_classes: int, method: str) -> None:
    # CalibratedClassifierCV calibrates a model's decision function when it has one: the check must read the same.
    X, y = make_classification(n_samples=600, n_classes=n_classes, n_informative=4, random_state=0)
    model = LogisticRegression().fit(X[:200], y[:200])
    direct = CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X[200:400], y[200:400])
    margins = model.decision_function(X).reshape(600, -1)
    given = calibration.GivenMargins().fit(margins, y)
    via = CalibratedClassifierCV(FrozenEstimator(given), method=method).fit(margins[200:400], y[200:400])
    assert np.allclose(via.predict_proba(margins[400:]), direct.predict_proba(X[400:]))
    _, _, spec = tiny("binary")
    assert calibration.response(families.make_pipeline(spec, "logistic", 0)) == "decision_function"
    assert calibration.response(families.make_pipeline(spec, "svm", 0)) == "predict_proba", "already calibrated"


def test_out_of_fold_probabilities_and_margins_come_from_the_same_fits() -> None:
    frame, y, spec = tiny("binary")
    pipeline = families.make_pipeline(spec, "logistic", 0)
    proba, margins = calibration.out_of_fold(pipeline, frame, y, calibration.folds(3, 0))
    assert margins.shape == (len(y), 1) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.allclose(proba[:, 1], 1 / (1 + np.exp(-margins[:, 0])))
    expected = cross_val_predict(pipeline, frame, y, cv=calibration.folds(3, 0), method="predict_proba")
    assert np.allclose(proba, expected)


def test_the_prior_out_of_fold_is_each_training_folds_class_share() -> None:
    y = pd.Series(["a"] * 30 + ["b"] * 10)
    proba = calibration.prior_out_of_fold(y, calibration.folds(5, 0))
    assert np.allclose(proba, [0.75, 0.25])


# --- the check on the defect ------------------------------------------------------------------------------


def test_a_tree_worse_than_the_prior_is_trusted_once_calibrated() -> None:
    frame, y, spec = few_rows_five_classes()
    found = calibration.check("decision_tree", families.make_pipeline(spec, "decision_tree", 0), frame, y, 5, 0)
    assert found.raw.log_loss > 3 * found.prior.log_loss, "a deep tree's 0/1 probabilities"
    assert found.method == "sigmoid" and found.trusted
    assert found.chosen.log_loss < found.prior.log_loss
    assert tuple(found.tried) == ("sigmoid",), "303 rows: no isotonic"
    assert "sigmoid calibration improves it" in found.sentence and "no worse than the class prior's" in found.sentence
    assert found.as_dict()["uncalibrated"] == {"log_loss": found.raw.log_loss, "brier": found.raw.brier}


# --- the check from a search's out-of-fold predictions ------------------------------------------------------


@pytest.mark.parametrize(("family", "task"), [("logistic", "binary"), ("decision_tree", "multiclass")])
def test_the_check_from_given_predictions_is_the_check_that_refits(family: str, task: str) -> None:
    frame, y, spec = few_rows_five_classes() if task == "multiclass" else tiny(task)
    pipeline = families.make_pipeline(spec, family, 0)
    splits = list(calibration.folds(5, 0).split(frame, y))
    given = oof.cross_validate_folds(pipeline, frame, y, splits, None).oof
    assert given is not None and (given.margins is not None) == (family == "logistic")
    assert calibration.check_out_of_fold(family, given) == calibration.check(family, pipeline, frame, y, 5, 0)


def test_the_kept_predictions_are_the_calibrated_ones_when_a_calibration_is_chosen() -> None:
    frame, y, spec = few_rows_five_classes()
    pipeline = families.make_pipeline(spec, "decision_tree", 0)
    given = oof.cross_validate_folds(pipeline, frame, y, list(calibration.folds(5, 0).split(frame, y)), None).oof
    assert given is not None
    found = calibration.check_out_of_fold("decision_tree", given)
    kept = calibration.kept_out_of_fold(given, found)
    assert found.method == "sigmoid" and kept.margins is None and (kept.fold == given.fold).all()
    assert calibration.losses(y, kept.predictions, list(kept.classes)) == found.chosen
    assert calibration.kept_out_of_fold(given, forced("none")) is given


# --- the calibrated model: fitted, saved, served ------------------------------------------------------------


def test_an_uncalibrated_check_leaves_the_pipeline_as_it_is() -> None:
    _, _, spec = tiny("binary")
    pipeline = families.make_pipeline(spec, "logistic", 0)
    assert calibration.calibrate(pipeline, None) is pipeline
    assert calibration.calibrate(pipeline, forced("none")) is pipeline


def test_the_calibrated_model_wraps_the_model_step_and_keeps_the_uncalibrated_one() -> None:
    frame, y, spec = tiny("binary")
    plain = families.make_pipeline(spec, "decision_tree", 0).fit(frame, y)
    model = calibration.calibrate(families.make_pipeline(spec, "decision_tree", 0), forced("sigmoid")).fit(frame, y)
    step = model.named_steps["model"]
    assert isinstance(step, CalibratedClassifierCV) and step.method == "sigmoid" and not step.ensemble
    assert step.cv == 3
    before = calibration.uncalibrated(model)
    assert np.array_equal(before.predict_proba(frame), plain.predict_proba(frame)), "the same model, all rows"
    assert not np.array_equal(model.predict_proba(frame), plain.predict_proba(frame))
    with pytest.raises(ValueError, match="not a CalibratedClassifierCV"):
        calibration.uncalibrated(plain)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("family", ["logistic", "hist_gradient_boosting", "svm"])
@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_calibrated_model_is_trusted_by_the_registry_and_served_bit_identical(task: str, family: str,
                                                                                 method: str) -> None:
    frame, y, spec = tiny(task)
    model = calibration.calibrate(families.make_pipeline(spec, family, 0), forced(method)).fit(frame, y)
    saved = sio.dumps(model)
    assert set(sio.get_untrusted_types(data=saved)) <= set(registry.default_trusted())
    loaded = sio.loads(saved, trusted=list(registry.default_trusted()))
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    fast = fastpath.compile_pipeline(loaded)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the calibrated model's own input step is compiled too: no feature-name warning
        scores = fast.predict_proba(fastpath.frame_values(frame, fast.columns))
    assert np.array_equal(scores, model.predict_proba(frame))
