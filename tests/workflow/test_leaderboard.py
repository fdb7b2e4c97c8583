"""The leaderboard of a sweep, from a fake set of finished runs: ranks, intervals, paired differences, links."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mlworkflow import io
from mlworkflow.core import bootstrap, scoring
from mlworkflow.core.target import Target
from mlworkflow.layout import RunLayout
from mlworkflow.records import TEST_SPLIT, EvaluateRecord, PreprocessRecord
from mlworkflow.workflow import leaderboard, paired
from mlworkflow.workflow.sweepstate import SweepLayout, SweepRecord, VariantEntry, read_record, write_record
from tests import recordkit

TARGET = Target("y", "binary", ("no", "yes"), "yes")
BOOTSTRAP = 200


def frame(rows: int, seed: int) -> pd.DataFrame:
    """x1 tells the class, x2 is noise."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = np.where(x1 + 0.5 * rng.normal(size=rows) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def make_run(root: Path, run_id: str, features: list[str], test_seed: int = 1) -> float:
    """A finished run whose model sees `features`: params, preprocess and evaluate records, test split, model."""
    run = RunLayout(root, run_id)
    store = io.Artifacts(run.artifacts)
    train, test = frame(300, 0), frame(200, test_seed)
    model = make_pipeline(ColumnTransformer([("kept", "passthrough", features)]), LogisticRegression())
    model.fit(train.drop(columns="y"), train["y"])
    store.write_model(model)
    store.write_frame(TEST_SPLIT, test)
    spec = {"target": "y", "task": "binary", "classes": ["no", "yes"], "positive_class": "yes",
            "numeric": features, "categorical": []}
    store.write(recordkit.record(PreprocessRecord, **spec))
    scored = scoring.score(model, test.drop(columns="y"), test["y"], TARGET, 0.5)
    auc = scoring.point_metrics(scored)["roc_auc"]
    metrics = {"roc_auc": {"value": auc, "low": auc - 0.02, "high": auc + 0.02}}
    store.write(recordkit.record(EvaluateRecord, metric="roc_auc", lower_is_better=False, metrics=metrics, threshold=0.5))
    params = {"run": {"name": "s", "seed": 3}, "evaluate": {"bootstrap": BOOTSTRAP, "confidence": 0.95}}
    run.params_file.write_text(json.dumps(params), encoding="utf-8")
    run.state_file.write_text(json.dumps({"status": "ok", "done": {}}), encoding="utf-8")
    return auc


def entry(run_id: str, value: str, status: str = "ok", error: str = "") -> VariantEntry:
    return VariantEntry(label=f"preprocess.x={value}", values={"preprocess.x": value}, sets=[f"preprocess.x={value}"],
                        run_id=run_id, status=status, seconds=12.5, error=error)  # type: ignore[arg-type]


def sweep_of(root: Path, entries: list[VariantEntry]) -> SweepLayout:
    layout = SweepLayout(root, "s-sweep")
    write_record(layout, SweepRecord(
        sweep_id="s-sweep", params_source="p.yaml", overrides=[], keys=["preprocess.x"], stages=["data", "evaluate"],
        parallel=2, cpus=1, shared=[], created="2026-12-01 16:00 UTC", variants=entries,
    ))
    return layout


@pytest.fixture
def finished(tmp_path: Path) -> tuple[SweepLayout, dict[str, float]]:
    aucs = {
        "s-1": make_run(tmp_path, "s-1", ["x2"]),  # noise: far worse
        "s-2": make_run(tmp_path, "s-2", ["x1", "x2"]),
        "s-3": make_run(tmp_path, "s-3", ["x1"]),
        "s-4": make_run(tmp_path, "s-4", ["x1"], test_seed=2),  # other test rows
    }
    entries = [entry("s-1", "noise"), entry("s-2", "both"), entry("s-5", "broken", "failed", "stage 'train' failed"),
               entry("s-3", "signal"), entry("s-4", "resplit"), entry("s-6", "later", "not run")]
    return sweep_of(tmp_path, entries), aucs


def test_rows_rank_best_first_with_paired_differences(finished: tuple[SweepLayout, dict[str, float]]) -> None:
    sweep, aucs = finished
    record = read_record(sweep)
    table = leaderboard.rows(sweep.root, record)
    order = [r.entry.run_id for r in table]
    evaluated = sorted(aucs, key=lambda run: -aucs[run])
    assert order == [*evaluated, "s-5", "s-6"]
    assert [r.rank for r in table] == [1, 2, 3, 4, None, None]
    best, noise = table[0], next(r for r in table if r.entry.run_id == "s-1")
    assert best.difference == "best" and best.metric == "roc_auc"
    assert noise.difference.startswith("-") and noise.significant == "yes"
    runs = {run_id: leaderboard.evaluated(sweep.root, e) for run_id, e in
            ((e.run_id, e) for e in record.variants)}
    first, other = runs[best.entry.run_id], runs["s-1"]
    assert first is not None and other is not None
    gain = bootstrap.compare(first.scores.scored, other.scores.scored, BOOTSTRAP, 0.95, 3)["roc_auc"].gain
    assert noise.difference == paired.signed(gain) and gain.value == pytest.approx(aucs["s-1"] - aucs[best.entry.run_id])
    assert best.score == f"{aucs[best.entry.run_id]:.3f} [{aucs[best.entry.run_id] - 0.02:.3f}, {aucs[best.entry.run_id] + 0.02:.3f}]"


def test_other_test_rows_are_not_paired_and_failures_say_why(finished: tuple[SweepLayout, dict[str, float]]) -> None:
    sweep, _ = finished
    table = {r.entry.run_id: r for r in leaderboard.rows(sweep.root, read_record(sweep))}
    if table["s-4"].rank != 1:
        assert table["s-4"].difference == "—" and "not paired" in table["s-4"].note
    assert table["s-5"].note == "stage 'train' failed" and table["s-5"].score == "—"
    assert table["s-6"].entry.status == "not run" and table["s-6"].values == ["later"]


def test_the_page_links_every_run_that_exists(finished: tuple[SweepLayout, dict[str, float]]) -> None:
    sweep, _ = finished
    page = leaderboard.write(sweep).read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', page)
    assert links == ["index.html", *[f"{r}/index.html" for r in
                                     [r.entry.run_id for r in leaderboard.rows(sweep.root, read_record(sweep))]
                                     if r != "s-6"]]
    assert "<code>preprocess.x</code>" in page and "12.5 s" in page and "mlworkflow compare s-sweep" in page
    assert 'class="mlw-status-not-run"' in page and "stage &#39;train&#39; failed" in page


def test_the_stages_a_run_reused_are_shown(finished: tuple[SweepLayout, dict[str, float]]) -> None:
    sweep, _ = finished
    reasons = {"data": "reused from s-1", "preprocess": "reused from s-1", "train": "ran: params train.search changed"}
    RunLayout(sweep.root, "s-2").state_file.write_text(json.dumps({"status": "ok", "reasons": reasons}), encoding="utf-8")
    assert leaderboard.reused_stages(sweep.root, "s-2") == "data, preprocess (from s-1)"
    assert leaderboard.reused_stages(sweep.root, "s-1") == "" and leaderboard.reused_stages(sweep.root, "s-6") == ""
    own = {"data": "reused from s-3", "select": "reused from s-1"}  # s-3 resumed after running data itself
    RunLayout(sweep.root, "s-3").state_file.write_text(json.dumps({"status": "ok", "reasons": own}), encoding="utf-8")
    assert leaderboard.reused_stages(sweep.root, "s-3") == "select (from s-1)"
    assert "<td>data, preprocess (from s-1)</td>" in leaderboard.write(sweep).read_text(encoding="utf-8")


def test_a_sweep_with_no_evaluated_variant_still_has_a_page(tmp_path: Path) -> None:
    sweep = sweep_of(tmp_path, [entry("s-1", "a", "failed", "boom"), entry("s-2", "b", "not run")])
    table = leaderboard.rows(tmp_path, read_record(sweep))
    assert [r.rank for r in table] == [None, None] and table[0].note == "boom"
    assert "boom" in leaderboard.write(sweep).read_text(encoding="utf-8")


def test_the_page_says_the_winner_first_in_human_names(finished: tuple[SweepLayout, dict[str, float]]) -> None:
    sweep, _ = finished
    table = leaderboard.rows(sweep.root, read_record(sweep))
    page = leaderboard.write(sweep).read_text(encoding="utf-8")
    best = table[0]
    assert f"<strong>Best on ROC AUC: {best.entry.run_id} ({best.entry.label}), {best.score}.</strong>" in page
    assert page.index('id="mlw-winner"') < page.index('id="mlw-sweep"') < page.index('id="mlw-leaderboard"')
    assert "<th>ROC AUC (test, 95% interval)</th>" in page and "roc_auc" not in page
