"""One candidate's cross-validation: its trial record, failures, pruning notes and the leader's predictions."""

from __future__ import annotations

import math
import time

import numpy as np

from mlworkflow.core import crossval, families, oof, searches, trials
from tests.core.test_searches import tiny


def search_of(deadline: float = math.inf) -> trials.Search:
    """A search context over a tiny binary frame: the logistic pipeline on two seeded folds."""
    X, y, spec = tiny("binary")
    estimator = families.make_pipeline(spec, "logistic", 0)
    cv, scoring = crossval.make_cv("binary", 2, 0), searches.scorer("roc_auc", y, spec)
    return trials.Search(estimator, X, y, cv, scoring, n_jobs=1, seed=0, deadline=deadline)


def test_a_candidate_is_scored_per_fold_and_the_best_keeps_its_predictions() -> None:
    search = search_of()
    trial = trials.evaluate(search, {"model__C": np.float64(0.5)})
    assert trial.params == {"model__C": 0.5} and type(trial.params["model__C"]) is float  # JSON-ready
    assert len(trial.fold_scores) == 2 and trial.score == np.mean(trial.fold_scores) and not trial.error
    assert search.leader.score == trial.score and search.leader.of(trial) is not None


def test_a_candidate_whose_folds_all_fail_scores_nan_with_the_last_line_of_the_reason() -> None:
    trial = trials.evaluate(search_of(), {"model__C": -1.0})
    assert math.isnan(trial.score) and "'C' parameter" in trial.error and "sklearn." not in trial.error
    assert trials.last_line(ValueError("sklearn.utils.InvalidParameterError: bad\n")) == "InvalidParameterError: bad"


def test_a_stopped_candidate_is_noted_with_its_folds_so_far() -> None:
    def stop(done: int, mean: float) -> bool:
        return True

    trial = trials.evaluate(search_of(), {"model__C": 2.0}, stop)
    assert math.isnan(trial.score) and trial.error.startswith("pruned after 1 of 2 folds")
    assert len(trial.fold_scores) == 1


def test_the_leader_keeps_the_first_of_equal_scores_and_the_defaults_apart() -> None:
    leader = trials.Leader()
    first, second, defaults = (oof.OutOfFold(np.zeros(4), np.array([0, 0, 1, 1]), np.zeros(4)) for _ in range(3))
    tuned = trials.Trial({"model__C": 2.0}, 0.8, 0.0, 0.9)
    leader.offer(tuned, first)
    leader.offer(trials.Trial({"model__C": 3.0}, 0.8, 0.0, 0.9), second)
    leader.offer(trials.Trial({}, 0.7, 0.0, 0.8), defaults)
    assert leader.of(tuned) is first and leader.of(trials.Trial({}, 0.7, 0.0, 0.8)) is defaults
    assert leader.of(trials.Trial({"model__C": 3.0}, 0.8, 0.0, 0.9)) is None


def test_a_search_past_its_deadline_is_over_budget() -> None:
    assert search_of(deadline=time.monotonic() - 1.0).over_budget() and not search_of().over_budget()
