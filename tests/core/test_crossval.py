"""Cross-validation: folds, one candidate's fold loop (failures, notes, memory), the corrected t-test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from mlworkflow.core import crossval, families, metrics
from mlworkflow.errors import DataError
from tests.core.test_families import tiny


def test_make_cv_is_shuffled_and_stratified_for_classification() -> None:
    _, y, _ = tiny("binary")
    classify, regress = crossval.make_cv("binary", 4, seed=3), crossval.make_cv("regression", 4, seed=3)
    assert type(classify).__name__ == "StratifiedKFold" and type(regress).__name__ == "KFold"
    assert classify.shuffle and classify.get_n_splits() == 4
    first = [test for _, test in classify.split(np.zeros((len(y), 1)), y)]
    again = [test for _, test in crossval.make_cv("binary", 4, seed=3).split(np.zeros((len(y), 1)), y)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_splits_are_seeded_and_cover_folds_times_repeats() -> None:
    _, y, _ = tiny("multiclass")
    splits = crossval.make_splits(y, "multiclass", 4, 3, seed=1)
    again = crossval.make_splits(y, "multiclass", 4, 3, seed=1)
    assert len(splits) == 12
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    assert sorted(np.concatenate([test for _, test in splits[:4]])) == list(range(len(y)))


def test_too_few_rows_for_the_folds_is_a_data_error() -> None:
    with pytest.raises(DataError, match="cannot make 5 folds of 3 rows") as caught:
        crossval.make_splits(pd.Series([1.0, 2.0, 3.0], name="price"), "regression", 5, 1, seed=0)
    assert caught.value.column == "price"


def test_corrected_ttest_matches_a_hand_computed_example() -> None:
    # differences 0.02, 0.01, 0.03, 0.02: mean 0.02, sample variance 0.0002 / 3;
    # corrected variance (1/4 + 20/80) * 0.0002 / 3 = 1/30000, so t = 0.02 * sqrt(30000) = 2 * sqrt(3).
    statistic, p_value = crossval.corrected_ttest([0.02, 0.01, 0.03, 0.02], n_train=80, n_test=20)
    assert statistic == pytest.approx(2 * math.sqrt(3))
    assert p_value == pytest.approx(student_t.sf(2 * math.sqrt(3), df=3))
    assert p_value == pytest.approx(0.02018, abs=1e-4)
    naive = student_t.sf(0.02 / math.sqrt(0.0002 / 3 / 4), df=3)
    assert p_value > naive, "the correction makes the test more conservative"


def test_corrected_ttest_degenerate_cases() -> None:
    assert crossval.corrected_ttest([0.0, 0.0, 0.0], 10, 5) == (0.0, 0.5)
    assert crossval.corrected_ttest([0.1, 0.1], 10, 5) == (math.inf, 0.0)
    assert crossval.corrected_ttest([-0.1, 0.1], 10, 5)[1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least 2"):
        crossval.corrected_ttest([0.1], 10, 5)


def test_a_non_finite_score_fails_the_candidate() -> None:
    frame, y, spec = tiny("regression")
    splits = crossval.make_splits(y, "regression", 2, 1, seed=0)
    scorers = {"r2": lambda model, X, y: float("nan")}
    outcome = crossval.cross_validate(
        "logistic", families.make_pipeline(spec, "logistic", 0), frame, y, splits, scorers, None
    )
    assert outcome.status == "failed" and outcome.message == "no finite r2 on fold 1"


def test_warnings_become_notes() -> None:
    frame, y, spec = tiny("multiclass")
    splits = crossval.make_splits(y, "multiclass", 2, 1, seed=0)
    scorers = metrics.make_scorers(("accuracy",), "multiclass", None)
    pipeline = families.make_pipeline(spec, "logistic", 0, max_iter=1)
    outcome = crossval.cross_validate("logistic", pipeline, frame, y, splits, scorers, None)
    assert outcome.status == "ok"
    assert outcome.notes and outcome.notes[0].startswith("ConvergenceWarning:")


def test_peak_memory_sees_numpy_allocations() -> None:
    with crossval.peak_memory(True) as peak:
        block = np.ones(4 * 2**20 // 8)
    del block
    assert peak[0] == pytest.approx(4.0, rel=0.1)
    with crossval.peak_memory(False) as nothing:
        pass
    assert nothing == []


def test_too_few_rows_names_the_key_that_sets_the_folds() -> None:
    with pytest.raises(DataError, match=r"^select\.folds: column 'price': cannot make 5 folds"):
        crossval.make_splits(pd.Series([1.0, 2.0, 3.0], name="price"), "regression", 5, 1, seed=0, key="select.folds")



def test_fold_gain_t_is_the_corrected_t_of_the_paired_gains_and_minus_infinity_below_two_folds() -> None:
    mine, theirs = [0.82, 0.85, 0.80, 0.84], [0.80, 0.84, 0.80, 0.81]
    gains = [a - b for a, b in zip(mine, theirs, strict=True)]
    assert crossval.fold_gain_t(mine, theirs) == pytest.approx(crossval.corrected_ttest(gains, 3, 1)[0])
    assert crossval.fold_gain_t(theirs, mine) == pytest.approx(-crossval.fold_gain_t(mine, theirs))
    assert crossval.fold_gain_t([0.9], [0.8]) == -np.inf


def test_sample_positions_keep_every_row_up_to_the_cap_and_a_stratified_seeded_sample_above() -> None:
    y = pd.Series(["a"] * 900 + ["b"] * 100)
    assert np.array_equal(crossval.sample_positions(y, "binary", None, 0), np.arange(1000))
    assert np.array_equal(crossval.sample_positions(y, "binary", 1000, 0), np.arange(1000))
    kept = crossval.sample_positions(y, "binary", 200, 0)
    assert len(kept) == 200 and np.all(np.diff(kept) > 0)
    assert (y.iloc[kept] == "b").sum() == 20  # the classes' shares kept
    assert np.array_equal(kept, crossval.sample_positions(y, "binary", 200, 0))
    assert len(crossval.sample_positions(pd.Series(np.arange(1000.0)), "regression", 300, 1)) == 300
