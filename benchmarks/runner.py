"""Runner overhead: N one-cell notebooks through the papermill CLI, the papermill API, and our shared kernel.

Prints wall times and ratios measured in this run (machines are noisy: compare ratios, not seconds).
Usage: .venv/bin/python benchmarks/runner.py [N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm
from nbformat.v4 import new_code_cell, new_notebook

from mlworkflow.workflow.runner import KernelSession, execute_stage

BODY = "import pandas, sklearn, seaborn\nprint(1)"


def notebooks(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        parameters = new_code_cell("seed = 0")
        parameters.metadata["tags"] = ["parameters"]
        nb = new_notebook(cells=[parameters, new_code_cell(BODY)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        paths.append(folder / f"{i:02d}_nb.ipynb")
        nbformat.write(nb, paths[-1])
    return paths


def timed(label: str, action: object) -> float:
    began = time.perf_counter()
    action()  # type: ignore[operator]
    elapsed = time.perf_counter() - began
    print(f"{label:<38} {elapsed:7.2f} s")
    return elapsed


def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mlw-bench-"))
    paths = notebooks(folder, count)
    papermill = str(Path(sys.executable).with_name("papermill"))

    def cli() -> None:
        for p in paths:
            subprocess.run([papermill, "-k", "python3", str(p), str(p.with_suffix(".cli.ipynb"))], check=True, capture_output=True)

    def api() -> None:
        for p in paths:
            pm.execute_notebook(str(p), str(p.with_suffix(".api.ipynb")), progress_bar=False, kernel_name="python3")

    def shared() -> None:
        session = KernelSession(folder)
        session.start()
        try:
            for i, p in enumerate(paths):
                if i:
                    session.reset()
                execute_stage(session, p, p.with_suffix(".shared.ipynb"), {"seed": 1}, lambda _m: None)
        finally:
            session.stop()

    print(f"{count} notebooks, each importing pandas, scikit-learn and seaborn")
    base = timed("papermill CLI, one process each", cli)
    fresh = timed("papermill API, one kernel each", api)
    ours = timed("mlworkflow runner, one shared kernel", shared)
    print(f"ratio CLI / runner: {base / ours:.1f}x   API / runner: {fresh / ours:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
