"""The stage cache: a cold run, a no-op re-run, a params change to evaluate, and a one-module lib edit.

Prints each run's time, which stages ran (and why), and the no-op run's ratio to the cold one, all measured
in this process (targets: no-op ≤ 2 s and ≤ 1 % of the cold run; a change re-runs only the stages it
touches). Keys are taken from a copy of lib/mlworkflow (and of the notebooks), so the lib edit never
touches the real package and concurrent edits do not disturb the figures.
Usage: .venv/bin/python benchmarks/cache.py [PARAMS]   (default params/smoke.yaml; params/default.yaml works too)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from mlworkflow.config import NOTEBOOKS, PARAMS
from mlworkflow.params import Params, load_params
from mlworkflow.workflow import cache, runner

EDITED = "views/widgets.py"  # imported by 05_evaluate alone


def timed_run(label: str, params: Params, root: Path, lib: Path, notebooks: Path) -> tuple[float, runner.RunResult]:
    """One in-process run; print its time and each stage's reason."""
    request = runner.RunRequest(params=params, params_source=label, root=root, lib=lib, notebooks=notebooks)
    began = time.perf_counter()
    result = runner.run(request, echo=lambda _line: None)
    elapsed = time.perf_counter() - began
    if result.error:
        raise SystemExit(f"{label}: {result.error}")
    ran = [s.stage for s in result.stages if s.status != "reused"]
    print(f"{label:<34} {elapsed:8.2f} s   ran: {', '.join(ran) or 'none'}", flush=True)
    for summary in result.stages:
        print(f"    {summary.stage:<11} {summary.reason}", flush=True)
    return elapsed, result


def main(source: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mlw-cache-bench-"))
    lib, notebooks = folder / "lib" / "mlworkflow", folder / "notebooks"
    shutil.copytree(cache.LIB, lib, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(NOTEBOOKS, notebooks)
    params, root = load_params(source), folder / "root"
    cold, _ = timed_run("cold run", params, root, lib, notebooks)
    noop, _ = timed_run("no-op re-run", params, root, lib, notebooks)
    edited = lib / EDITED
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited by benchmarks/cache.py\n", encoding="utf-8")
    timed_run(f"lib/mlworkflow/{EDITED} edited", params, root, lib, notebooks)
    changed = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"bootstrap": params.evaluate.bootstrap + 50})})
    timed_run("evaluate.bootstrap changed", changed, root, lib, notebooks)
    print(f"no-op / cold: {noop / cold:.2%}  (target ≤ 1 %), no-op {noop:.2f} s (target ≤ 2 s)")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PARAMS / "smoke.yaml")
