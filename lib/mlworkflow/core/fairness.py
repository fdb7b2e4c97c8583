"""Performance per group people can read: rows, base rate, the deciding metric and the selection rate, each with a
bootstrap interval, and the gap to the whole test split. A gap is flagged only when its whole interval lies beyond
the tolerance; a group with too few rows gets a caution instead of a verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlworkflow.core import metrics, names
from mlworkflow.core.bootstrap import CHUNK_CELLS, Interval, percentile_interval, resample_weights
from mlworkflow.core.scoring import BoolArray, FloatArray, Scored, divide, metric_values, subset

ALL = ("(all)", "(all)")
FLAGGED, UNCLEAR, WITHIN, SMALL = "flagged", "not clear", "within tolerance", "too few rows"
Key = tuple[str, str]  # (column, group)


@dataclass(frozen=True)
class Rules:
    """What is measured per group and when a gap counts."""

    metric: str
    tolerance: float
    min_rows: int
    n_resamples: int
    confidence: float
    seed: int


def glossary(rules: Rules, task: str) -> dict[str, str]:
    """Plain-language meanings of the words of the group table."""
    words = {
        "rows": "test rows in the group",
        "base rate": ("share of the group whose true label is the positive class" if task == "binary"
                      else "the group's mean target value"),
        "selection rate": "share of the group the model flags as positive",
        "gap": "the group's value minus the whole test split's",
        "[low, high]": f"the {rules.confidence:.0%} bootstrap interval: values the measure plausibly takes "
                       "on another test sample of the same size",
        FLAGGED: f"the whole interval of a gap lies beyond the tolerance ({tolerance_text(rules, task)}): "
                 "the deciding metric is worse for the group, or the model selects the group more or less often, "
                 "and chance alone does not explain it",
        UNCLEAR: "the gap is beyond the tolerance but its interval reaches back inside it: more rows are needed to tell",
        SMALL: f"fewer than {rules.min_rows} test rows: shown, but not judged",
    }
    if task == "multiclass":
        del words["base rate"], words["selection rate"]
    elif task == "regression":
        del words["selection rate"]
    return words


def relative(metric: str, task: str) -> bool:
    """Whether the tolerance is a share of the overall value: regression errors in the target's units."""
    return task == "regression" and metrics.lower_is_better(metric)


def tolerance_text(rules: Rules, task: str) -> str:
    """The tolerance as a reader reads it."""
    if relative(rules.metric, task):
        return f"±{rules.tolerance:.0%} of the overall {rules.metric}"
    return f"±{rules.tolerance:g}"


def measures(scored: Scored, weights: FloatArray, metric: str) -> dict[str, FloatArray]:
    """The deciding metric, base rate and (binary) selection rate of the rows, one value per row of `weights`."""
    total = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample can miss a small group entirely
        values = {"metric": metric_values(scored, weights)[metric]}
    if scored.task == "binary":
        values["base_rate"] = divide(weights @ (scored.truth == 1), total, np.nan)
        values["selection_rate"] = divide(weights @ (scored.predicted == 1), total, np.nan)
    elif scored.task == "regression":
        values["base_rate"] = divide(weights @ scored.truth, total, np.nan)
    return values


def draws(scored: Scored, masks: Mapping[Key, BoolArray], metric: str, n_resamples: int,
          seed: int) -> dict[Key, dict[str, FloatArray]]:
    """The measures of the whole split and of each group on the same seeded resamples of the whole split."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_CELLS // max(scored.n_rows, 1)))
    parts: dict[Key, list[dict[str, FloatArray]]] = {key: [] for key in [ALL, *masks]}
    for start in range(0, n_resamples, chunk):
        weights = resample_weights(scored.n_rows, min(chunk, n_resamples - start), rng)
        parts[ALL].append(measures(scored, weights, metric))
        for key, mask in masks.items():
            parts[key].append(measures(subset(scored, mask), weights[:, mask], metric))
    return {key: {name: np.concatenate([p[name] for p in chunks]) for name in chunks[0]} for key, chunks in parts.items()}


def points(scored: Scored, masks: Mapping[Key, BoolArray], metric: str) -> dict[Key, dict[str, float]]:
    """The measures of the whole split and of each group on the rows as they are."""
    rows = {ALL: scored} | {key: subset(scored, mask) for key, mask in masks.items()}
    return {key: {name: float(v[0]) for name, v in measures(s, np.ones((1, s.n_rows)), metric).items()}
            for key, s in rows.items()}


def gap_verdict(gap: Interval, allowed: float, way: float | None) -> str:
    """Flagged when the whole interval lies beyond `allowed` (in direction `way` only, when given)."""
    if not np.isfinite([gap.value, gap.low, gap.high]).all():
        return WITHIN if gap.value == 0 else UNCLEAR
    beyond = [way * gap.high < -allowed] if way else [gap.low > allowed, gap.high < -allowed]
    if any(beyond):
        return FLAGGED
    point = -way * gap.value if way else abs(gap.value)
    return UNCLEAR if point > allowed else WITHIN


def signed(interval: Interval) -> str:
    """A gap as '+0.012 [-0.004, +0.030]'."""
    return f"{interval.value:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]"


def _interval_columns(name: str, interval: Interval) -> dict[str, float]:
    return {name: interval.value, f"{name}_low": interval.low, f"{name}_high": interval.high}


def assess_group(key: Key, n: int, point: Mapping[str, float], drawn: Mapping[str, FloatArray],
                 overall: tuple[Mapping[str, float], Mapping[str, FloatArray]], rules: Rules, task: str) -> dict[str, Any]:
    """One group's line: each measure and its gap with intervals, the verdict of each gap, and the flag text."""
    row: dict[str, Any] = {"column": key[0], "group": key[1], "n": n}
    verdicts, flags = {}, []
    for name in point:
        row |= _interval_columns(rules.metric if name == "metric" else name,
                                 percentile_interval(point[name], drawn[name], rules.confidence))
        if name == "base_rate":
            continue
        gap = percentile_interval(point[name] - overall[0][name], drawn[name] - overall[1][name], rules.confidence)
        label = "gap" if name == "metric" else "selection_gap"
        row |= _interval_columns(label, gap)
        allowed = rules.tolerance * (abs(overall[0][name]) if name == "metric" and relative(rules.metric, task) else 1)
        verdicts[f"{label}_verdict"] = gap_verdict(gap, allowed, metrics.sign(rules.metric) if name == "metric" else None)
        if verdicts[f"{label}_verdict"] == FLAGGED:
            flags.append(flag_text(name, rules.metric, gap, point, overall[0]))
    return row | _verdicts(key, n, verdicts, flags, rules)


def flag_text(name: str, metric: str, gap: Interval, point: Mapping[str, float], overall: Mapping[str, float]) -> str:
    """What was flagged, with the group's and the whole split's values: 'Accuracy -0.692 [-0.8, -0.6] (0.000 vs
    0.692 overall)', or a selection rate in percentage points beside the base rates."""
    if name == "metric":
        return f"{names.metric_label(metric)} {signed(gap)} ({point['metric']:.3f} vs {overall['metric']:.3f} overall)"
    points = f"{gap.value * 100:+.1f} pts [{gap.low * 100:+.1f}, {gap.high * 100:+.1f}]"
    rates = f"{point['selection_rate']:.1%} selected vs {overall['selection_rate']:.1%} overall"
    return f"selection rate {points} ({rates}; base rate {point['base_rate']:.1%} vs {overall['base_rate']:.1%})"


def _verdicts(key: Key, n: int, verdicts: Mapping[str, str], flags: list[str], rules: Rules) -> dict[str, str]:
    if key == ALL:
        return {name: "" for name in verdicts} | {"verdict": "", "flag": ""}
    if n < rules.min_rows:
        return {name: SMALL for name in verdicts} | {"verdict": SMALL, "flag": f"n < {rules.min_rows}: too few rows to judge"}
    worst = next((v for v in (FLAGGED, UNCLEAR) if v in verdicts.values()), WITHIN)
    return dict(verdicts) | {"verdict": worst, "flag": "; ".join(flags)}


def assess(scored: Scored, masks: Mapping[Key, BoolArray], rules: Rules) -> list[dict[str, Any]]:
    """The whole split's line, then one line per group (in the order of `masks`)."""
    point = points(scored, masks, rules.metric)
    drawn = draws(scored, masks, rules.metric, rules.n_resamples, rules.seed)
    overall = (point[ALL], drawn[ALL])
    sizes = {ALL: scored.n_rows} | {key: int(mask.sum()) for key, mask in masks.items()}
    return [assess_group(key, sizes[key], point[key], drawn[key], overall, rules, scored.task) for key in point]


def group_name(column: str, group: str) -> str:
    """A group as the pages name it: 'race = Other'."""
    return f"{column} = {group}"


def flagged(rows: list[dict[str, Any]]) -> list[str]:
    """'column = group: what was flagged' for each flagged group."""
    return [f"{group_name(row['column'], row['group'])}: {row['flag']}" for row in rows if row["verdict"] == FLAGGED]


def small(rows: list[dict[str, Any]]) -> list[str]:
    """'column = group' for each group too small to judge."""
    return [group_name(row["column"], row["group"]) for row in rows if row["verdict"] == SMALL]
