"""The bootstrap: resample weights, seeded draws, percentile intervals, paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from mlworkflow.core import bootstrap, scoring
from mlworkflow.core.bootstrap import Interval
from tests.core.test_scoring import binary_scored, regression_scored


def test_resample_weights_count_rows() -> None:
    weights = bootstrap.resample_weights(50, 30, np.random.default_rng(0))
    assert weights.shape == (30, 50) and (weights.sum(axis=1) == 50).all()


def test_bootstrap_is_seeded_and_paired() -> None:
    s = regression_scored()
    first, again = bootstrap.bootstrap_draws(s, 120, 7), bootstrap.bootstrap_draws(s, 120, 7)
    other = bootstrap.bootstrap_draws(s, 120, 8)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["rmse"], other["rmse"])
    paired = bootstrap.compare(s, s, 120, 0.9, seed=7)  # a model against itself: zero difference
    assert all(abs(getattr(p.gain, key)) < 1e-12 for p in paired.values() for key in ("value", "low", "high"))


def test_draws_in_chunks_give_every_resample_once(monkeypatch: pytest.MonkeyPatch) -> None:
    s = binary_scored(n=100)
    monkeypatch.setattr(bootstrap, "CHUNK_CELLS", 1000)  # 10 resamples a chunk
    chunked, again = bootstrap.bootstrap_draws(s, 45, 3), bootstrap.bootstrap_draws(s, 45, 3)
    assert all(chunked[k].shape == (45,) and np.array_equal(chunked[k], again[k]) for k in chunked)


def test_percentile_interval_and_its_text() -> None:
    interval = bootstrap.percentile_interval(0.5, np.linspace(0.0, 1.0, 101), 0.9)
    assert (interval.low, interval.high) == pytest.approx((0.05, 0.95))
    assert np.isnan(bootstrap.percentile_interval(1.0, np.array([np.nan]), 0.9).low)
    assert str(Interval(0.9123, 0.9051, 0.919)) == "0.912 [0.905, 0.919]"


def test_metric_interval_contains_the_point_and_narrows_with_rows() -> None:
    widths = []
    for n in (200, 4000):
        interval = bootstrap.metric_interval(binary_scored(n=n), "roc_auc", 300, 0.95, seed=0)
        assert interval.low <= interval.value <= interval.high
        assert interval.value == scoring.point_metrics(binary_scored(n=n))["roc_auc"]
        widths.append(interval.high - interval.low)
    assert widths[1] < widths[0]


def test_oriented_gain_is_positive_when_the_second_is_better() -> None:
    s = regression_scored()
    worse = scoring.Scored(s.task, s.labels, s.truth, s.scores + 5.0, s.predicted + 5.0, False, None)
    plain = bootstrap.compare(worse, s, 100, 0.9, seed=1)
    oriented = bootstrap.compare(worse, s, 100, 0.9, seed=1, oriented=True)
    assert plain["rmse"].gain.value < 0 < oriented["rmse"].gain.value
    assert oriented["r2"].gain.value == plain["r2"].gain.value > 0
    assert plain["rmse"].first.value == scoring.point_metrics(worse)["rmse"]
