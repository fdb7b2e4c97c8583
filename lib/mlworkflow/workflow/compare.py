"""Run comparison: the winner on the deciding metric, differences to it (paired on the same test rows), params that
differ, metrics side by side, plots on shared axes; a sweep's runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlworkflow import io
from mlworkflow.core.metrics import format_value
from mlworkflow.errors import MlwError
from mlworkflow.layout import RunLayout, runs_dir
from mlworkflow.records import EvaluateRecord, Interval, MonitorRecord
from mlworkflow.views.labels import family_label, metric_label
from mlworkflow.workflow import paired, report, runstate, sweepstate

if TYPE_CHECKING:  # the bootstrap imports pandas: the runs listing (every run writes it) needs none
    from mlworkflow.core.bootstrap import Interval as BootInterval
    from mlworkflow.workflow.paired import Scores

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
    done: tuple[str, ...] = ()  # the stages the run completed (state.json)
    stages: tuple[str, ...] = ()  # the stages it was asked for (state.json; empty: every stage)
    monitor: MonitorRecord | None = None  # what a monitor run saw (the runs list shows its data and verdict)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as {"section.key": value}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(flatten(value, f"{name}.") if isinstance(value, Mapping) else {name: value})
    return flat


NOT_IN_RUN = "— (not in this run's params)"  # a key added to the schema after the run


def differing_params(records: Sequence[RunRecord]) -> list[tuple[str, list[str]]]:
    """Each params key whose value is not the same in every run, with each run's value."""
    flats = [flatten(r.params) for r in records]
    keys = sorted(set().union(*flats))
    rows = [(k, [json.dumps(f[k], ensure_ascii=False) if k in f else NOT_IN_RUN for f in flats]) for k in keys]
    return [(key, values) for key, values in rows if len(set(values)) > 1 and key != "run.name" and not key.startswith(UNUSED)]


def interval(entry: Interval | None) -> str:
    """`value [low, high]`, or a dash when the run has no such metric."""
    if entry is None or entry.value is None or entry.low is None or entry.high is None:
        return "—"
    return f"{format_value(entry.value)} [{format_value(entry.low)}, {format_value(entry.high)}]"  # as the run's pages


def metrics_of(record: RunRecord) -> dict[str, Interval]:
    """A run's test metrics (none when it has not been evaluated)."""
    return record.evaluate.metrics if record.evaluate is not None else {}


def value_of(record: RunRecord, metric: str) -> float | None:
    """A run's test value of the metric, or None when it has none."""
    found = metrics_of(record).get(metric)
    return found.value if found is not None else None


@dataclass(frozen=True)
class Standing:
    """Who won: the deciding metric, the runs best first, and each other run's paired differences to the best."""

    metric: str
    order: list[RunRecord]
    differences: dict[str, dict[str, BootInterval]]  # run id -> metric -> run − best; a run absent: not paired
    split: list[str]  # the params choosing the test rows that differ between the runs
    rows: dict[str, int]  # run id -> test rows scored

    @property
    def best(self) -> RunRecord | None:
        """The best run on the deciding metric (None when no run has it)."""
        first = self.order[0] if self.order else None
        return first if first is not None and value_of(first, self.metric) is not None else None

    @property
    def others(self) -> list[RunRecord]:
        """The evaluated runs after the best."""
        return [r for r in self.order[1:] if value_of(r, self.metric) is not None]

    @property
    def paired(self) -> bool:
        """Whether every other run was compared with the best on the same test rows."""
        return all(r.run_id in self.differences for r in self.others)

    @property
    def unscored(self) -> list[str]:
        """The evaluated runs that could not be scored again (no model or test split left): never paired."""
        best = self.best
        return [r.run_id for r in ([best] if best else []) + self.others if r.run_id not in self.rows]

    @property
    def differ(self) -> list[str]:
        """The other runs scored again whose test rows are not the best's."""
        scored = self.best is not None and self.best.run_id in self.rows
        return [r.run_id for r in self.others if scored and r.run_id in self.rows and r.run_id not in self.differences]


def ranked(records: Sequence[RunRecord], metric: str) -> list[RunRecord]:
    """Best first by the metric in its better direction; runs without it last, in the order given."""
    lower = paired.lower_is_better([r.evaluate for r in records if r.evaluate is not None], metric)

    def key(record: RunRecord) -> tuple[bool, float]:
        value = value_of(record, metric)
        return value is None, (value if lower else -value) if value is not None else 0.0

    return sorted(records, key=key)


def standing(records: Sequence[RunRecord], scores: Mapping[str, Scores]) -> Standing:
    """Rank the runs and pair each with the best where both were scored on the same test rows."""
    evaluations = [r.evaluate for r in records if r.evaluate is not None]
    metric = paired.deciding_metric(evaluations) if evaluations else ""
    order = ranked(records, metric)
    best = scores.get(order[0].run_id) if order else None
    found = {r.run_id: paired.differences(best, scores[r.run_id]) for r in order[1:] if best and r.run_id in scores}
    differences = {run_id: pairs for run_id, pairs in found.items() if pairs is not None}
    split = paired.split_differences([flatten(r.params) for r in records])
    return Standing(metric, order, differences, split, {k: v.scored.n_rows for k, v in scores.items()})


def difference_text(standing: Standing, record: RunRecord, metric: str) -> str:
    """The run − best difference of one metric: paired with its interval, else the plain gap, marked."""
    pairs = standing.differences.get(record.run_id, {})
    if metric in pairs:
        return paired.signed(pairs[metric]) + (" *" if paired.significant(pairs[metric]) else "")
    best = standing.best
    mine, theirs = value_of(record, metric), value_of(best, metric) if best is not None else None
    if mine is None or theirs is None:
        return "—"
    return paired.signed_value(mine - theirs) + " (not paired)"


@dataclass(frozen=True)
class MetricRow:
    """One metric on the page: each run's value (best first) and each other run's difference to the best."""

    metric: str
    label: str
    values: list[str]
    differences: list[str]
    decides: bool


def metric_rows(standing: Standing) -> list[MetricRow]:
    """Every test metric of any run, the deciding one first, the runs side by side best first."""
    names = sorted({m for r in standing.order for m in metrics_of(r)})
    first = [standing.metric] if standing.metric in names else []
    return [
        MetricRow(m, metric_label(m), [interval(metrics_of(r).get(m)) for r in standing.order],
                  [difference_text(standing, r, m) for r in standing.others], m == standing.metric)
        for m in [*first, *(n for n in names if n != standing.metric)]
    ]


def verdict(standing: Standing) -> list[str]:
    """The winner in one sentence, then one sentence per other run: how far behind, and whether it is noise."""
    best = standing.best
    if best is None:
        return ["No run has a test evaluation, so there is no winner."]
    label, lower = metric_label(standing.metric), paired.lower_is_better([best.evaluate] if best.evaluate else [], standing.metric)
    said = [f"Best on {label} ({'lower' if lower else 'higher'} is better): {best.run_id}, "
            f"{interval(metrics_of(best).get(standing.metric))}."]
    for record in standing.others:
        pairs = standing.differences.get(record.run_id, {})
        gap = difference_text(standing, record, standing.metric).removesuffix(" *")
        if standing.metric not in pairs:
            why = ("tested on other rows, so no paired test: part of the gap is the rows" if record.run_id in standing.differ
                   else "not paired: a run could not be scored again on its test rows")
            said.append(f"{record.run_id}: {gap}; {why}.")
            continue
        real = paired.significant(pairs[standing.metric])
        rows = standing.rows.get(record.run_id, 0)
        said.append(f"{record.run_id}: {gap} on the same {rows:,} test rows (paired bootstrap): "
                    + ("a real difference." if real else "within the noise (the interval includes 0)."))
    return said


def shared_plots(standing: Standing, scores: Mapping[str, Scores]) -> dict[str, str]:
    """The comparison's own plots, every run on one set of axes."""
    from mlworkflow.core.bootstrap import Interval as BootInterval

    entries = {r.run_id: metrics_of(r).get(standing.metric) for r in standing.order}
    intervals = {k: BootInterval(v.value, v.low, v.high) for k, v in entries.items()
                 if v is not None and v.value is not None and v.low is not None and v.high is not None}
    scored = [(r.run_id, scores[r.run_id].scored) for r in standing.order if r.run_id in scores]
    from mlworkflow.views import compare as compare_views  # matplotlib, only when a comparison is drawn

    return compare_views.shared_plots(intervals, standing.metric, scored) if standing.metric else {}


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


def load_run(root: Path, run_id: str, plots: bool = True) -> RunRecord:
    """Read one run's params, state, evaluation and (unless `plots` is False) key plots from runs/<run_id>/; the
    runs listing needs no plots, and they are in the executed notebooks, the largest files of a run."""
    run = RunLayout(root, run_id)
    if not run.params_file.is_file():
        raise MlwError(f"run '{run_id}' not found under {runs_dir(root)} (no {run.params_file.name})")
    state = runstate.read(run.state_file) if run.state_file.is_file() else None
    params = runstate.read_object(run.params_file, "the run's validated params (a JSON object)")
    evaluate = io.Artifacts(run.artifacts).find(EvaluateRecord)
    found: dict[str, str] = {}
    for notebook in sorted(run.executed.glob("*.ipynb")) if plots else ():
        found.update(key_plots(runstate.read_object(notebook, "an executed notebook (a JSON object)")))
    status = runstate.status_of(state) if state is not None else "unknown"
    done, asked = (tuple(state.done), tuple(state.stages)) if state is not None else ((), ())
    monitor = io.Artifacts(run.artifacts).find(MonitorRecord)
    return RunRecord(run_id, params, status, evaluate, found, state.resume if state is not None else "", done=done,
                     stages=asked, monitor=monitor)


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


def scores_of(root: Path, records: Sequence[RunRecord]) -> dict[str, Scores]:
    """Each evaluated run's model scored again on its test rows (the runs that have them)."""
    found = {r.run_id: paired.load(root, r.run_id, r.params) for r in records if r.evaluate is not None}
    return {run_id: scores for run_id, scores in found.items() if scores is not None}


def compare_page(records: Sequence[RunRecord], scores: Mapping[str, Scores] | None = None) -> str:
    """The comparison page for two or more runs (paired differences where `scores` gives runs on the same rows)."""
    ranking = standing(records, scores or {})
    titles = list(dict.fromkeys(t for r in records for t in r.plots))
    return report.templates().get_template("compare.html.j2").render(
        standing=ranking, records=ranking.order, params=differing_params(ranking.order), metrics=metric_rows(ranking),
        verdict=verdict(ranking), shared=shared_plots(ranking, scores or {}), titles=titles,
        family_label=family_label, metric_label=metric_label,
    )


def listing_page(records: Sequence[RunRecord]) -> str:
    """reports/index.html: every run with its outcome and headline metric."""
    return report.templates().get_template("runs_index.html.j2").render(records=records)
