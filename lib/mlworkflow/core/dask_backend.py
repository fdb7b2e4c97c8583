"""joblib's Dask backend with a fit as the unit of work: a task's own parallel calls run inside it, in sequence.

joblib's Dask backend runs every task under `parallel_config(backend="dask")`, so a fit's nested
Parallel calls (a forest's trees, a ColumnTransformer's blocks, a calibrator's folds) go back to the
cluster as tasks of their own, whatever n_jobs the estimator was given (joblib issue 1013: the backend
counts the cluster's threads, not n_jobs). On a few single-threaded workers that floods the scheduler
with tiny tasks and leaves each fit waiting on them. `FitsOnWorkers` wraps each task so that its nested
calls run in its worker's thread; the cluster still places every fit, and a fit's results do not change.
Importing this module imports joblib's Dask backend (and distributed): `core.parallel` imports it only
for a run with a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from joblib._dask import DaskDistributedBackend  # type: ignore[import-untyped]


class InSequence:
    """A task's function whose own joblib calls run sequentially in the calling thread."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__name__ = getattr(function, "__name__", type(function).__name__)  # the cluster's task names

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function with every nested Parallel sequential."""
        import joblib  # type: ignore[import-untyped]

        with joblib.parallel_config(backend="sequential"):
            return self.function(*args, **kwargs)


class FitsOnWorkers(DaskDistributedBackend):  # type: ignore[misc]
    """joblib's Dask backend whose tasks run their nested parallel calls in their own worker thread."""

    def submit(self, func: Any, callback: Any = None) -> Any:
        """Submit a batch of calls, each wrapped in `InSequence` (joblib's `BatchedCalls.items`)."""
        func.items = [(InSequence(function), args, kwargs) for function, args, kwargs in func.items]
        return super().submit(func, callback)
