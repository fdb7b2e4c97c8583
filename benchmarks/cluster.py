"""Where a cross-validation's fits run (core.parallel): one process, two local processes, a two-worker LocalCluster.

One 5-fold cross-validation of a HistGradientBoostingClassifier (native categories, seeded) on a 20,000-row
sample of Adult (data/adult_train.csv.gz), timed three ways in this one process, side by side: n_jobs=1 in
this process, n_jobs=2 in local joblib processes (`parallel.backend(None)`, one native thread each), and on a
dask.distributed LocalCluster of two single-threaded worker processes on loopback (`parallel.backend(address)`).
Each way runs `--repeats` times and keeps its fastest (the first local and cluster calls pay for starting
and importing in their workers). Prints the times, the ratios to one process, and whether every way gave the
same fold scores. The machine's load is printed with the figures: on a shared machine times are noisy,
ratios measured side by side less so.
Usage: .venv/bin/python benchmarks/cluster.py [--rows 20000] [--folds 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from threadpoolctl import threadpool_limits

from mlworkflow.config import PROJECT_ROOT
from mlworkflow.core import parallel

SEED = 42
DATA = PROJECT_ROOT / "data" / "adult_train.csv.gz"
TARGET = "income"


def adult(rows: int) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded sample of Adult's rows: text columns as pandas categories, the target as labels."""
    frame = pd.read_csv(DATA, na_values=["?"]).sample(n=rows, random_state=SEED)
    X = frame.drop(columns=[TARGET])
    text = X.select_dtypes(exclude="number").columns
    return X.astype({name: "category" for name in text}), frame[TARGET]


def cross_validation(X: pd.DataFrame, y: pd.Series, folds: int, n_jobs: int) -> Callable[[], np.ndarray[Any, Any]]:
    """One seeded k-fold cross-validation's ROC AUC per fold, as a call."""
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED)
    cv = StratifiedKFold(folds, shuffle=True, random_state=SEED)

    def run() -> np.ndarray[Any, Any]:
        return np.asarray(cross_validate(model, X, y, cv=cv, scoring="roc_auc", n_jobs=n_jobs)["test_score"])

    return run


def fastest(call: Callable[[], np.ndarray[Any, Any]], cluster: str | None, repeats: int) -> tuple[float, np.ndarray[Any, Any]]:
    """The fastest of `repeats` calls under `parallel.backend(cluster)`, and its scores."""
    times, scores = [], np.array([])
    with parallel.backend(cluster):
        for _ in range(repeats):
            began = time.perf_counter()
            scores = call()
            times.append(time.perf_counter() - began)
    return min(times), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from distributed import LocalCluster

    X, y = adult(args.rows)
    print(f"{len(X)} rows, {args.folds} folds, HGB; load average before: {os.getloadavg()}", flush=True)
    rows = []
    with threadpool_limits(1):  # this process's own fits on one native thread, like each worker's
        seconds, one = fastest(cross_validation(X, y, args.folds, 1), None, args.repeats)
        rows.append({"where": "1 process", "seconds": seconds, "same_scores": True})
        seconds, scores = fastest(cross_validation(X, y, args.folds, 2), None, args.repeats)
        rows.append({"where": "2 local processes", "seconds": seconds, "same_scores": np.array_equal(scores, one)})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        seconds, scores = fastest(cross_validation(X, y, args.folds, -1), cluster.scheduler_address, args.repeats)
        rows.append({"where": "LocalCluster, 2 workers", "seconds": seconds, "same_scores": np.array_equal(scores, one)})
    print(f"load average after: {os.getloadavg()}; mean ROC AUC {one.mean():.4f}")
    table = pd.DataFrame(rows).set_index("where")
    table["ratio_to_1_process"] = table["seconds"] / table.loc["1 process", "seconds"]
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
