"""core.parallel: the core budget, the n_jobs rule, local processes or a Dask cluster, the connection check."""

from __future__ import annotations

import os
import socket
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from joblib._dask import DaskDistributedBackend
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_validate
from sklearn.utils.parallel import Parallel, delayed

from mlworkflow.core import parallel


def where(_index: int) -> tuple[int, str | None]:
    """The process a task ran in and its OpenMP thread cap."""
    return os.getpid(), os.environ.get("OMP_NUM_THREADS")


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cpu_budget_reads_mlw_cpus_and_falls_back_to_every_core() -> None:
    cores = os.cpu_count() or 1
    assert parallel.cpu_budget({"MLW_CPUS": "3"}) == 3
    for bad in ("0", "-2", "two", "1.5", ""):
        assert parallel.cpu_budget({"MLW_CPUS": bad}) == cores
    assert parallel.cpu_budget({}) == cores


def test_fit_jobs_caps_the_request_by_the_budget_and_uses_every_worker_of_a_cluster() -> None:
    budget = {"MLW_CPUS": "2"}
    assert parallel.fit_jobs(1, budget) == 1  # the default stays sequential
    assert parallel.fit_jobs(-1, budget) == 2
    assert parallel.fit_jobs(8, budget) == 2
    assert parallel.fit_jobs(1, {**budget, "MLW_CLUSTER": "tcp://127.0.0.1:8786"}) == -1


def test_the_cluster_travels_to_a_kernel_through_its_environment() -> None:
    environ = parallel.kernel_environ("tcp://10.0.0.5:8786")
    assert parallel.cluster_address(environ) == "tcp://10.0.0.5:8786"
    assert parallel.kernel_environ(None) == {}
    assert parallel.cluster_address({"MLW_CLUSTER": "  "}) is None


def test_local_backend_runs_fits_in_other_processes_with_one_native_thread_each() -> None:
    with parallel.configured({}):
        ran = Parallel(n_jobs=2)(delayed(where)(index) for index in range(4))
    assert {pid for pid, _ in ran} - {os.getpid()}
    assert {threads for _, threads in ran} == {"1"}


def test_cluster_backend_runs_fits_on_the_clusters_workers(cluster: Any) -> None:
    with parallel.configured(parallel.kernel_environ(cluster.scheduler_address)):
        assert isinstance(joblib.parallel.get_active_backend()[0], DaskDistributedBackend)
        ran = Parallel(n_jobs=parallel.fit_jobs(1, {"MLW_CLUSTER": cluster.scheduler_address}))(
            delayed(where)(index) for index in range(6)
        )
    workers = set(parallel.client(cluster.scheduler_address).run(os.getpid).values())
    assert {pid for pid, _ in ran} <= workers and len(workers) == 2


def toy(n_rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A small seeded classification problem."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n_rows, 5)), columns=[f"x{i}" for i in range(5)])
    y = pd.Series((X["x0"] + X["x1"] * X["x2"] + rng.normal(scale=0.5, size=n_rows) > 0).astype(int))
    return X, y


def fold_results(cluster: str | None) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Five-fold scores and out-of-fold probabilities of a seeded HGB, run where `cluster` says."""
    X, y = toy()
    model = HistGradientBoostingClassifier(max_iter=30, early_stopping=True, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    with parallel.backend(cluster):
        scores = cross_validate(model, X, y, cv=folds, scoring="roc_auc", n_jobs=-1)["test_score"]
        proba = cross_val_predict(model, X, y, cv=folds, method="predict_proba", n_jobs=-1)
    return np.asarray(scores), np.asarray(proba)


def test_same_seed_same_scores_and_predictions_locally_and_on_the_cluster(cluster: Any) -> None:
    local_scores, local_proba = fold_results(None)
    remote_scores, remote_proba = fold_results(cluster.scheduler_address)
    np.testing.assert_array_equal(remote_scores, local_scores)
    np.testing.assert_array_equal(remote_proba, local_proba)


def test_connection_check_passes_a_scheduler_with_workers(cluster: Any) -> None:
    assert parallel.unreachable(cluster.scheduler_address, timeout_s=30) is None


def test_connection_check_names_the_address_and_the_timeout_of_a_silent_port() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    problem = parallel.unreachable(address, timeout_s=1)
    assert problem is not None and address in problem and "within 1 s" in problem


def test_connection_check_refuses_a_scheduler_without_workers() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as empty:
        problem = parallel.unreachable(empty.scheduler_address, timeout_s=1)
    assert problem == f"a Dask scheduler at {empty.scheduler_address} with no worker after 1 s"
