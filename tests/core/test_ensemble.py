"""Ensembles: greedy selection's weights, the nested comparison with the single model, the gates, the fitted model
saved exactly (skops) with the registry's trusted types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import StackingClassifier, VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score, root_mean_squared_error
from sklearn.model_selection import StratifiedKFold

from mlworkflow.bundle import registry
from mlworkflow.core import crossval, ensemble, oof, searches, trials
from mlworkflow.core.ensemble import Member
from mlworkflow.core.features import FeatureSpec
from tests.core.test_families import tiny

N = 400
BINARY = FeatureSpec(target="t", task="binary", numeric=("x",))


def halves(task: str = "binary", sharp: float = 1.0, noise: float = 0.3) -> tuple[list[Member], pd.Series]:
    """Two members that each see one half of the signal (out-of-fold predictions given), and the target."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=N), rng.normal(size=N)
    if task == "regression":
        y = pd.Series(a + b + 0.3 * rng.normal(size=N), name="t")
        fold = fold_of(y, task)
        return [Member("left", Ridge(), a[:, None], fold), Member("right", Ridge(), b[:, None], fold)], y
    y = pd.Series(np.where(a + b + noise * rng.normal(size=N) > 0, "yes", "no"), name="t")
    fold = fold_of(y, task)
    return [Member(name, LogisticRegression(), proba(sharp * part), fold) for name, part in (("left", a), ("right", b))], y


def fold_of(y: pd.Series, task: str) -> np.ndarray:
    """Each row's fold among the search's 4 (seed 0)."""
    fold = np.zeros(len(y), dtype=np.intp)
    for k, (_, rows) in enumerate(crossval.make_cv(task, 4, 0).split(np.zeros((len(y), 1)), y)):
        fold[rows] = k
    return fold


def proba(margin: np.ndarray) -> np.ndarray:
    """Binary probabilities (columns: 'no', 'yes') from a margin."""
    p = 1 / (1 + np.exp(-margin))
    return np.column_stack([1 - p, p])


# --- greedy selection ----------------------------------------------------------------------------------------


def test_greedy_selection_weights_members_by_the_share_of_rounds_that_picked_them() -> None:
    members, y = halves()
    score = ensemble.scorer_of("roc_auc", y, BINARY)
    weights = ensemble.greedy_weights([m.oof for m in members], np.arange(N), score)
    assert weights.sum() == pytest.approx(1.0)
    assert np.allclose(weights * ensemble.ROUNDS, np.round(weights * ensemble.ROUNDS))
    assert 0.3 < weights[0] < 0.7, "each half carries half the signal"
    copy = ensemble.greedy_weights([members[0].oof, members[0].oof], np.arange(N), score)
    assert list(copy) == [1.0, 0.0], "ties go to the earlier (better-ranked) member"


def test_the_score_takes_the_positive_class_as_given_even_when_it_sorts_first() -> None:
    members, y = halves()
    flipped = FeatureSpec(target="t", task="binary", numeric=("x",), positive_class="no")
    rows = np.arange(N)
    score = ensemble.scorer_of("roc_auc", y, flipped)
    assert score(members[0].oof, rows) == pytest.approx(roc_auc_score(y == "no", members[0].oof[:, 0]))
    assert score(members[0].oof, rows[:100]) == pytest.approx(roc_auc_score(y[:100] == "no", members[0].oof[:100, 0]))


def test_weights_for_a_fold_never_see_that_folds_labels() -> None:
    members, y = halves()
    oofs, score = [m.oof for m in members], ensemble.scorer_of("roc_auc", y, BINARY)
    fit_rows, rows = next(StratifiedKFold(4, shuffle=True, random_state=0).split(np.zeros(N), y))
    relabelled = y.copy()
    relabelled.iloc[rows] = relabelled.iloc[rows].sample(frac=1, random_state=1).to_numpy()
    for method in ("greedy", "stack"):
        before = ensemble.held_out(method, oofs, y, "binary", score, fit_rows, rows)
        after = ensemble.held_out(method, oofs, relabelled, "binary", ensemble.scorer_of("roc_auc", relabelled, BINARY),
                                  fit_rows, rows)
        assert np.array_equal(before, after), method


# --- the choice ----------------------------------------------------------------------------------------------


def test_a_greedy_ensemble_that_beats_the_single_model_on_held_out_folds_is_kept_as_soft_voting() -> None:
    members, y = halves()
    chosen = ensemble.choose("greedy", members, "left", "roc_auc", y, BINARY, seed=0)
    assert chosen.kept, chosen.sentence
    assert chosen.members == ("left", "right") and sum(chosen.weights) == pytest.approx(1.0)
    assert np.mean(chosen.scores.ensemble) > np.mean(chosen.scores.single) + 0.05  # type: ignore[union-attr]
    splits = crossval.make_cv("binary", 4, 0).split(np.zeros(N), y)
    single = [roc_auc_score(y.iloc[rows] == "yes", members[0].oof[rows, 1]) for _, rows in splits]
    assert chosen.scores.single == pytest.approx(single)  # type: ignore[union-attr]
    assert isinstance(chosen.estimator, VotingClassifier) and chosen.estimator.voting == "soft"
    assert chosen.estimator.weights == list(chosen.weights)
    assert chosen.as_dict()["kept"] and "kept." in chosen.sentence


def test_a_stack_is_a_stacking_classifier_on_the_search_folds() -> None:
    members, y = halves()
    chosen = ensemble.choose("stack", members, "left", "roc_auc", y, BINARY, seed=0)
    assert chosen.kept and isinstance(chosen.estimator, StackingClassifier), chosen.sentence
    assert chosen.estimator.cv.n_splits == 4 and chosen.weights == ()


def test_an_ensemble_that_does_not_beat_the_single_model_is_not_kept() -> None:
    members, y = halves()
    noise = np.random.default_rng(5).permutation(members[1].oof)
    fold = members[0].fold
    strong = Member("strong", LogisticRegression(), proba(np.log(members[0].oof[:, 1] / members[0].oof[:, 0]) * 3), fold)
    chosen = ensemble.choose("greedy", [strong, Member("noise", LogisticRegression(), noise, fold)], "strong", "roc_auc",
                             y, BINARY, seed=0)
    assert not chosen.kept and chosen.estimator is None
    assert "one family only" in chosen.sentence or "does not beat" in chosen.sentence


def test_an_ensemble_whose_held_out_log_loss_is_worse_than_the_priors_is_not_kept() -> None:
    members, y = halves(sharp=40.0, noise=1.5)  # a useful ranking, absurdly confident probabilities
    chosen = ensemble.choose("greedy", members, "left", "roc_auc", y, BINARY, seed=0)
    assert not chosen.kept
    assert chosen.log_loss is not None and chosen.prior is not None and chosen.log_loss.log_loss > chosen.prior.log_loss
    assert "worse than the class prior's" in chosen.sentence


def test_no_ensemble_is_tried_with_one_family_or_when_switched_off() -> None:
    members, y = halves()
    one = ensemble.choose("greedy", members[:1], "left", "roc_auc", y, BINARY, seed=0)
    assert not one.kept and one.scores is None and "`train.top_k` ≥ 2" in one.sentence
    off = ensemble.choose("none", members, "left", "roc_auc", y, BINARY, seed=0)
    assert not off.kept and off.scores is None and "none" in off.sentence


def test_a_regression_ensemble_is_a_voting_regressor_scored_by_its_error() -> None:
    members, y = halves("regression")
    spec = FeatureSpec(target="t", task="regression", numeric=("x",))
    chosen = ensemble.choose("greedy", members, "left", "neg_root_mean_squared_error", y, spec, seed=0)
    assert chosen.kept and isinstance(chosen.estimator, VotingRegressor), chosen.sentence
    splits = crossval.make_cv("regression", 4, 0).split(np.zeros(N), y)
    alone = [-root_mean_squared_error(y.iloc[rows], members[0].oof[rows, 0]) for _, rows in splits]
    assert chosen.scores.single == pytest.approx(alone)  # type: ignore[union-attr]
    assert chosen.log_loss is None and chosen.calibration_record() is None


# --- real members, fitted and saved --------------------------------------------------------------------------


def test_members_fitted_as_an_ensemble_round_trip_through_skops_exactly() -> None:
    X, y, spec = tiny("binary")
    settings = trials.SearchSettings("random", 1, 2, 3, 1)
    results = searches.tune_all(spec, ["logistic", "knn"], X, y, settings, 0, "roc_auc")
    members = ensemble.members(spec, results, 0)
    assert [m.family for m in members] == ["logistic", "knn", "hist_gradient_boosting"]
    assert all(np.array_equal(m.oof, r.oof.predictions) for m, r in zip(members, results, strict=True))  # type: ignore[union-attr]
    chosen = ensemble.choose("greedy", members, "logistic", "roc_auc", y, spec, 0)
    forced = chosen if chosen.kept else ensemble.Choice(
        "greedy", "roc_auc", "logistic", ("logistic", "knn"), (0.5, 0.5),
        estimator=ensemble.build("greedy", members[:2], (0.5, 0.5), "binary", None, 1))
    model = ensemble.fit(forced, X, y)
    saved = sio.dumps(model)
    assert set(sio.get_untrusted_types(data=saved)) <= set(registry.default_trusted())
    loaded = sio.loads(saved, trusted=list(registry.default_trusted()))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert list(loaded.predict(X)) == list(model.predict(X)) and set(model.classes_) == {"no", "yes"}
    assert ensemble.member(model, "knn") is model.named_estimators_["knn"]
    assert ensemble.member(model.named_estimators_["knn"], "knn") is model.named_estimators_["knn"]


def test_only_members_on_the_single_models_folds_are_combined_and_their_held_out_predictions_are_kept() -> None:
    members, y = halves()
    other = Member("other", LogisticRegression(), members[1].oof, (members[1].fold + 1) % 4)
    alone = ensemble.choose("greedy", [members[0], other], "left", "roc_auc", y, BINARY, seed=0)
    assert alone.scores is None and "at least two families" in alone.sentence
    third = Member("third", LogisticRegression(), members[0].oof, members[0].fold)
    missing = ensemble.choose("greedy", [members[1], third], "left", "roc_auc", y, BINARY, seed=0)
    assert "Left kept no out-of-fold predictions" in missing.sentence
    chosen = ensemble.choose("greedy", members, "left", "roc_auc", y, BINARY, seed=0)
    single = oof.OutOfFold(members[0].oof, members[0].fold, np.asarray(y), ("no", "yes"))
    kept = ensemble.out_of_fold(chosen, single)
    assert chosen.scores is not None and np.array_equal(kept.predictions, chosen.scores.predictions)
    assert np.array_equal(kept.fold, single.fold)
    assert ensemble.out_of_fold(alone, single) is single


def test_an_ensemble_must_beat_the_single_model_by_more_than_one_corrected_standard_error() -> None:
    single = (0.80, 0.84, 0.78, 0.86, 0.82)
    noisy = ensemble.Nested((0.83, 0.82, 0.79, 0.85, 0.84), single, np.zeros((5, 2)))  # +0.006, t ≈ 0.5
    assert 0 < ensemble.gain_statistic(noisy) < searches.CLEAR_GAIN_T
    why = ensemble.verdict(noisy, None, None, used=2)
    assert why.startswith("it does not beat the single model by more than 1 corrected standard error of the paired fold gains (t = 0.")
    steady = ensemble.Nested(tuple(s + 0.004 for s in single), single, np.zeros((5, 2)))  # +0.004 on every fold
    assert ensemble.gain_statistic(steady) > searches.CLEAR_GAIN_T and ensemble.verdict(steady, None, None, used=2) == ""
