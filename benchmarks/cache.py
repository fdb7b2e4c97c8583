"""The stage cache through the command line: a cold run, a no-op re-run, a one-module lib edit, a params change.

Each run is `mlworkflow run PARAMS` in a fresh process, so the no-op's time is what a user waits for: Python's
start, the CLI's imports, the keys and the links. Printed, all measured in this one process: each run's wall
and CPU time (on a shared machine the wall time also waits for the cores), which stages ran and why, the
no-op's ratios to the cold run (targets: ≤ 2 s and ≤ 1 %; once more after five runs, as every run lists them
all), and, from one more no-op run under `python -X importtime`, its import time and the heavy packages it
loaded (a no-op needs none). The runs import a copy of lib/mlworkflow (PYTHONPATH, inherited by the kernel)
and run a copy of the notebooks, so the lib edit never touches the real package and concurrent edits do not
disturb the keys.
Usage: .venv/bin/python benchmarks/cache.py [PARAMS]   (default params/smoke.yaml; params/default.yaml works too)
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mlworkflow.config import NOTEBOOKS, PARAMS
from mlworkflow.params import load_params
from mlworkflow.workflow import cache

EDITED = "views/widgets.py"  # imported by 05_evaluate alone
HEAVY = ("sklearn", "pandas", "pyarrow", "scipy", "papermill", "nbclient", "jupyter_client", "IPython", "sqlalchemy")
CLI = "import sys; from mlworkflow.workflow.cli import main; sys.exit(main(sys.argv[1:]))"  # as the console script
STAGE_LINE = re.compile(r"^\[\d+/\d+\] (\w+) (.*?)(?: → .*)?$")
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$")


class Project:
    """A copy of lib/mlworkflow and the notebooks, and a root for the runs."""

    def __init__(self, folder: Path, params: Path) -> None:
        self.lib, self.notebooks, self.root, self.params = folder / "lib", folder / "notebooks", folder / "root", params
        shutil.copytree(cache.LIB, self.lib / cache.PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(NOTEBOOKS, self.notebooks)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(self.lib), os.environ.get("PYTHONPATH")]))}

    def command(self, *extra: str, python: tuple[str, ...] = ()) -> list[str]:
        """The CLI's `run` on this project's params, root and notebooks."""
        run = ["run", str(self.params), "--root", str(self.root), "--notebooks", str(self.notebooks), *extra]
        return [sys.executable, *python, "-c", CLI, *run]

    def run(self, label: str, *extra: str) -> Timing:
        """One CLI run; print its wall and CPU time and each stage's reason."""
        began, cpu = time.perf_counter(), children_cpu()
        done = subprocess.run(self.command(*extra), env=self.env, capture_output=True, text=True, check=False)
        elapsed = Timing(time.perf_counter() - began, children_cpu() - cpu)
        if done.returncode:
            raise SystemExit(f"{label}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        reasons = [match.groups() for line in done.stdout.splitlines() if (match := STAGE_LINE.match(line))]
        final = {stage: reason for stage, reason in reasons}  # a stage's last line: "ran in …" or "reused from …"
        ran = [stage for stage, reason in final.items() if not reason.startswith("reused")]
        print(f"{label:<34} {elapsed.wall:8.2f} s (CPU {elapsed.cpu:7.2f} s)   ran: {', '.join(ran) or 'none'}", flush=True)
        for stage, reason in final.items():
            print(f"    {stage:<11} {reason}", flush=True)
        return elapsed

    def imports(self) -> tuple[float, list[str]]:
        """A no-op run under `-X importtime`: its total import time (s) and the heavy packages it loaded."""
        done = subprocess.run(self.command(python=("-X", "importtime")), env=self.env, capture_output=True, text=True, check=False)
        top = [match.groups() for line in done.stderr.splitlines() if (match := IMPORT_LINE.match(line))]
        total = sum(int(cumulative) for cumulative, indent, _name in top if not indent) / 1e6
        loaded = {name.split(".")[0] for _cumulative, _indent, name in top}
        return total, [name for name in HEAVY if name in loaded]


@dataclass(frozen=True)
class Timing:
    """A run's wall time and the CPU time (user + system) its process and the kernel it waited for used."""

    wall: float
    cpu: float


def children_cpu() -> float:
    """The CPU seconds of this process's finished children (a kernel its CLI run waited for included)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main(source: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mlw-cache-bench-"))
    try:
        measure(Project(folder, source.resolve()), source)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(project: Project, source: Path) -> None:
    """The five runs and the no-op's imports, printed; the ratios of the no-op to the cold run."""
    cold = project.run("cold run")
    noop = project.run("no-op re-run")
    import_s, heavy = project.imports()
    edited = project.lib / cache.PACKAGE / EDITED
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited by benchmarks/cache.py\n", encoding="utf-8")
    project.run(f"lib/mlworkflow/{EDITED} edited")
    bootstrap = load_params(source).evaluate.bootstrap + 50
    project.run("evaluate.bootstrap changed", "--set", f"evaluate.bootstrap={bootstrap}")
    later = project.run("no-op again, after 5 runs", "--set", f"evaluate.bootstrap={bootstrap}")
    print(f"no-op / cold: {noop.wall / cold.wall:.2%} wall (target ≤ 1 %), no-op {noop.wall:.2f} s (target ≤ 2 s); "
          f"CPU {noop.cpu:.2f} s / {cold.cpu:.1f} s = {noop.cpu / cold.cpu:.2%}")
    print(f"after 5 runs: no-op {later.wall:.2f} s wall ({later.wall / cold.wall:.2%}), CPU {later.cpu:.2f} s")
    print(f"no-op imports: {import_s:.2f} s under -X importtime; heavy packages loaded: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PARAMS / "smoke.yaml")
