"""Tests for core/gains.py: lift and gains by decile, the cost of errors per 1,000 rows."""

from __future__ import annotations

import numpy as np
import pytest

from mlworkflow.core import gains


def test_the_top_decile_of_a_known_ranking_holds_every_positive() -> None:
    scores = np.linspace(1.0, 0.0, 100)
    truth = (np.arange(100) < 10).astype(float)  # the ten highest scores are the positives
    table = gains.gains_table(truth, scores)
    assert table["lift"].iloc[0] == pytest.approx(10.0) and (table["lift"].iloc[1:] == 0).all()
    assert table["share_of_positives"].iloc[0] == 1.0 and list(table["rows"]) == [10] * 10
    assert table["cumulative_lift"].iloc[-1] == pytest.approx(1.0)


def test_a_random_ranking_has_lift_near_one_and_gains_along_the_diagonal() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random(20_000) < 0.3).astype(float)
    table = gains.gains_table(truth, rng.random(20_000))
    assert np.allclose(table["lift"], 1.0, atol=0.1)
    assert np.allclose(table["share_of_positives"], table["share_of_rows"], atol=0.02)


def test_cost_per_1000_weighs_each_error() -> None:
    cost = gains.cost_per_1000(np.array([10.0, 0.0]), np.array([0.0, 10.0]), 200, cost_fp=1.0, cost_fn=5.0)
    assert list(cost) == [50.0, 250.0]
