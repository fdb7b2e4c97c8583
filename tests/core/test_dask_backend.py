"""core.dask_backend: on a cluster a fit's own parallel calls run inside its task, with the same results."""

from __future__ import annotations

import os
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import Parallel, delayed

from mlworkflow.core import dask_backend, parallel


def backend_name(_index: int) -> str:
    """The joblib backend a call in a task gets."""
    return type(joblib.parallel.get_active_backend()[0]).__name__


def nested(_index: int) -> tuple[set[str], set[int], int]:
    """A task's own parallel call: the backends and processes its calls ran in, and the task's process."""
    inner = Parallel(n_jobs=-1)(delayed(where)(index) for index in range(3))
    return {name for name, _ in inner}, {pid for _, pid in inner}, os.getpid()


def where(index: int) -> tuple[str, int]:
    """The backend and process a nested call ran in."""
    return backend_name(index), os.getpid()


def test_in_sequence_keeps_the_functions_name_and_runs_nested_calls_sequentially() -> None:
    wrapped = dask_backend.InSequence(nested)
    backends, pids, task = wrapped(0)
    assert wrapped.__name__ == "nested"
    assert backends == {"SequentialBackend"} and pids == {task} == {os.getpid()}


def test_a_tasks_own_parallel_calls_run_inside_it_on_its_worker(cluster: Any) -> None:
    # joblib's Dask backend would send them back to the cluster as tasks (n_jobs=-1 whatever was asked)
    with parallel.backend(cluster.scheduler_address):
        ran = Parallel(n_jobs=-1)(delayed(nested)(index) for index in range(4))
    workers = set(parallel.client(cluster.scheduler_address).run(os.getpid).values())
    assert {name for backends, _, _ in ran for name in backends} == {"SequentialBackend"}
    assert all(inner == {task} for _, inner, task in ran) and {task for _, _, task in ran} <= workers


def toy(n_rows: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    """A small seeded classification problem."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n_rows, 4)), columns=["a", "b", "c", "d"])
    return X, pd.Series((X["a"] + X["b"] * X["c"] + rng.normal(scale=0.5, size=n_rows) > 0).astype(int))


def test_a_forest_in_a_column_transformer_pipeline_scores_the_same_on_the_cluster(cluster: Any) -> None:
    X, y = toy()
    blocks = ColumnTransformer([("scaled", StandardScaler(), ["a", "b"]), ("kept", "passthrough", ["c", "d"])],
                               n_jobs=-1)
    model = make_pipeline(blocks, RandomForestClassifier(n_estimators=20, n_jobs=-1, random_state=0))
    scores = {}
    for address in (None, cluster.scheduler_address):
        with parallel.backend(address):
            scores[address] = cross_validate(model, X, y, cv=4, scoring="roc_auc", n_jobs=-1)["test_score"]
    np.testing.assert_array_equal(scores[cluster.scheduler_address], scores[None])
    prefixes = parallel.client(cluster.scheduler_address).run_on_scheduler(
        lambda dask_scheduler: sorted(dask_scheduler.task_prefixes)
    )
    assert any("fit_and_score" in name for name in prefixes), prefixes  # the folds are cluster tasks
    assert not any("build_trees" in name for name in prefixes), prefixes  # the trees are not
