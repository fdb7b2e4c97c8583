"""The bootstrap: seeded resamples as weights, percentile intervals, and paired comparisons of two models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlworkflow.core.metrics import format_value, sign
from mlworkflow.core.scoring import FloatArray, Scored, metric_values, point_metrics

CHUNK_CELLS = 2_000_000  # weights per resample chunk (rows × resamples), to bound memory


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{format_value(self.value)} [{format_value(self.low)}, {format_value(self.high)}]"


@dataclass(frozen=True)
class Comparison:
    """One metric of two models on the same resamples: each model's interval and the gain of the second."""

    first: Interval
    second: Interval
    gain: Interval


def resample_weights(n_rows: int, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Bootstrap counts: row i of the result says how often each row was drawn in resample i."""
    picks = rng.integers(0, n_rows, size=(n_resamples, n_rows))
    picks += np.arange(n_resamples)[:, None] * n_rows
    counts = np.bincount(picks.ravel(), minlength=n_resamples * n_rows)
    return counts.reshape(n_resamples, n_rows).astype(np.float64)


def bootstrap_draws(scored: Scored, n_resamples: int, seed: int) -> dict[str, FloatArray]:
    """Every metric on `n_resamples` seeded resamples; the same seed and size give the same resamples."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_CELLS // max(scored.n_rows, 1)))
    parts = []
    for start in range(0, n_resamples, chunk):
        weights = resample_weights(scored.n_rows, min(chunk, n_resamples - start), rng)
        parts.append(metric_values(scored, weights))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def percentile_interval(value: float, draws: FloatArray, confidence: float) -> Interval:
    """The percentile interval of bootstrap draws around a point estimate."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return Interval(value, float("nan"), float("nan"))
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(value, float(low), float(high))


def metric_interval(scored: Scored, metric: str, n_resamples: int, confidence: float, seed: int) -> Interval:
    """One metric on the scored rows, with its bootstrap percentile interval."""
    draws = bootstrap_draws(scored, n_resamples, seed)[metric]
    return percentile_interval(point_metrics(scored)[metric], draws, confidence)


def compare(first: Scored, second: Scored, n_resamples: int, confidence: float, seed: int,
            oriented: bool = False) -> dict[str, Comparison]:
    """Every metric both have, paired (the same seed gives the same resamples): the gain is second − first,
    or with `oriented` in the metric's better direction, so a positive gain means the second is better."""
    points_a, points_b = point_metrics(first), point_metrics(second)
    draws_a, draws_b = bootstrap_draws(first, n_resamples, seed), bootstrap_draws(second, n_resamples, seed)
    result = {}
    for name in [m for m in points_a if m in points_b]:
        way = sign(name) if oriented else 1.0
        one = percentile_interval(points_a[name], draws_a[name], confidence)
        two = percentile_interval(points_b[name], draws_b[name], confidence)
        gain = percentile_interval(way * (two.value - one.value), way * (draws_b[name] - draws_a[name]), confidence)
        result[name] = Comparison(one, two, gain)
    return result
