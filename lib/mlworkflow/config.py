"""Project paths, all derived from the project root, the native thread caps and the skipped grammar import;
nothing happens at import."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
PARAMS = PROJECT_ROOT / "params"
DEFAULT_PARAMS = PARAMS / "default.yaml"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# Parallel work runs in n_jobs processes (joblib), each of which would otherwise start one native
# thread per core: on a small machine that oversubscribes it many times over (a 25 s train stage took
# 318 s). One thread per process, as `make` always ran. A user who sets any of these variables sizes
# the pools: nothing is changed then (OpenBLAS itself falls back to OMP_NUM_THREADS, so capping the
# rest would override their choice).
THREADS_PER_PROCESS = 1
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


# nbformat validates notebooks with jsonschema, whose format checkers import rfc3987_syntax when it is installed
# (jupyterlab's dependencies install it): that module compiles 38 Lark grammars at import for the `iri` formats,
# which no notebook schema uses — about 3 s of CPU in every command that reads a notebook, most of a re-run that
# reuses every stage (python-jsonschema/jsonschema issue 1428). jsonschema skips the optional module when absent.
UNUSED_GRAMMARS = "rfc3987_syntax"


def user_sized_threads(environ: Mapping[str, str]) -> bool:
    """Whether the user set (non-empty) any native thread-pool variable."""
    return any(environ.get(name) for name in THREAD_VARIABLES)


def thread_caps(environ: Mapping[str, str]) -> dict[str, str]:
    """The thread-pool variables to add to `environ` (for a kernel or worker): none when the user sized them."""
    return {} if user_sized_threads(environ) else {name: str(THREADS_PER_PROCESS) for name in THREAD_VARIABLES}


def cap_loaded_pools(environ: Mapping[str, str]) -> None:
    """Cap the native pools already loaded in this process (threadpoolctl), unless the user sized them."""
    from threadpoolctl import threadpool_limits

    if not user_sized_threads(environ):
        threadpool_limits(THREADS_PER_PROCESS)


def skip_unused_grammars() -> None:
    """Make this process's later imports of jsonschema skip its IRI format grammars (none of our schemas uses
    them); nothing changes when the module is already loaded."""
    sys.modules.setdefault(UNUSED_GRAMMARS, None)  # type: ignore[arg-type]  # None: "not importable" to importlib
