"""A sweep's leaderboard: one row per variant, best first, with the difference to the best by a paired test.

Every evaluated variant's model is scored again on its run's test rows at its threshold; when two runs
share the same test rows (the same split: the columns both test splits have hold the same values), the difference of the
deciding metric to the best is a paired bootstrap (`core.bootstrap.compare`, as evaluate and the retrain
gate use): the same resamples of the same rows for both, so the interval reflects the models, not the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from mlworkflow import io
from mlworkflow.core import bootstrap, scoring
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.metrics import format_value
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.layout import RunLayout
from mlworkflow.records import TEST_SPLIT, EvaluateRecord, PreprocessRecord
from mlworkflow.workflow import compare, report, runstate
from mlworkflow.workflow.sweep import yaml_text
from mlworkflow.workflow.sweepstate import SweepLayout, SweepRecord, VariantEntry, read_record

SIGNIFICANT = "yes"
REUSED = "reused from "  # a stage's reason in state.json when the cache gave it


@dataclass(frozen=True)
class Evaluated:
    """A variant whose run has a test evaluation: its record, params and scores on the test rows."""

    entry: VariantEntry
    evaluate: EvaluateRecord
    params: dict[str, Any]
    scored: Scored
    target: str
    columns: dict[str, str]  # the test split's columns' hashes: paired only on the same rows


@dataclass(frozen=True)
class Row:
    """One line of the leaderboard, as the page shows it."""

    rank: int | None
    entry: VariantEntry
    values: list[str]
    metric: str
    score: str
    difference: str
    significant: str
    note: str
    reused: str = ""  # the stages reused from another run's cache entry, and from which runs


def evaluated(root: Path, entry: VariantEntry) -> Evaluated | None:
    """A finished variant's evaluation and test scores (None when its run has no evaluation)."""
    store = io.Artifacts(RunLayout(root, entry.run_id).artifacts)
    record = store.find(EvaluateRecord)
    if entry.status != "ok" or record is None:
        return None
    target = Target.from_spec(store.read(PreprocessRecord))
    frame = store.read_frame(TEST_SPLIT)
    X, y = scoring.split_xy(frame, target)
    scored = scoring.score(store.read_model(), X, y, target, record.threshold)
    params = compare.load_run(root, entry.run_id).params
    return Evaluated(entry, record, params, scored, target.name, column_hashes(frame))


def column_hashes(frame: pd.DataFrame) -> dict[str, str]:
    """A hash of each column's values in row order (a variant that drops a column still has the same rows)."""
    def digest(column: pd.Series) -> str:
        return hashlib.sha256(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()).hexdigest()

    return {str(name): digest(frame[name]) for name in frame.columns}


def same_rows(one: Evaluated, other: Evaluated) -> bool:
    """Whether two runs' test splits are the same rows: every column both have (the target among them) agrees."""
    common = set(one.columns) & set(other.columns)
    labelled = one.target in common and one.scored.labels == other.scored.labels
    return labelled and all(one.columns[c] == other.columns[c] for c in common)


def deciding_metric(runs: Sequence[Evaluated]) -> str:
    """The metric that ranks: the one most variants' evaluations decided by (normally all of them)."""
    names = [run.evaluate.metric for run in runs]
    return max(dict.fromkeys(names), key=names.count)


def value_of(run: Evaluated, metric: str) -> float | None:
    """A run's test value of the metric, or None when it has none."""
    found = run.evaluate.metrics.get(metric)
    return found.value if found is not None else None


def ranked(runs: Sequence[Evaluated], metric: str) -> list[Evaluated]:
    """Best first by the metric (in its better direction); runs without it last."""
    lower = next((r.evaluate.lower_is_better for r in runs if r.evaluate.metric == metric), False)

    def key(run: Evaluated) -> tuple[bool, float]:
        value = value_of(run, metric)
        return value is None, (value if lower else -value) if value is not None else 0.0

    return sorted(runs, key=key)


def paired_difference(best: Evaluated, other: Evaluated, metric: str) -> Interval | None:
    """other − best on the same test rows, with the paired bootstrap interval; None on different rows."""
    if not same_rows(best, other) or best.scored.n_rows != other.scored.n_rows:
        return None
    evaluate = best.params.get("evaluate", {})
    n, confidence = int(evaluate.get("bootstrap", 1000)), float(evaluate.get("confidence", 0.95))
    seed = int(best.params.get("run", {}).get("seed", 0))
    pairs = bootstrap.compare(best.scored, other.scored, n, confidence, seed)
    return pairs[metric].gain if metric in pairs else None


def signed(interval: Interval) -> str:
    """`+0.012 [-0.003, +0.027]`: a difference and its interval, signs shown."""
    def text(value: float) -> str:
        return ("+" if value > 0 else "") + format_value(value)

    return f"{text(interval.value)} [{text(interval.low)}, {text(interval.high)}]"


def evaluated_row(rank: int, run: Evaluated, best: Evaluated, metric: str, keys: Sequence[str]) -> Row:
    """The row of an evaluated variant: its score, and its paired difference to the best."""
    score = compare.interval(run.evaluate.metrics.get(metric))
    values = [yaml_text(run.entry.values.get(key)) for key in keys]
    if run is best:
        return Row(rank, run.entry, values, metric, score, "best", "", "")
    difference = paired_difference(best, run, metric)
    if difference is None:
        return Row(rank, run.entry, values, metric, score, "—", "", "other test rows than the best's: not paired")
    excluded = not difference.low <= 0.0 <= difference.high
    return Row(rank, run.entry, values, metric, score, signed(difference), SIGNIFICANT if excluded else "no", "")


def rows(root: Path, record: SweepRecord) -> list[Row]:
    """Evaluated variants best first, then the others (failed, not run, or without an evaluation)."""
    found = {entry.run_id: evaluated(root, entry) for entry in record.variants}
    runs = [run for run in found.values() if run is not None]
    metric = deciding_metric(runs) if runs else ""
    order = ranked(runs, metric)
    table = [evaluated_row(n, run, order[0], metric, record.keys) for n, run in enumerate(order, start=1)]
    for entry in record.variants:
        if found[entry.run_id] is None:
            note = entry.error or ("no evaluation (the evaluate stage was not run)" if entry.status == "ok" else "")
            table.append(Row(None, entry, [yaml_text(entry.values.get(k)) for k in record.keys], metric, "—", "—", "", note))
    return table


def reused_stages(root: Path, run_id: str) -> str:
    """`data, preprocess (from RUN)`: the stages a run took from another run through the cache (none when not started)."""
    path = RunLayout(root, run_id).state_file
    reasons = runstate.read(path).reasons if path.is_file() else {}
    reused = {stage: why.removeprefix(REUSED) for stage, why in reasons.items() if why.startswith(REUSED)}
    reused = {stage: source for stage, source in reused.items() if source != run_id}  # its own, before a resume
    sources = ", ".join(dict.fromkeys(reused.values()))
    return f"{', '.join(reused)} (from {sources})" if reused else ""


def with_reuse(root: Path, table: Sequence[Row]) -> list[Row]:
    """Each row with the stages its run reused."""
    return [replace(row, reused=reused_stages(root, row.entry.run_id)) for row in table]


def page(record: SweepRecord, table: Sequence[Row]) -> str:
    """The leaderboard page."""
    return report.templates().get_template("leaderboard.html.j2").render(record=record, rows=table)


def write(sweep: SweepLayout) -> Path:
    """Write the sweep's leaderboard page from its record and its runs; return its path."""
    record = read_record(sweep)
    sweep.page.parent.mkdir(parents=True, exist_ok=True)
    sweep.page.write_text(page(record, with_reuse(sweep.root, rows(sweep.root, record))), encoding="utf-8")
    return sweep.page
