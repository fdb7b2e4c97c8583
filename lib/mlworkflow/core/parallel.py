"""Where parallel fits run and how many: the cores a process may use, joblib's n_jobs, local processes or Dask.

Every parallel fit of the stages (select's candidates, the searches' and curves' folds, evaluate's
out-of-fold predictions and permutations) goes through joblib, so one `with backend(cluster):` decides
where it runs: in local processes with one native thread each, or on a dask.distributed cluster through
joblib's Dask backend (the scheduler places the fits; nothing here schedules). Results do not depend on
it: every estimator and fold is seeded, so the same seed gives the same scores locally or on a cluster.

The n_jobs rule (`fit_jobs`): a params `n_jobs` of k runs at most k fits at once, never more than this
process's core budget (`MLW_CPUS`, which sweeps set per variant so parallel variants share the cores,
else every core); -1 takes the whole budget; the default 1 stays sequential. On a cluster the workers'
threads bound the parallelism instead (joblib's Dask backend uses them all, whatever n_jobs says), and a
fit's own parallel calls run inside its task (`core.dask_backend`), not as more cluster tasks.
The runner tells the kernel the cluster through `MLW_CLUSTER` (`kernel_environ`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

CPUS_VARIABLE = "MLW_CPUS"  # cores this process may use (set per variant by sweeps)
CLUSTER_VARIABLE = "MLW_CLUSTER"  # the Dask scheduler's address, set in the kernel's environment by the runner
INNER_THREADS = 1  # native threads per local worker process, as config.THREADS_PER_PROCESS
CONNECT_TIMEOUT_S = 10.0  # how long the connection check waits for the scheduler and a first worker


def cpu_budget(environ: Mapping[str, str]) -> int:
    """The cores this process may use: MLW_CPUS when a whole number ≥ 1, else os.cpu_count() (1 if unknown)."""
    text = environ.get(CPUS_VARIABLE, "").strip()
    if text.isdecimal() and int(text) >= 1:
        return int(text)
    return os.cpu_count() or 1


def cluster_address(environ: Mapping[str, str]) -> str | None:
    """The Dask scheduler address this process was given (MLW_CLUSTER), or None to fit locally."""
    return environ.get(CLUSTER_VARIABLE, "").strip() or None


def fit_jobs(requested: int, environ: Mapping[str, str] = os.environ) -> int:
    """joblib's n_jobs for a params `n_jobs`: -1 on a cluster (all its workers), else -1 → the budget, k → min(k, budget)."""
    if cluster_address(environ) is not None:
        return -1
    budget = cpu_budget(environ)
    return budget if requested == -1 else max(1, min(requested, budget))


def kernel_environ(cluster: str | None) -> dict[str, str]:
    """The variables a kernel (or worker process) needs to fit where the run was told: MLW_CLUSTER, or none."""
    return {CLUSTER_VARIABLE: cluster} if cluster else {}


@functools.cache
def client(address: str) -> Client:
    """This process's Dask client of the scheduler at `address` (one per address, kept for the process)."""
    from distributed import Client

    return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)  # type: ignore[no-untyped-call]


@contextmanager
def backend(cluster: str | None) -> Iterator[None]:
    """Run joblib's parallel calls inside in local processes (one native thread each) or on the cluster at `cluster`."""
    import joblib  # type: ignore[import-untyped]

    if cluster is None:
        with joblib.parallel_config(backend="loky", inner_max_num_threads=INNER_THREADS):
            yield
    else:
        from mlworkflow.core.dask_backend import FitsOnWorkers

        with joblib.parallel_config(backend=FitsOnWorkers(client=client(cluster))):
            yield


def configured(environ: Mapping[str, str] = os.environ) -> AbstractContextManager[None]:
    """`backend` for the cluster this process was given (MLW_CLUSTER), local processes without one."""
    return backend(cluster_address(environ))


POLL_S = 0.25  # between two questions to the scheduler while waiting for its first worker


async def scheduler_workers(address: str, timeout_s: float) -> int | None:
    """The number of workers of the scheduler at `address`, waiting up to `timeout_s` for one; None if it has none."""
    import asyncio

    from distributed.core import rpc

    # The scheduler's own identity handler: a Client that fails to connect leaves a half-built object whose
    # clean-up prints a traceback at exit, after the error message.
    async with rpc(address, timeout=timeout_s) as scheduler:  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            identity = await asyncio.wait_for(scheduler.identity(), timeout_s)
            if identity.get("workers") or loop.time() > deadline:
                return len(identity.get("workers", {})) or None
            await asyncio.sleep(POLL_S)


def unreachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why the Dask scheduler at `address` cannot take fits (no answer, or no worker within `timeout_s`), or None.

    The reason reads as what was found instead: "no answer from tcp://… within 10 s (…)".
    """
    import asyncio

    try:
        workers = asyncio.run(scheduler_workers(address, timeout_s))
    except OSError as exc:  # refused, unresolved or silent (TimeoutError is one)
        return f"no answer from {address} within {timeout_s:g} s ({first_line(exc)})"
    except (MemoryError, ValueError):  # its bytes misread as a frame of Dask's protocol
        return f"an answer from {address} that is not a Dask scheduler's"
    return None if workers else f"a Dask scheduler at {address} with no worker after {timeout_s:g} s"


def first_line(error: BaseException) -> str:
    """An error's first line, or its type when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
