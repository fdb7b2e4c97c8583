"""Runs scored again on their test rows, and their paired differences when those rows are the same.

Evaluate stores each metric with its interval, not per-row predictions; a run keeps its model and its test
split, so comparing scores the model again on them at its threshold. Two runs whose test splits are the same
rows (every column both have agrees, labels included) are compared by a paired bootstrap
(`core.bootstrap.compare`, as evaluate and the retrain gate use): the same resamples of the same rows for both,
so the interval reflects the models, not the rows. Runs on different rows get no paired difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkflow import io
from mlworkflow.core.metrics import format_value
from mlworkflow.core.target import Target
from mlworkflow.layout import RunLayout
from mlworkflow.records import MODEL, TEST_SPLIT, EvaluateRecord, PreprocessRecord

if TYPE_CHECKING:  # scoring and the bootstrap import pandas: the runs listing (every run writes it) needs neither
    import pandas as pd

    from mlworkflow.core.bootstrap import Interval
    from mlworkflow.core.scoring import Scored

SPLIT_KEYS = ("data.", "preprocess.test_size", "preprocess.split", "preprocess.time_column", "run.seed")


@dataclass(frozen=True)
class Scores:
    """A run with a test evaluation: its record, params and its model's scores on its test rows."""

    run_id: str
    evaluate: EvaluateRecord
    params: dict[str, Any]
    scored: Scored
    target: str
    columns: dict[str, str]  # the test split's columns' hashes: paired only on the same rows


def load(root: Path, run_id: str, params: dict[str, Any]) -> Scores | None:
    """A run's evaluation and test scores (None when it has no evaluation, model or test split)."""
    from mlworkflow.core import scoring

    store = io.Artifacts(RunLayout(root, run_id).artifacts)
    record = store.find(EvaluateRecord)
    needed = (store.path(MODEL), store.path(TEST_SPLIT))
    if record is None or store.find(PreprocessRecord) is None or not all(p.is_file() for p in needed):
        return None
    target = Target.from_spec(store.read(PreprocessRecord))
    frame = store.read_frame(TEST_SPLIT)
    X, y = scoring.split_xy(frame, target)
    scored = scoring.score(store.read_model(), X, y, target, record.threshold)
    return Scores(run_id, record, params, scored, target.name, column_hashes(frame))


def column_hashes(frame: pd.DataFrame) -> dict[str, str]:
    """A hash of each column's values in row order (a run that drops a column still has the same rows)."""
    import pandas as pd

    def digest(column: pd.Series) -> str:
        return hashlib.sha256(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()).hexdigest()

    return {str(name): digest(frame[name]) for name in frame.columns}


def same_rows(one: Scores, other: Scores) -> bool:
    """Whether two runs' test splits are the same rows: every column both have (the target among them) agrees."""
    common = set(one.columns) & set(other.columns)
    labelled = one.target in common and one.scored.labels == other.scored.labels
    sized = one.scored.n_rows == other.scored.n_rows
    return labelled and sized and all(one.columns[c] == other.columns[c] for c in common)


def differences(best: Scores, other: Scores) -> dict[str, Interval] | None:
    """other − best for every metric both have, with paired bootstrap intervals; None on different rows."""
    from mlworkflow.core import bootstrap

    if not same_rows(best, other):
        return None
    evaluate = best.params.get("evaluate", {})
    n, confidence = int(evaluate.get("bootstrap", 1000)), float(evaluate.get("confidence", 0.95))
    seed = int(best.params.get("run", {}).get("seed", 0))
    return {name: pair.gain for name, pair in bootstrap.compare(best.scored, other.scored, n, confidence, seed).items()}


def significant(interval: Interval) -> bool:
    """Whether a difference's interval excludes 0."""
    return not interval.low <= 0.0 <= interval.high


def signed_value(value: float) -> str:
    """`+0.012`: a difference with its sign shown."""
    return ("+" if value > 0 else "") + format_value(value)


def signed(interval: Interval) -> str:
    """`+0.012 [-0.003, +0.027]`: a difference and its interval, signs shown."""
    return f"{signed_value(interval.value)} [{signed_value(interval.low)}, {signed_value(interval.high)}]"


def deciding_metric(records: Sequence[EvaluateRecord]) -> str:
    """The metric that ranks: the one most runs' evaluations decided by (normally all of them)."""
    names = [record.metric for record in records]
    return max(dict.fromkeys(names), key=names.count)


def lower_is_better(records: Sequence[EvaluateRecord], metric: str) -> bool:
    """The metric's direction, as the evaluations that decided by it recorded it."""
    return next((r.lower_is_better for r in records if r.metric == metric), False)


def split_differences(flats: Sequence[Mapping[str, Any]]) -> list[str]:
    """`preprocess.test_size 0.2 vs 0.3`: the params that choose the test rows and differ between runs."""
    keys = sorted({k for flat in flats for k in flat if k.startswith(SPLIT_KEYS)})
    found = [(k, [flat.get(k) for flat in flats]) for k in keys]
    return [f"{k} {' vs '.join(str(v) for v in values)}" for k, values in found if len({repr(v) for v in values}) > 1]
