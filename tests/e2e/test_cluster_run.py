"""`mlworkflow run --cluster`: select's, train's and evaluate's fits on a LocalCluster give the same results as a local run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlworkflow import io
from mlworkflow.records import OOF, TEST_SPLIT

pytestmark = pytest.mark.e2e

STAGES = "data,preprocess,select,train,evaluate"
# Smoke-sized, with parallel fits on both sides; no time budget: a budget stops a search by wall time, which
# differs between the two runs.
TINY = """
run: {{name: tiny, seed: 7}}
data: {{path: {data}, target: income, sample_rows: 800}}
select: {{candidates: [logistic, random_forest, hist_gradient_boosting], folds: 2, repeats: 1, max_rows: 800, top_k: 1,
         time_budget_s: null, n_jobs: 2}}
train: {{search: optuna, n_iter: 3, folds: 2, time_budget_s: null, n_jobs: 2}}
evaluate: {{bootstrap: 50, threshold_folds: 2, permutation_repeats: 1, explain_rows: 20, n_jobs: 2}}
"""


def tiny(root: Path, repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`mlworkflow run tiny.yaml --root ROOT --stages data…train` with `extra` arguments."""
    params = root / "tiny.yaml"
    params.write_text(TINY.format(data=repo / "data" / "adult_train.csv.gz"), encoding="utf-8")
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "run", str(params), "--root", str(root),
               "--stages", STAGES, *extra]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=1800, check=False)


@pytest.fixture(scope="module")
def runs(cluster: Any, root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same smoke-sized run locally and on the cluster under one root: the cluster run takes data and
    preprocess (which fit nothing) from the stage cache and is forced to fit select, train and evaluate again."""
    folder = tmp_path_factory.mktemp("cluster")
    local = tiny(folder, root, "--run-id", "local")
    assert local.returncode == 0, local.stderr[-3000:]
    remote = tiny(folder, root, "--run-id", "cluster", "--cluster", cluster.scheduler_address,
                  "--force", "select,train,evaluate")
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "[3/5] select … (forced)" in remote.stdout and "[5/5] evaluate … (forced)" in remote.stdout, remote.stdout
    return {where: folder / "runs" / where / "artifacts" for where in ("local", "cluster")}


def record(artifacts: Path, name: str) -> dict[str, Any]:
    """A JSON record of a run."""
    content: dict[str, Any] = json.loads((artifacts / name).read_text(encoding="utf-8"))
    return content


def test_the_fits_ran_on_the_clusters_workers(runs: dict[str, Path], cluster: Any) -> None:
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("cross_validate" in name for name in prefixes), prefixes  # select's candidates
    assert any("fit_and_score" in name for name in prefixes), prefixes  # train's search folds


def test_select_scores_and_choice_equal_a_local_run(runs: dict[str, Path]) -> None:
    local, remote = record(runs["local"], "select.json"), record(runs["cluster"], "select.json")
    assert remote["chosen"] == local["chosen"]
    assert remote["scores"] == local["scores"]
    assert [r["family"] for r in remote["ranking"]] == [r["family"] for r in local["ranking"]]


def test_train_params_scores_and_predictions_equal_a_local_run(runs: dict[str, Path]) -> None:
    local, remote = record(runs["local"], "train.json"), record(runs["cluster"], "train.json")
    for key in ("family", "best_params", "cv_score", "status", "n_trials"):
        assert remote[key] == local[key], key
    assert remote["trials"] == local["trials"]  # each trial's params, scores and fold spread
    stores = {where: io.Artifacts(folder) for where, folder in runs.items()}
    pd.testing.assert_frame_equal(stores["cluster"].read_frame(OOF), stores["local"].read_frame(OOF))
    test = stores["local"].read_frame(TEST_SPLIT).drop(columns=[record(runs["local"], "preprocess.json")["target"]])
    np.testing.assert_array_equal(
        stores["cluster"].read_model().predict_proba(test), stores["local"].read_model().predict_proba(test)
    )


def test_evaluate_metrics_threshold_and_importance_equal_a_local_run(runs: dict[str, Path]) -> None:
    local, remote = record(runs["local"], "evaluate.json"), record(runs["cluster"], "evaluate.json")
    for key in ("model", "metric", "metrics", "baseline", "difference", "threshold", "importance"):
        assert remote[key] == local[key], key


def test_an_unreachable_cluster_stops_the_run_before_any_kernel(root: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    done = tiny(tmp_path, root, "--cluster", address, "--set", "run.cluster_timeout_s=1")
    assert done.returncode == 2
    assert "key 'run.cluster'" in done.stderr and f"no answer from {address} within 1 s" in done.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()
