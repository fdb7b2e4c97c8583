"""The search strategies: how each reads a space, what each runs and how it ends (budgets, pruning, patience)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy.stats import randint

from mlworkflow.core import searches, strategies, trials
from mlworkflow.stages import train
from tests.core.test_searches import FAST, SEARCHES, TASKS, run, standard, tiny

# --- how each strategy reads a space ---------------------------------------------------------------


def test_grid_values_and_distributions_follow_the_spec() -> None:
    assert strategies.grid_values({"low": 1e-3, "high": 10.0, "log": True}, 3) == [0.001, 0.1, 10.0]
    assert strategies.grid_values({"low": 1, "high": 50, "log": True, "type": "int"}, 3) == [1, 7, 50]
    assert strategies.grid_values({"low": 2, "high": 3, "type": "int"}, 5) == [2, 3]
    assert strategies.grid_values(["a", None], 3) == ["a", None]
    uniform = strategies.distribution({"low": 0.0, "high": 2.0})
    assert uniform.support() == (0.0, 2.0)
    log = strategies.distribution({"low": 1e-3, "high": 1.0, "log": True}).rvs(size=200, random_state=0)
    assert log.min() >= 1e-3 and log.max() <= 1.0 and np.median(log) < 0.1
    integers = strategies.distribution({"low": 1, "high": 5, "type": "int"})
    assert isinstance(integers.dist, type(randint)) and integers.support() == (1, 5)


def test_optuna_suggestions_cover_ranges_and_structured_choices() -> None:
    space = {
        "h": [[32], [64, 32]],
        "c": {"low": 0.1, "high": 10.0, "log": True},
        "k": {"low": 1, "high": 3, "type": "int"},
    }
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        values = {name: strategies.suggest(trial, name, spec) for name, spec in space.items()}
        assert values["h"] in ([32], [64, 32]) and 0.1 <= values["c"] <= 10.0 and values["k"] in (1, 2, 3)
        study.tell(trial, 0.0)


# --- the four searches -----------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("search", SEARCHES)
def test_every_search_tunes_every_task(search: str, task: str) -> None:
    result = standard(task, search)
    best = result.best
    assert result.status == "completed" and best is not None
    assert len(result.trials) == {"grid": 2, "random": 4, "halving": 6, "optuna": 4}[search] + 1  # + defaults
    tuned = next(t for t in result.trials if t.params)
    ((name, value),) = tuned.params.items()
    assert name == ("model__alpha" if task == "regression" else "model__C") and value > 0
    assert best.score >= result.trials[-1].score  # never below the defaults
    if task == "regression":
        assert best.score < 0 < train.search_table([result]).iloc[0]["cv root_mean_squared_error"]
    else:
        assert 0 < best.score <= 1 and best.train_score >= best.score - 0.2


@pytest.mark.parametrize("search", ["random", "halving", "optuna"])
def test_searches_are_deterministic_for_a_seed(search: str) -> None:
    assert run("binary", search=search).trials == standard("binary", search).trials


def test_halving_keeps_the_best_third_on_more_rows() -> None:
    result = run("multiclass", search="halving", n_iter=6)
    searched = [t for t in result.trials if t.params]  # without the defaults trial
    rounds = pd.Series([t.iteration for t in searched]).value_counts().sort_index()
    assert rounds.tolist() == [6, 2]
    rows = {t.iteration: t.resources for t in searched}
    assert rows == {0: 30, 1: 90}
    best = result.best
    assert best is not None and best.iteration == 1


def test_a_failing_halving_search_is_reported() -> None:
    result = run("regression", search="halving", space={"logistic": {"alpha": [-1.0, -2.0]}})
    assert result.status.startswith("failed")
    assert result.best is not None and result.best.params == {}  # the defaults are kept


@pytest.mark.parametrize("search", SEARCHES)
def test_a_spent_budget_stops_the_search_after_the_first_trial(search: str) -> None:
    result = run(
        "binary", search=search, time_budget_s=1e-9, n_iter=6, space={"logistic": {"C": [0.1, 1.0, 10.0]}}
    )
    assert result.status.startswith("stopped: time budget spent"), result.status
    assert result.best is not None
    expected = 4 if search == "halving" else 2  # halving stops between rounds; + the defaults trial
    assert len(result.trials) == expected


def test_progress_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    X, y, spec = tiny("binary")
    searches.tune(spec, "logistic", X, y, dataclasses.replace(FAST, search="optuna"), 0, "roc_auc", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "logistic (optuna)" in captured.err and "4/4" in captured.err


def test_optuna_logging_is_restored() -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    run("binary", search="optuna")
    assert optuna.logging.get_verbosity() == optuna.logging.INFO


# --- Optuna: pruning and patience ------------------------------------------------------------------


def test_optuna_prunes_trials_whose_first_fold_is_below_the_median() -> None:
    space = {"logistic": {"C": {"low": 1e-6, "high": 10.0, "log": True}}}
    X, y, spec = tiny("binary", rows=150)
    settings = dataclasses.replace(FAST, n_iter=14, folds=3, space=space)
    result = searches.tune(spec, "logistic", X, y, settings, 0, "neg_log_loss")
    pruned = [t for t in result.trials if t.error.startswith("pruned after 1 of 3 folds")]
    assert pruned and len(result.trials) == 15  # pruned trials count as trials (the defaults trial is last)
    assert all(math.isnan(t.score) and len(t.fold_scores) == 1 for t in pruned)
    assert result.best is not None and not result.best.error and len(result.best.fold_scores) == 3
    assert all(not t.error for t in result.trials[: strategies.PRUNE_AFTER])  # never before five complete trials


def trial_of(score: float, folds: tuple[float, ...]) -> trials.Trial:
    return trials.Trial(params={}, score=score, std=0.0, train_score=math.nan, fold_scores=folds)


def test_patience_counts_trials_without_a_gain_above_the_best_s_fold_standard_error() -> None:
    patience = strategies.Patience(limit=2)
    assert not patience.spent(trial_of(0.80, (0.78, 0.80, 0.82)))  # standard error 0.0115
    assert not patience.spent(trial_of(0.81, (0.80, 0.81, 0.82)))  # +0.01: inside the noise, stale 1
    assert not patience.spent(trial_of(0.83, (0.82, 0.83, 0.84)))  # +0.03: a real gain, stale 0
    assert not patience.spent(trial_of(math.nan, ()))  # failed or pruned: stale 1
    assert patience.spent(trial_of(0.835, (0.83, 0.835, 0.84)))  # +0.005 < 0.0058: stale 2 = limit
    assert not strategies.Patience(limit=None).spent(trial_of(math.nan, ()))


def test_optuna_stops_when_the_trials_stop_gaining_and_says_so() -> None:
    space = {"logistic": {"C": {"low": 1.0, "high": 1.01}}}  # every trial scores the same: nothing to gain
    X, y, spec = tiny("binary", rows=150)
    settings = dataclasses.replace(FAST, n_iter=20, folds=3, space=space, patience=3)
    result = searches.tune(spec, "logistic", X, y, settings, 0, "roc_auc")
    assert result.status == "stopped: 3 trials in a row gained less than a fold standard error, after 4 of 20 trials"
    assert len(result.trials) == 5  # the four trials, then the defaults trial
    unlimited = searches.tune(spec, "logistic", X, y, dataclasses.replace(settings, n_iter=6, patience=None), 0, "roc_auc")
    assert unlimited.status == "completed" and len(unlimited.trials) == 7
