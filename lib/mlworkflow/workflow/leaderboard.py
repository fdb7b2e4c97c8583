"""A sweep's leaderboard: one row per variant, best first, with the difference to the best by a paired test.

Every evaluated variant's model is scored again on its run's test rows at its threshold (`workflow.paired`);
when two runs share the same test rows (the same split: the columns both test splits have hold the same values),
the difference of the deciding metric to the best is a paired bootstrap: the same resamples of the same rows for
both, so the interval reflects the models, not the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlworkflow.layout import RunLayout
from mlworkflow.views.labels import metric_label
from mlworkflow.workflow import compare, paired, report, runstate
from mlworkflow.workflow.paired import Scores
from mlworkflow.workflow.sweep import yaml_text
from mlworkflow.workflow.sweepstate import SweepLayout, SweepRecord, VariantEntry, read_record

SIGNIFICANT = "yes"
REUSED = "reused from "  # a stage's reason in state.json when the cache gave it


@dataclass(frozen=True)
class Evaluated:
    """A variant whose run has a test evaluation, and its scores on the test rows."""

    entry: VariantEntry
    scores: Scores


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
    if entry.status != "ok":
        return None
    scores = paired.load(root, entry.run_id, compare.load_run(root, entry.run_id, plots=False).params)
    return Evaluated(entry, scores) if scores is not None else None


def value_of(run: Evaluated, metric: str) -> float | None:
    """A run's test value of the metric, or None when it has none."""
    found = run.scores.evaluate.metrics.get(metric)
    return found.value if found is not None else None


def ranked(runs: Sequence[Evaluated], metric: str) -> list[Evaluated]:
    """Best first by the metric (in its better direction); runs without it last."""
    lower = paired.lower_is_better([r.scores.evaluate for r in runs], metric)

    def key(run: Evaluated) -> tuple[bool, float]:
        value = value_of(run, metric)
        return value is None, (value if lower else -value) if value is not None else 0.0

    return sorted(runs, key=key)


def evaluated_row(rank: int, run: Evaluated, best: Evaluated, metric: str, keys: Sequence[str]) -> Row:
    """The row of an evaluated variant: its score, and its paired difference to the best."""
    score = compare.interval(run.scores.evaluate.metrics.get(metric))
    values = [yaml_text(run.entry.values.get(key)) for key in keys]
    if run is best:
        return Row(rank, run.entry, values, metric, score, "best", "", "")
    found = paired.differences(best.scores, run.scores)
    if found is None or metric not in found:
        return Row(rank, run.entry, values, metric, score, "—", "", "other test rows than the best's: not paired")
    difference = found[metric]
    flag = SIGNIFICANT if paired.significant(difference) else "no"
    return Row(rank, run.entry, values, metric, score, paired.signed(difference), flag, "")


def rows(root: Path, record: SweepRecord) -> list[Row]:
    """Evaluated variants best first, then the others (failed, not run, or without an evaluation)."""
    found = {entry.run_id: evaluated(root, entry) for entry in record.variants}
    runs = [run for run in found.values() if run is not None]
    metric = paired.deciding_metric([run.scores.evaluate for run in runs]) if runs else ""
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
    metric = next((row.metric for row in table if row.metric), "")
    label = metric_label(metric) if metric else "deciding metric"
    return report.templates().get_template("leaderboard.html.j2").render(record=record, rows=table, metric=label)


def write(sweep: SweepLayout) -> Path:
    """Write the sweep's leaderboard page from its record and its runs; return its path."""
    record = read_record(sweep)
    sweep.page.parent.mkdir(parents=True, exist_ok=True)
    sweep.page.write_text(page(record, with_reuse(sweep.root, rows(sweep.root, record))), encoding="utf-8")
    return sweep.page
