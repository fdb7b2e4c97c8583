"""Run comparison and the runs listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlworkflow.errors import MlwError
from mlworkflow.records import EvaluateRecord
from mlworkflow.workflow import compare
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
    assert compare.metric_rows(records) == [
        ("roc_auc", ["0.9000 [0.8900, 0.9100]", "0.8000 [0.7900, 0.8100]"])
    ]
    assert records[0].plots == {"ROC": PNG} and records[1].plots == {}
    page = compare.compare_page(records)
    assert "run.seed" in page and "0.8000 [0.7900, 0.8100]" in page
    assert page.count("<img") == 1 and "<p>—</p>" in page


def test_listing_shows_every_run(tmp_path: Path) -> None:
    make_run(tmp_path, "a", 1, 0.9)
    make_run(tmp_path, "b", 2, 0.8)
    assert sorted(compare.list_runs(tmp_path)) == ["a", "b"]
    page = compare.listing_page([compare.load_run(tmp_path, r) for r in compare.list_runs(tmp_path)])
    assert 'href="a/index.html"' in page and "roc_auc 0.8000 [0.7900, 0.8100]" in page


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
