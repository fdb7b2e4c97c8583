"""LightGBM with early stopping on rows held out inside fit: it stops before the cap, is seeded, clonable, and
survives cross-validation, calibration and skops unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_limits

from mlworkflow.core import boosting

CAP = 2000
QUIET = {"verbose": -1, "n_jobs": 1, "deterministic": True, "force_row_wise": True}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP thread: the machine is shared."""
    with threadpool_limits(limits=1):
        yield


def easy(n_rows: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A binary problem with text labels that a few dozen trees learn."""
    X, y = make_classification(n_rows, 8, n_informative=3, random_state=seed)
    return X, np.where(y == 1, "yes", "no")


def classifier(**params: Any) -> boosting.LGBMClassifier:
    """A stopping classifier with a high cap."""
    return boosting.LGBMClassifier(**{"early_stopping": True, "n_estimators": CAP, "random_state": 3, **QUIET, **params})


def test_it_stops_before_the_cap_and_keeps_the_best_trees() -> None:
    X, y = easy()
    model = classifier().fit(X, y)
    assert 0 < model.best_iteration_ < CAP / 10
    assert model.n_estimators_ == model.best_iteration_, "trees past the best are not kept"
    assert (model.predict(X) == y).mean() > 0.9
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X, num_iteration=model.best_iteration_))


def test_the_regressor_stops_before_the_cap_too() -> None:
    X, y = make_regression(800, 5, noise=10.0, random_state=0)
    model = boosting.LGBMRegressor(early_stopping=True, n_estimators=CAP, random_state=1, **QUIET).fit(X, y)
    assert 0 < model.best_iteration_ < CAP
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.9


def test_without_early_stopping_every_tree_is_grown() -> None:
    X, y = easy(600)
    model = classifier(early_stopping=False, n_estimators=60).fit(X, y)
    assert model.n_estimators_ == 60 and model.best_iteration_ == 0


def test_auto_holds_rows_out_only_above_the_rows_histgradientboosting_needs() -> None:
    model = boosting.LGBMClassifier()
    assert model.early_stopping == "auto"
    assert not model.stops_early(np.arange(boosting.AUTO_ROWS) % 2)
    assert model.stops_early(np.arange(boosting.AUTO_ROWS + 1) % 2)


def test_a_class_too_rare_to_split_fits_every_tree_instead() -> None:
    X, y = easy(300)
    y = y.astype(object)
    y[0] = "rare"  # one row: it cannot sit on both sides of a stratified split
    model = classifier(n_estimators=30).fit(X, y)
    assert model.n_estimators_ == 30 and set(model.classes_) == {"no", "yes", "rare"}


def test_same_seed_same_model_another_seed_another_split() -> None:
    X, y = easy()
    first, second = classifier().fit(X, y), classifier().fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.booster_.model_to_string() == second.booster_.model_to_string()
    other = classifier(random_state=4).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_the_held_out_rows_keep_the_class_shares() -> None:
    y = np.array(["yes"] * 100 + ["no"] * 900)
    fit = classifier(validation_fraction=0.2).held_out(np.arange(1000).reshape(-1, 1), y, None)
    (_, held_y), = fit["eval_set"]
    assert len(held_y) == 200 and (held_y == "yes").sum() == 20
    assert len(fit["y"]) == 800 and not set(fit["X"].ravel()) & set(fit["eval_set"][0][0].ravel())


def test_weights_are_split_with_their_rows() -> None:
    X, y = easy(400)
    weights = np.arange(400, dtype=float)
    fit = classifier().held_out(X, y, weights)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit["sample_weight"], fit["eval_sample_weight"][0]])),
                                  weights)
    assert classifier(class_weight="balanced").fit(X, y, sample_weight=weights + 1).best_iteration_ > 0


def test_get_params_and_clone_round_trip_and_the_booster_never_sees_our_parameters() -> None:
    model = classifier(n_iter_no_change=7, validation_fraction=0.2, min_data_per_group=5)
    params = model.get_params()
    assert {"early_stopping": True, "n_iter_no_change": 7, "validation_fraction": 0.2, "min_data_per_group": 5}.items() \
        <= params.items()
    twin = clone(model)
    assert type(twin) is boosting.LGBMClassifier and twin.get_params() == params
    twin.set_params(n_iter_no_change=3)
    assert twin.n_iter_no_change == 3 and twin.get_params()["n_iter_no_change"] == 3
    X, y = easy(600)
    booster_params = twin.fit(X, y).booster_.params
    assert not set(booster_params) & {*boosting.OWN_PARAMS, "early_stopping_round"}


def test_a_bad_validation_fraction_is_refused_naming_it() -> None:
    X, y = easy(300)
    with pytest.raises(ValueError, match="'validation_fraction' parameter of LGBMClassifier must be a float in the range"):
        classifier(validation_fraction=1.5).fit(X, y)


def test_cross_validation_and_calibration_clone_and_fit_it() -> None:
    X, y = easy(900)
    scores = cross_val_score(classifier(), X, y, cv=3, scoring="roc_auc")
    assert scores.min() > 0.85
    calibrated = CalibratedClassifierCV(classifier(), method="sigmoid", cv=3).fit(X, y)
    assert all(0 < c.estimator.best_iteration_ < CAP for c in calibrated.calibrated_classifiers_)


def test_skops_round_trip_is_bit_identical_under_the_registry_trust_list(tmp_path: Any) -> None:
    import skops.io as sio

    from mlworkflow.bundle.registry import default_trusted

    X, y = easy()
    model = classifier().fit(X, y)
    sio.dump(model, tmp_path / "model.skops")
    untrusted = set(sio.get_untrusted_types(file=tmp_path / "model.skops"))
    assert "mlworkflow.core.boosting.LGBMClassifier" in untrusted <= set(default_trusted())
    loaded = sio.load(tmp_path / "model.skops", trusted=list(default_trusted()))
    assert type(loaded) is boosting.LGBMClassifier and loaded.best_iteration_ == model.best_iteration_
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
