"""Small-data robustness: auto repeats by rows, the steadier-candidate rule and its noise bar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlworkflow.core import stability

SIZES = (160, 40)  # n_train, n_test of 5 folds of 200 rows


def alternating(mean: float, spread: float, n: int) -> list[float]:
    """n fold scores alternating mean - spread, mean + spread: mean `mean`, standard deviation `spread`."""
    return [mean + spread * (-1) ** i for i in range(n)]


@pytest.mark.parametrize(
    ("rows", "repeats"), [(120, 10), (303, 10), (1000, 10), (1001, 10), (2500, 4), (4999, 3), (5000, 2), (10_000, 1),
                          (48_842, 1)],
)
def test_auto_repeats_reach_the_target_of_held_out_predictions_within_the_cap(rows: int, repeats: int) -> None:
    assert stability.auto_repeats(rows) == repeats
    assert rows * repeats >= stability.TARGET_PREDICTIONS or repeats == stability.MAX_REPEATS


def test_auto_repeats_few_rows_and_plain_folds_on_many() -> None:
    few, many = stability.design(5, "auto", 800), stability.design(5, "auto", 20_000)
    assert (few.repeats, few.auto, few.optional_after) == (10, True, 5)
    assert (many.repeats, many.optional_after) == (1, None), "plain k-fold: nothing optional"
    assert "800 rows × repeats reaches 10,000 held-out predictions" in few.rule
    fixed = stability.design(5, 3, 800)
    assert (fixed.repeats, fixed.auto, fixed.optional_after) == (3, False, None), "a set number is run in full"
    assert fixed.rule == "3 repeats of 5 folds, as set"


def test_the_steadier_bar_is_twice_the_standard_error_of_a_standard_deviation() -> None:
    assert stability.steadier_ratio(10) == pytest.approx(1 - 2 / math.sqrt(2 * 9))
    assert stability.steadier_ratio(50) == pytest.approx(0.798, abs=1e-3)
    assert stability.steadier_ratio(3) == 0.0, "three fold scores cannot show one candidate is steadier"
    assert stability.steadier_ratio(10) < stability.steadier_ratio(50) < 1.0, "more folds, a finer bar"


def test_a_steadier_candidate_within_the_noise_is_preferred_with_its_figures() -> None:
    scores = {"svm": alternating(0.80, 0.04, 20), "random_forest": alternating(0.796, 0.01, 20)}
    found = stability.steadiest("svm", scores, ["svm", "random_forest"], SIZES, alpha=0.05)
    assert found is not None and (found.family, found.over) == ("random_forest", "svm")
    assert found.gap == pytest.approx(0.004) and found.p_value >= 0.05
    assert (found.std, found.std_over, found.folds) == (pytest.approx(0.01), pytest.approx(0.04), 20)
    assert found.as_dict()["ratio_bar"] == round(stability.steadier_ratio(20), 4)


def test_no_preference_when_the_steadier_one_is_significantly_worse_or_not_clearly_steadier() -> None:
    best = alternating(0.80, 0.04, 20)
    worse = list(np.asarray(best) * 0.25 + 0.55)  # sd 0.01, always 0.05 lower: the gap is significant
    assert stability.steadiest("svm", {"svm": best, "tree": worse}, ["svm", "tree"], SIZES, 0.05) is None
    close = {"svm": best, "logistic": alternating(0.799, 0.035, 20)}  # sd ratio 0.875: within the noise of an sd
    assert stability.steadiest("svm", close, ["svm", "logistic"], SIZES, 0.05) is None


def test_the_steadiest_of_several_ties_is_preferred() -> None:
    scores = {"svm": alternating(0.80, 0.04, 20), "knn": alternating(0.797, 0.02, 20),
              "random_forest": alternating(0.795, 0.005, 20)}
    found = stability.steadiest("svm", scores, list(scores), SIZES, alpha=0.05)
    assert found is not None and found.family == "random_forest"


def test_constant_or_too_few_scores_prefer_nothing() -> None:
    flat = {"a": [0.8] * 10, "b": [0.79] * 10}
    assert stability.steadiest("a", flat, ["a", "b"], SIZES, 0.05) is None
    two = {"a": [0.7, 0.9], "b": [0.8, 0.8]}
    assert stability.steadiest("a", two, ["a", "b"], SIZES, 0.05) is None
