"""Run comparison and the runs listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlworkflow.errors import MlwError
from mlworkflow.records import EvaluateRecord
from mlworkflow.workflow import compare, paired
from tests import recordkit

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="


def make_run(root: Path, run_id: str, seed: int, auc: float, plot: bool = True) -> None:
    folder = root / "runs" / run_id
    (folder / "artifacts").mkdir(parents=True)
    (folder / "notebooks").mkdir()
    params = {"run": {"name": run_id, "seed": seed}, "train": {"search": "optuna", "n_iter": 8}}
    (folder / "params.json").write_text(json.dumps(params), encoding="utf-8")
    (folder / "state.json").write_text(json.dumps({"status": "ok", "done": {}}), encoding="utf-8")
    metrics = {"roc_auc": {"value": auc, "low": auc - 0.01, "high": auc + 0.01}}
    evaluate = {**recordkit.content(EvaluateRecord), "model": "rf", "metric": "roc_auc", "metrics": metrics}
    (folder / "artifacts" / "evaluate.json").write_text(json.dumps(evaluate), encoding="utf-8")
    cell: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {"tags": ["key-plot"], "mlw_title": "ROC"},
        "outputs": [],
    }
    if plot:
        cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": PNG + "\n"}}]
    notebook = {"cells": [cell, {"cell_type": "markdown", "metadata": {}, "source": "x"}]}
    (folder / "notebooks" / "05_evaluate.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


def test_differing_params_and_metrics_side_by_side(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 1, 0.9)
    make_run(tmp_path, "b", 2, 0.8, plot=False)
    records = [compare.load_run(tmp_path, "a"), compare.load_run(tmp_path, "b")]
    assert compare.differing_params(records) == [("run.seed", ["1", "2"])]
    with_sweep = compare.RunRecord("c", {**records[0].params, "sweep": {"vary": {}, "parallel": None}}, "ok")
    assert compare.differing_params([records[0], with_sweep]) == []
    older = compare.RunRecord("d", {k: v for k, v in records[0].params.items() if k != "run"}, "ok")  # a key added later
    newer = compare.RunRecord("e", {**records[0].params, "run": {**records[0].params["run"], "note": "Zürich"}}, "ok")
    assert ("run.note", [compare.NOT_IN_RUN, '"Zürich"']) in compare.differing_params([older, newer])
    assert compare.metric_rows(compare.standing(records, {})) == [compare.MetricRow(
        "roc_auc", "ROC AUC", ["0.900 [0.890, 0.910]", "0.800 [0.790, 0.810]"], ["-0.100 (not paired)"], True
    )]
    assert records[0].plots == {"ROC": PNG} and records[1].plots == {}
    page = compare.compare_page(records)
    assert "run.seed" in page and "0.800 [0.790, 0.810]" in page
    assert page.count("<img") == 2 and "<p>—</p>" in page  # the metric of both runs on one axis, a's key plot
    assert 'alt="ROC AUC, every run"' in page
    assert "difference b − best" in page and "Best on ROC AUC (higher is better): a" in page


def test_listing_shows_every_run(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 1, 0.9)
    make_run(tmp_path, "b", 2, 0.8)
    assert sorted(compare.list_runs(tmp_path)) == ["a", "b"]
    page = compare.listing_page([compare.load_run(tmp_path, r) for r in compare.list_runs(tmp_path)])
    assert 'href="a/index.html"' in page and "ROC AUC 0.800 [0.790, 0.810] (test)" in page


def test_the_listing_reads_no_executed_notebook(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 1, 0.9)
    (tmp_path / "runs" / "a" / "notebooks" / "05_evaluate.ipynb").write_text("not json", encoding="utf-8")
    listed = compare.load_run(tmp_path, "a", plots=False)  # a run's largest files: every run writes the listing
    assert listed.plots == {} and listed.evaluate is not None and listed.status == "ok"
    with pytest.raises(MlwError, match="executed notebook"):
        compare.load_run(tmp_path, "a")


def test_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MlwError, match="run 'nope' not found"):
        compare.load_run(tmp_path, "nope")
    assert compare.list_runs(tmp_path) == []


def test_flatten_nested_params() -> None:
    assert compare.flatten({"a": {"b": 1, "c": {"d": 2}}, "e": [1]}) == {"a.b": 1, "a.c.d": 2, "e": [1]}


def test_a_sweep_stands_for_its_finished_runs(tmp_path: Path) -> None:
    from mlworkflow.workflow.sweepstate import SweepLayout, SweepRecord, VariantEntry, write_record

    entries = [VariantEntry(label=f"run.seed={n}", values={"run.seed": n}, sets=[f"run.seed={n}"], run_id=f"s-{n}",
                            status=status) for n, status in ((1, "ok"), (2, "failed"), (3, "not run"))]
    sweep = SweepLayout(tmp_path, "s")
    write_record(sweep, SweepRecord(sweep_id="s", params_source="p.yaml", overrides=[], keys=["run.seed"],
                                    stages=["data"], parallel=1, cpus=2, shared=[], created="", variants=entries))
    assert compare.expand(tmp_path, ["s", "a"]) == (tmp_path, ["s-1", "s-2", "a"])
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    assert compare.expand(elsewhere, [str(sweep.folder)]) == (tmp_path, ["s-1", "s-2"])
    assert compare.expand(tmp_path, ["a", "b"]) == (tmp_path, ["a", "b"])


# --- the winner, the difference column and the paired test -------------------------------------------------------


def metrics_run(root: Path, run_id: str, values: dict[str, float], decides: str = "roc_auc") -> compare.RunRecord:
    """A run evaluated on several metrics (no model: nothing to pair)."""
    make_run(root, run_id, 1, values[decides], plot=False)
    path = root / "runs" / run_id / "artifacts" / "evaluate.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    content["metrics"] = {m: {"value": v, "low": v - 0.01, "high": v + 0.01} for m, v in values.items()}
    content["metric"], content["lower_is_better"] = decides, decides == "brier"
    path.write_text(json.dumps(content), encoding="utf-8")
    return compare.load_run(root, run_id)


def test_the_deciding_metric_comes_first_and_the_best_run_leads(tmp_path: Path) -> None:
    worse = metrics_run(tmp_path, "worse", {"accuracy": 0.9, "brier": 0.10, "roc_auc": 0.80})
    better = metrics_run(tmp_path, "better", {"accuracy": 0.7, "brier": 0.20, "roc_auc": 0.85})
    ranking = compare.standing([worse, better], {})
    assert [r.run_id for r in ranking.order] == ["better", "worse"] and ranking.best is better
    rows = compare.metric_rows(ranking)
    assert [r.metric for r in rows] == ["roc_auc", "accuracy", "brier"] and rows[0].decides
    assert [r.differences for r in rows] == [["-0.050 (not paired)"], ["+0.200 (not paired)"], ["-0.100 (not paired)"]]
    assert ranking.unscored == ["better", "worse"] and ranking.differ == []  # no model to score: not paired, not "other rows"
    assert compare.verdict(ranking)[1] == "worse: -0.050 (not paired); not paired: a run could not be scored again on its test rows."
    page = compare.compare_page([worse, better])
    assert "<strong>Not paired.</strong> better, worse could not be scored" in page and "Different test rows" not in page
    lower = compare.standing([metrics_run(tmp_path, "b1", {"brier": 0.2}, "brier"),
                              metrics_run(tmp_path, "b2", {"brier": 0.1}, "brier")], {})
    assert lower.best is not None and lower.best.run_id == "b2"
    assert compare.verdict(lower)[0] == "Best on Brier score (lower is better): b2, 0.100 [0.090, 0.110]."


def scored_run(root: Path, run_id: str, features: list[str], test_rows: int = 200, test_size: float = 0.2) -> None:
    """A finished run whose model sees `features`: params, preprocess and evaluate records, test split, model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from mlworkflow import io
    from mlworkflow.core import scoring
    from mlworkflow.core.target import Target
    from mlworkflow.records import TEST_SPLIT, PreprocessRecord

    make_run(root, run_id, 3, 0.5, plot=False)
    store = io.Artifacts(root / "runs" / run_id / "artifacts")
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=500), rng.normal(size=500)
    data = pd.DataFrame({"x1": x1, "x2": x2, "y": np.where(x1 + 0.5 * rng.normal(size=500) > 0, "yes", "no")})
    train, test = data.iloc[:300], data.iloc[300 : 300 + test_rows]
    model = make_pipeline(ColumnTransformer([("kept", "passthrough", features)]), LogisticRegression())
    store.write_model(model.fit(train.drop(columns="y"), train["y"]))
    store.write_frame(TEST_SPLIT, test)
    store.write(recordkit.record(PreprocessRecord, target="y", task="binary", classes=["no", "yes"],
                                 positive_class="yes", numeric=features, categorical=[]))
    target = Target("y", "binary", ("no", "yes"), "yes")
    auc = scoring.point_metrics(scoring.score(model, test.drop(columns="y"), test["y"], target, 0.5))["roc_auc"]
    metrics = {"roc_auc": {"value": auc, "low": auc - 0.02, "high": auc + 0.02}}
    store.write(recordkit.record(EvaluateRecord, model="logistic", metric="roc_auc", lower_is_better=False,
                                 metrics=metrics, threshold=0.5))
    params = {"run": {"name": run_id, "seed": 3}, "preprocess": {"test_size": test_size},
              "evaluate": {"bootstrap": 200, "confidence": 0.95}}
    (root / "runs" / run_id / "params.json").write_text(json.dumps(params), encoding="utf-8")


def test_runs_on_the_same_test_rows_get_a_paired_test(tmp_path: Path) -> None:
    scored_run(tmp_path, "signal", ["x1"])
    scored_run(tmp_path, "noise", ["x2"])
    records = [compare.load_run(tmp_path, r) for r in ("noise", "signal")]
    scores = compare.scores_of(tmp_path, records)
    ranking = compare.standing(records, scores)
    assert ranking.best is not None and ranking.best.run_id == "signal" and ranking.paired
    gain = ranking.differences["noise"]["roc_auc"]
    assert gain.high < 0 and paired.significant(gain)
    assert compare.metric_rows(ranking)[0].differences == [paired.signed(gain) + " *"]
    said = compare.verdict(ranking)
    assert said[1].startswith(f"noise: {paired.signed(gain)} on the same 200 test rows") and "a real difference" in said[1]
    page = compare.compare_page(records, scores)
    assert "difference noise − best (paired)" in page and "Different test rows" not in page
    assert 'alt="ROC curves, every run"' in page and page.count("<img") == 2


def test_different_test_rows_are_not_paired_and_say_why(tmp_path: Path) -> None:
    scored_run(tmp_path, "small", ["x1"])
    scored_run(tmp_path, "large", ["x1", "x2"], test_rows=150, test_size=0.3)
    records = [compare.load_run(tmp_path, r) for r in ("small", "large")]
    ranking = compare.standing(records, compare.scores_of(tmp_path, records))
    assert ranking.differences == {} and not ranking.paired and ranking.differ == ["large"] and ranking.unscored == []
    assert ranking.split == ["preprocess.test_size 0.2 vs 0.3"]
    assert "tested on other rows, so no paired test" in compare.verdict(ranking)[1]
    page = compare.compare_page(records, compare.scores_of(tmp_path, records))
    assert "Different test rows." in page and "preprocess.test_size 0.2 vs 0.3" in page and "(not paired)" in page


def test_every_key_plot_of_the_stage_notebooks_has_a_title(root: Path) -> None:
    tagged = {}
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if compare.KEY_PLOT in cell.get("metadata", {}).get("tags", []):
                tagged[f"{notebook.name}: {''.join(cell['source'])[:40]}"] = cell["metadata"].get("mlw_title")
    assert len(tagged) >= 5
    assert [cell for cell, title in tagged.items() if not title] == [], "the compare page would say 'plot 4'"
