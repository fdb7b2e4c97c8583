"""Run comparison: params that differ, metrics side by side with intervals, key plots next to each other; a sweep's runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlworkflow import io
from mlworkflow.errors import MlwError
from mlworkflow.layout import RunLayout, runs_dir
from mlworkflow.records import EvaluateRecord, Interval
from mlworkflow.workflow import report, runstate, sweepstate

KEY_PLOT = "key-plot"
UNUSED = "sweep."  # a run ignores its params' sweep section (runs from before it have none)


@dataclass(frozen=True)
class RunRecord:
    """What comparing needs from one run: its params, outcome, metrics and key plots."""

    run_id: str
    params: dict[str, Any]
    status: str
    evaluate: EvaluateRecord | None = None
    plots: dict[str, str] = field(default_factory=dict)  # title -> base64 PNG
    resume: str = ""  # the command that resumes the run (state.json)
    note: str = ""  # why the listing cannot show the run


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as {"section.key": value}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(flatten(value, f"{name}.") if isinstance(value, Mapping) else {name: value})
    return flat


def differing_params(records: Sequence[RunRecord]) -> list[tuple[str, list[str]]]:
    """Each params key whose value is not the same in every run, with each run's value."""
    flats = [flatten(r.params) for r in records]
    keys = sorted(set().union(*flats))
    rows = [(k, [json.dumps(f.get(k, "—")) for f in flats]) for k in keys]
    return [(key, values) for key, values in rows if len(set(values)) > 1 and key != "run.name" and not key.startswith(UNUSED)]


def interval(entry: Interval | None) -> str:
    """`value [low, high]`, or a dash when the run has no such metric."""
    if entry is None or entry.value is None or entry.low is None or entry.high is None:
        return "—"
    return f"{entry.value:.4f} [{entry.low:.4f}, {entry.high:.4f}]"


def metrics_of(record: RunRecord) -> dict[str, Interval]:
    """A run's test metrics (none when it has not been evaluated)."""
    return record.evaluate.metrics if record.evaluate is not None else {}


def metric_rows(records: Sequence[RunRecord]) -> list[tuple[str, list[str]]]:
    """Every test metric of any run, one row each, the runs side by side."""
    names = sorted({m for r in records for m in metrics_of(r)})
    return [(m, [interval(metrics_of(r).get(m)) for r in records]) for m in names]


def key_plots(notebook: Mapping[str, Any]) -> dict[str, str]:
    """PNG images of the cells tagged `key-plot` in an executed notebook, by title."""
    plots: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        metadata = cell.get("metadata", {})
        if KEY_PLOT not in metadata.get("tags", []):
            continue
        images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if images:
            plots[metadata.get("mlw_title", f"plot {len(plots) + 1}")] = str(images[-1]).replace("\n", "")
    return plots


def load_run(root: Path, run_id: str) -> RunRecord:
    """Read one run's params, state, evaluation and key plots from runs/<run_id>/."""
    run = RunLayout(root, run_id)
    if not run.params_file.is_file():
        raise MlwError(f"run '{run_id}' not found under {runs_dir(root)} (no {run.params_file.name})")
    state = runstate.read(run.state_file) if run.state_file.is_file() else None
    params = runstate.read_object(run.params_file, "the run's validated params (a JSON object)")
    evaluate = io.Artifacts(run.artifacts).find(EvaluateRecord)
    plots: dict[str, str] = {}
    for notebook in sorted(run.executed.glob("*.ipynb")):
        plots.update(key_plots(runstate.read_object(notebook, "an executed notebook (a JSON object)")))
    status = runstate.status_of(state) if state is not None else "unknown"
    return RunRecord(run_id, params, status, evaluate, plots, state.resume if state is not None else "")


def list_runs(root: Path) -> list[str]:
    """Every run under root, newest first."""
    runs = runs_dir(root)
    found = [p for p in runs.iterdir() if RunLayout(root, p.name).params_file.is_file()] if runs.is_dir() else []
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def expand(root: Path, names: Sequence[str]) -> tuple[Path, list[str]]:
    """The root and run ids that `compare` names: a sweep (its id under root, or its folder) gives its variants'
    runs that ran (ok or failed), and its folder's root when given as a path."""
    run_ids: list[str] = []
    for name in names:
        sweep = sweepstate.find(root, name)
        if sweep is not None:
            root = sweep.root
        finished = [v.run_id for v in sweepstate.read_record(sweep).variants if v.status in ("ok", "failed")] if sweep else []
        run_ids += finished if sweep is not None else [name]
    return root, list(dict.fromkeys(run_ids))


def compare_page(records: Sequence[RunRecord]) -> str:
    """The comparison page for two or more runs."""
    titles = list(dict.fromkeys(t for r in records for t in r.plots))
    return report.templates().get_template("compare.html.j2").render(
        records=records, params=differing_params(records), metrics=metric_rows(records), titles=titles
    )


def listing_page(records: Sequence[RunRecord]) -> str:
    """reports/index.html: every run with its outcome and headline metric."""
    return report.templates().get_template("runs_index.html.j2").render(records=records)
