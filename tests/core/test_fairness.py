"""Tests for core/fairness.py: intervals per group, a flag only when the interval lies beyond the tolerance, cautions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlworkflow.core import fairness
from mlworkflow.core.scoring import Scored

RULES = fairness.Rules("accuracy", tolerance=0.05, min_rows=30, n_resamples=300, confidence=0.95, seed=0)


def labelled(sizes: dict[str, tuple[int, float]]) -> tuple[Scored, dict[fairness.Key, Any]]:
    """A binary Scored whose groups have the given (rows, accuracy); truth alternates 1, 0 within each group."""
    truth, predicted, names = [], [], []
    for name, (rows, accuracy) in sizes.items():
        own = np.arange(rows) % 2 == 0
        wrong = np.arange(rows) < round(rows * (1 - accuracy))
        truth.append(own.astype(float))
        predicted.append(np.where(wrong, ~own, own).astype(float))
        names += [name] * rows
    t, p = np.concatenate(truth), np.concatenate(predicted)
    groups = np.array(names)
    scored = Scored("binary", ("no", "yes"), t, p.copy(), p, True, 0.5)
    return scored, {("g", name): groups == name for name in sizes}


def by_group(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["group"]: row for row in rows}


def test_every_measure_has_an_interval_around_its_value_and_small_groups_are_wider() -> None:
    scored, masks = labelled({"big": (2000, 0.9), "small": (60, 0.9)})
    rows = by_group(fairness.assess(scored, masks, RULES))
    for row in rows.values():
        for name in ("accuracy", "base_rate", "selection_rate", "gap", "selection_gap"):
            assert row[f"{name}_low"] <= row[name] <= row[f"{name}_high"], (row["group"], name)
    width = {g: rows[g]["accuracy_high"] - rows[g]["accuracy_low"] for g in ("big", "small")}
    assert width["small"] > 3 * width["big"]
    assert rows["big"]["base_rate"] == pytest.approx(0.5) and rows["(all)"]["n"] == 2060


def test_a_gap_is_flagged_only_when_its_whole_interval_lies_beyond_the_tolerance() -> None:
    scored, masks = labelled({"a": (3000, 0.95), "b": (3000, 0.75), "c": (40, 0.75)})
    rows = by_group(fairness.assess(scored, masks, RULES))
    assert rows["b"]["gap"] < -0.05 and rows["b"]["gap_high"] < -0.05
    assert rows["b"]["verdict"] == fairness.FLAGGED and rows["b"]["flag"].startswith("Accuracy -0.")
    # the same gap on 40 rows: its interval reaches back inside the tolerance, so it is not flagged
    assert rows["c"]["gap"] < -0.05 < rows["c"]["gap_high"]
    assert rows["c"]["verdict"] == fairness.UNCLEAR and rows["c"]["flag"] == ""
    # a group that does better than the whole split is no harm to it: the metric gap flags one direction only
    assert rows["a"]["gap_low"] > 0.05 and rows["a"]["gap_verdict"] == fairness.WITHIN
    assert fairness.flagged(list(rows.values())) == [f"g = b: {rows['b']['flag']}"]


def test_a_selection_rate_gap_is_flagged_either_way() -> None:
    truth = np.r_[np.ones(1500), np.zeros(1500), np.ones(300), np.zeros(2700)]
    groups = np.array(["high"] * 3000 + ["low"] * 3000)
    scored = Scored("binary", ("no", "yes"), truth, truth.copy(), truth.copy(), True, 0.5)  # every label right
    rows = by_group(fairness.assess(scored, {("g", g): groups == g for g in ("high", "low")}, RULES))
    assert rows["high"]["selection_gap_verdict"] == rows["low"]["selection_gap_verdict"] == fairness.FLAGGED
    assert rows["high"]["gap_verdict"] == fairness.WITHIN  # accuracy 1 everywhere
    assert rows["high"]["flag"].startswith("selection rate +20.0 pts [") and rows["low"]["base_rate"] == pytest.approx(0.1)
    assert "(50.0% selected vs 30.0% overall; base rate 50.0% vs 30.0%)" in rows["high"]["flag"]


def test_a_group_below_the_minimum_gets_a_caution_not_a_flag() -> None:
    scored, masks = labelled({"a": (1000, 0.95), "tiny": (20, 0.0)})
    rows = by_group(fairness.assess(scored, masks, RULES))
    assert rows["tiny"]["verdict"] == fairness.SMALL and rows["tiny"]["flag"] == "n < 30: too few rows to judge"
    assert fairness.flagged(list(rows.values())) == [] and fairness.small(list(rows.values())) == ["g = tiny"]


def test_same_seed_same_intervals() -> None:
    scored, masks = labelled({"a": (300, 0.9), "b": (100, 0.7)})
    assert fairness.assess(scored, masks, RULES) == fairness.assess(scored, masks, RULES)


def test_regression_errors_are_judged_against_a_share_of_the_overall_value() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(100.0, 10.0, 4000)
    noise = np.r_[rng.normal(0, 5.0, 2000), rng.normal(0, 10.0, 2000)]  # group b: twice the error
    groups = np.array(["a"] * 2000 + ["b"] * 2000)
    scored = Scored("regression", (), truth, truth + noise, truth + noise, False, None)
    rules = fairness.Rules("rmse", 0.05, 30, 200, 0.95, 0)
    rows = by_group(fairness.assess(scored, {("g", g): groups == g for g in ("a", "b")}, rules))
    assert rows["b"]["verdict"] == fairness.FLAGGED and rows["a"]["gap_verdict"] == fairness.WITHIN
    assert rows["a"]["base_rate"] == pytest.approx(truth[:2000].mean()) and "selection_rate" not in rows["a"]
    assert fairness.tolerance_text(rules, "regression") == "±5% of the overall rmse"


def test_the_glossary_explains_the_words_of_the_table() -> None:
    words = fairness.glossary(RULES, "binary")
    assert words["selection rate"] == "share of the group the model flags as positive"
    assert "positive class" in words["base rate"] and "30" in words[fairness.SMALL] and "±0.05" in words["flagged"]
    assert "selection rate" not in fairness.glossary(RULES, "multiclass")
