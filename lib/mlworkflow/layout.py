"""The run layout: where a run keeps its artifacts, notebooks, state and reports, and where the registry lies.

Under a root folder: `runs/<run>/artifacts/` (the only channel between stages), `runs/<run>/notebooks/`
(executed notebooks), `runs/<run>/state.json` and `params.json`, and `reports/<run>/` (the HTML pages,
shareable as a folder). `cache/<stage>/<key>/` holds every finished stage, shared by the root's runs and
independent of any of them. A relative model registry lies in the root; a service's default prediction log
lies in the registry, next to the model's versions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlworkflow.errors import ParamsError, ParamsIssue

RUNS = "runs"
REPORTS = "reports"
CACHE = "cache"
ARTIFACTS = "artifacts"
EXECUTED = "notebooks"
STATE_FILE = "state.json"
PARAMS_FILE = "params.json"
INDEX_PAGE = "index.html"
PREDICTION_LOG = "predictions.sqlite"
MONITOR = "monitor"
RETRAIN = "retrain"
# The run-name rule (params run.name) with room for the `-monitor-<timestamp>-<n>` a generated id appends:
# a run id is one folder name, never a path (no separator, no leading dot, so no `..`).
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
RUN_ID_RULE = "a run id: a letter or digit, then letters, digits and _.- (at most 128 characters)"


@dataclass(frozen=True)
class RunLayout:
    """Where one run keeps its artifacts, executed notebooks, state and reports."""

    root: Path
    run_id: str

    @property
    def run_dir(self) -> Path:
        """The run's private folder (artifacts, executed notebooks, state)."""
        return self.root / RUNS / self.run_id

    @property
    def artifacts(self) -> Path:
        """The artifact folder: the only channel between stages."""
        return self.run_dir / ARTIFACTS

    @property
    def executed(self) -> Path:
        """Executed notebooks."""
        return self.run_dir / EXECUTED

    @property
    def state_file(self) -> Path:
        """Which stages completed with which params, and the run's status."""
        return self.run_dir / STATE_FILE

    @property
    def params_file(self) -> Path:
        """The validated params the run used, as JSON."""
        return self.run_dir / PARAMS_FILE

    @property
    def retrain_inputs(self) -> Path:
        """A retrain run's own inputs: the old plus new training data, and the gate's holdout."""
        return self.run_dir / RETRAIN

    @property
    def retrain_page(self) -> Path:
        """A retrain run's champion-vs-challenger report."""
        return self.reports / f"{RETRAIN}.html"

    @property
    def reports(self) -> Path:
        """The run's HTML reports, shareable as a folder."""
        return self.root / REPORTS / self.run_id

    @property
    def index(self) -> Path:
        """The run's summary page."""
        return self.reports / INDEX_PAGE

    def registry(self, registry: str | Path) -> Path:
        """The registry folder: absolute as given, else relative to the run's root."""
        return registry_in(self.root, registry)


def runs_dir(root: Path) -> Path:
    """The folder holding every run's private folder."""
    return root / RUNS


def reports_dir(root: Path) -> Path:
    """The folder holding every run's report folder, the runs listing and exported files."""
    return root / REPORTS


def cache_dir(root: Path) -> Path:
    """The stage cache shared by every run under root (it survives deleting any run)."""
    return root / CACHE


def runs_listing(root: Path) -> Path:
    """reports/index.html: every run under root."""
    return reports_dir(root) / INDEX_PAGE


def export_file(root: Path, run_id: str) -> Path:
    """The default single-file export of a run: reports/<run>.html."""
    return reports_dir(root) / f"{run_id}.html"


def compare_file(root: Path, run_ids: Sequence[str]) -> Path:
    """The default comparison page of runs: reports/compare-<a>-vs-<b>….html (name capped for file systems)."""
    return reports_dir(root) / f"compare-{'-vs-'.join(run_ids)[:180]}.html"


def check_run_id(run_id: str, key: str = "--run-id") -> str:
    """A run id that is one folder name (the run-name rule), else a ParamsError naming the argument."""
    if not RUN_ID.fullmatch(run_id):
        raise ParamsError("command line", [ParamsIssue(key, RUN_ID_RULE, repr(run_id))])
    return run_id


def is_taken(root: Path, run_id: str) -> bool:
    """Whether a run already uses this id: its state, params or reports exist (a retrain's inputs alone do not)."""
    run = RunLayout(root, run_id)
    return run.state_file.exists() or run.params_file.exists() or run.reports.exists()


def new_run_id(name: str, root: Path) -> str:
    """A fresh run id `<name>-<UTC timestamp>`, never reusing an existing folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    candidate, n = f"{name}-{stamp}", 1
    while (runs_dir(root) / candidate).exists() or (reports_dir(root) / candidate).exists():
        n += 1
        candidate = f"{name}-{stamp}-{n}"
    return candidate


def monitor_run_id(name: str, root: Path) -> str:
    """A fresh id for a `mlworkflow monitor` run: `<name>-monitor-<timestamp>`."""
    return new_run_id(f"{name}-{MONITOR}", root)


def retrain_run_id(name: str, root: Path) -> str:
    """A fresh id for a `mlworkflow retrain` run: `<name>-retrain-<timestamp>`."""
    return new_run_id(f"{name}-{RETRAIN}", root)


def root_of(artifacts: Path) -> Path:
    """The root of the run owning an artifact folder (`<root>/runs/<run>/artifacts`); else the folder's parent."""
    folder = Path(artifacts).resolve()
    return folder.parents[2] if folder.parent.parent.name == RUNS else folder.parent


def registry_in(root: Path, registry: str | Path) -> Path:
    """A registry folder: absolute as given, else relative to root."""
    path = Path(registry)
    return path if path.is_absolute() else root / path


def registry_root(registry: str | Path, artifacts: Path) -> Path:
    """The registry a stage uses: absolute as given, else relative to the root of the run owning `artifacts`."""
    return registry_in(root_of(artifacts), registry)


def prediction_log(registry: Path, name: str) -> Path:
    """The default prediction log of a model's service: `<registry>/<name>/predictions.sqlite`."""
    return Path(registry) / name / PREDICTION_LOG
