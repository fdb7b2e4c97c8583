"""Refinement: retrain on the old plus the new labelled data, then gate the challenger against the champion.

`mlworkflow retrain --with NEW_DATA` holds out the latest `monitor.holdout_share` of the new rows,
runs the workflow (data … deploy) on the old data plus the rest of the new rows, which registers
a challenger, and scores champion and challenger on the same holdout. The gate (params
`monitor.gate_*`) asks each listed metric to gain at least an absolute and a relative margin —
significantly, by a paired bootstrap, when `gate_significant` — and each "no worse" metric to
lose at most `gate_tolerance`. A comparison report is written; the challenger becomes champion
only if the gate passes, automatically when `monitor.auto_promote` is set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlworkflow import io
from mlworkflow.bundle.contract import Contract
from mlworkflow.bundle.registry import LoadedModel, Registry, RegistryError
from mlworkflow.config import TEMPLATES
from mlworkflow.core import bootstrap, metrics, scoring
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.metrics import format_value
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import threshold_or_default
from mlworkflow.errors import DataError
from mlworkflow.layout import RunLayout, retrain_run_id
from mlworkflow.params import STAGES, MonitorParams, Params, load_params
from mlworkflow.records import HOLDOUT, RETRAIN_DATA, DeployRecord, RetrainRecord
from mlworkflow.stages import monitor
from mlworkflow.stages.data import read_source
from mlworkflow.views.labels import metric_label
from mlworkflow.workflow import report, runner

TRAINING_STAGES = tuple(STAGES[: STAGES.index("monitor")])
Echo = Callable[[str], None]


# --- the data: old + new, and the holdout ------------------------------------------------------------------


def split_new(frame: pd.DataFrame, share: float, time_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to train on, the latest `share` of the rows held out), in time order when `time_column` is set."""
    if time_column is not None and time_column in frame.columns:
        frame = frame.iloc[np.argsort(pd.to_datetime(frame[time_column], format="mixed").to_numpy(), kind="stable")]
    held = math.ceil(len(frame) * share)
    if held < 1 or held >= len(frame):
        raise DataError(f"{len(frame)} new rows are too few to hold out a share of {share}", source="monitor.holdout_share")
    return frame.iloc[:-held].reset_index(drop=True), frame.iloc[-held:].reset_index(drop=True)


def combine(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The old rows then the new ones, with the old data's columns (the new data must have them all)."""
    missing = [c for c in old.columns if c not in new.columns]
    if missing:
        raise DataError("is a column of the old data but not of the new data", str(missing[0]), "retrain --with")
    return pd.concat([old, new[list(old.columns)]], ignore_index=True)


@dataclass(frozen=True)
class Prepared:
    """The files the retrain run reads: the combined training data and the holdout."""

    data: Path
    holdout: Path
    rows: dict[str, int]


def prepare(params: Params, new: pd.DataFrame, folder: Path) -> Prepared:
    """Split the new data, append its training part to the old data, write both files into `folder`."""
    old, _sha = read_source(params.data)
    train_new, holdout = split_new(new, params.monitor.holdout_share, params.monitor.time_column)
    combined = combine(old, train_new)
    store = io.Artifacts(folder)
    rows = {"old": len(old), "new, trained on": len(train_new), "new, held out": len(holdout)}
    return Prepared(store.write_frame(RETRAIN_DATA, combined), store.write_frame(HOLDOUT, holdout), rows)


def run_overrides(prepared: Prepared, registry: Path | None) -> list[str]:
    """`--set` overrides that point the workflow at the combined data and register a challenger."""
    sets = [f"data.path={prepared.data}", "data.sql_url=null", "data.sql_query=null", "deploy.alias=challenger"]
    return [*sets, f"deploy.registry={registry.resolve()}"] if registry is not None else sets


# --- scoring both on the holdout -------------------------------------------------------------------------------


def holdout_scored(model: LoadedModel, holdout: pd.DataFrame, markers: Sequence[str]) -> Scored:
    """A model's scores and labels on the labelled holdout rows (its own inputs, cleaned as monitoring does)."""
    target = model.metadata.predicted_target
    if target.name not in holdout.columns:
        raise DataError("the new data has no target column, so the gate cannot score", target.name, "retrain --with")
    labels = monitor.label_column(holdout, target.name, markers)
    known = labels.notna().to_numpy()
    frame = monitor.clean(holdout.reset_index(drop=True).loc[known], model.contract, markers)
    values, probabilistic = monitor.scores(model, frame)
    threshold = threshold_or_default(target.task, model.metadata.threshold, probabilistic)
    return scoring.from_scores(values, labels[known], target, probabilistic, threshold)


def comparison(champion: Scored, challenger: Scored, params: MonitorParams, seed: int) -> pd.DataFrame:
    """Every metric of both models with intervals, and the challenger's gain (paired bootstrap: same resamples)."""
    rows = []
    pairs = bootstrap.compare(champion, challenger, params.bootstrap, params.confidence, seed, oriented=True)
    for name, pair in pairs.items():
        one, two, gain = pair.first, pair.second, pair.gain
        rows.append({
            "metric": name, "better": metrics.better(name),
            "champion": one.value, "champion_low": one.low, "champion_high": one.high,
            "challenger": two.value, "challenger_low": two.low, "challenger_high": two.high,
            "gain": gain.value, "gain_low": gain.low, "gain_high": gain.high,
            "relative_gain": gain.value / max(abs(one.value), 1e-12),
        })
    return pd.DataFrame(rows).set_index("metric")


# --- the gate ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One condition of the gate on one metric."""

    metric: str
    kind: Literal["gain", "no worse"]
    min_gain: float = 0.0
    min_relative: float = 0.0
    tolerance: float = 0.0


def rules(params: MonitorParams, deciding: str) -> list[Rule]:
    """The gate's rules from params; 'auto' stands for the deciding metric."""
    def name(metric: str) -> str:
        return deciding if metric == "auto" else metric

    gains = {name(m): g for m, g in params.gate_min_gain.items()}
    relative = {name(m): r for m, r in params.gate_min_relative_gain.items()}
    found = [Rule(m, "gain", gains.get(m, 0.0), relative.get(m, 0.0)) for m in dict.fromkeys([*gains, *relative])]
    return found + [Rule(name(m), "no worse", tolerance=params.gate_tolerance) for m in params.gate_no_worse]


def check(rule: Rule, table: pd.DataFrame, significant: bool) -> tuple[bool, str]:
    """Whether the challenger meets one rule, and one sentence saying how."""
    if rule.metric not in table.index:
        return False, f"{metric_label(rule.metric)} is not computed for these models, so its rule cannot pass."
    def at(column: str) -> float:
        return float(table[column].to_dict()[rule.metric])

    gain, low, relative = at("gain"), at("gain_low"), at("relative_gain")
    said = f"{metric_label(rule.metric)} {format_value(at('champion'))} → {format_value(at('challenger'))}"
    if rule.kind == "no worse":
        ok = gain >= -rule.tolerance
        return ok, f"{said}: {'no' if ok else 'too much'} worse than the champion (tolerance {rule.tolerance:g})."
    needed = [gain >= rule.min_gain and (gain > 0 or rule.min_gain > 0 or not significant),
              relative >= rule.min_relative, not significant or low > 0]
    margins = f"gain {gain:+.4f} [{low:+.4f}, {at('gain_high'):+.4f}], {relative:+.1%}"
    wanted = f"at least {rule.min_gain:g} and {rule.min_relative:.1%}" + (", significantly" if significant else "")
    return all(needed), f"{said}: {margins}; {'meets' if all(needed) else 'misses'} the required gain ({wanted})."


@dataclass(frozen=True)
class Gate:
    """The gate's decision, one sentence per rule, and the metrics its rules are on."""

    passed: bool
    reasons: tuple[str, ...]
    metrics: tuple[str, ...] = ()


def gate(table: pd.DataFrame, params: MonitorParams, deciding: str) -> Gate:
    """Apply every rule; the gate passes when all do."""
    found = rules(params, deciding)
    checked = [check(rule, table, params.gate_significant) for rule in found]
    if not checked:
        return Gate(True, ("No gate rules are set (monitor.gate_*): the challenger passes unchecked.",))
    metrics = tuple(dict.fromkeys(rule.metric for rule in found))
    return Gate(all(ok for ok, _ in checked), tuple(text for _, text in checked), metrics)


# --- the whole refinement ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What `mlworkflow retrain` was asked to do."""

    params_source: str
    new_data: Path
    overrides: Sequence[str] = ()
    root: Path = Path(".")
    run_id: str | None = None
    registry: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """What a retrain produced: the run, both versions, the comparison, the decision."""

    run: runner.RunResult
    rows: dict[str, int]
    challenger: str | None = None
    champion: str | None = None
    table: pd.DataFrame | None = None
    gate: Gate | None = None
    promoted: bool = False
    promote_command: str = ""
    report: Path | None = None
    plots: dict[str, str] = field(default_factory=dict)  # title -> base64 PNG


def champion_of(registry: Registry, name: str) -> str | None:
    """The champion's reference (NAME@VERSION), or None when no version has the alias."""
    try:
        return registry.entry(name, "champion").ref
    except RegistryError:
        return None


def challenge(registry: Registry, challenger: str, champion: str | None, holdout: pd.DataFrame, params: Params
              ) -> tuple[pd.DataFrame | None, Gate]:
    """Score both models on the holdout and apply the gate (a challenger without a champion passes)."""
    if champion is None:
        return None, Gate(True, ("There is no champion yet: the challenger has nothing to beat.",))
    markers = tuple(dict.fromkeys([*params.preprocess.missing_markers, *params.monitor.missing_markers]))
    incumbent, candidate = registry.load(champion), registry.load(challenger)
    table = comparison(holdout_scored(incumbent, holdout, markers), holdout_scored(candidate, holdout, markers),
                       params.monitor, params.run.seed)
    return table, gate(table, params.monitor, monitor.deciding_metric(params.monitor, incumbent))


def retrain(request: Request, echo: Echo) -> Outcome:
    """Run the workflow on old + new data (a challenger), gate it against the champion, report, maybe promote."""
    base = load_params(request.params_source, request.overrides)
    root = request.root.resolve()
    layout = RunLayout(root, request.run_id or retrain_run_id(base.run.name, root))
    new = io.read_file(request.new_data, base.data.read)
    prepared = prepare(base, new, layout.retrain_inputs)
    overrides = [*request.overrides, *run_overrides(prepared, request.registry)]
    params = load_params(request.params_source, overrides)
    run_request = runner.RunRequest(params, request.params_source, overrides, TRAINING_STAGES, root, layout.run_id)
    run = runner.run(run_request, echo=echo)
    if run.error:
        return Outcome(run, prepared.rows)
    registry = Registry(layout.registry(params.deploy.registry))
    challenger = io.Artifacts(layout.artifacts).read(DeployRecord).ref
    champion = champion_of(registry, params.deploy.name)
    table, decision = challenge(registry, challenger, champion, io.Artifacts(prepared.holdout.parent).read_frame(HOLDOUT), params)
    name, version = challenger.split("@")
    command = f"mlworkflow promote {name} {version} --alias champion --registry {registry.root}"
    promoted = decision.passed and params.monitor.auto_promote and challenger != champion
    if promoted:
        registry.promote(name, version, "champion")
    old = io.Artifacts(prepared.data.parent).read_frame(RETRAIN_DATA).iloc[: prepared.rows["old"]]
    drawn = report_plots(table, decision, old, new, registry.load(challenger).contract, params.monitor)
    outcome = Outcome(run, prepared.rows, challenger, champion, table, decision, promoted, command, plots=drawn)
    outcome = write_report(outcome, layout, params)
    runner.write_run_index(run_request, layout, run)  # the run's summary now links the gate's report
    return outcome


# --- the comparison report -------------------------------------------------------------------------------------------


def report_plots(table: pd.DataFrame | None, decision: Gate, old: pd.DataFrame, new: pd.DataFrame,
                 contract: Contract, params: MonitorParams) -> dict[str, str]:
    """The report's plots as PNGs by title: champion vs challenger per metric, and old vs new rows."""
    from mlworkflow.views import compare as compare_views
    from mlworkflow.views import retrain as retrain_views

    plots = {"The new rows against the old, on the features that moved most":
             compare_views.png(retrain_views.drift_figure(old, new, contract, params))}
    if table is None:
        return plots
    gains = {"Champion and challenger on the held-out new rows (95% intervals)":
             compare_views.png(retrain_views.gain_figure(table, decision.metrics))}
    return gains | plots


def interval_text(row: pd.Series, key: str) -> str:
    """'value [low, high]' of one model (or the gain) in a comparison row."""
    return str(Interval(float(row[key]), float(row[f"{key}_low"]), float(row[f"{key}_high"])))


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison for the console: 'value [low, high]' strings."""
    return pd.DataFrame({
        "better": table["better"],
        "champion": [interval_text(row, "champion") for _, row in table.iterrows()],
        "challenger": [interval_text(row, "challenger") for _, row in table.iterrows()],
        "challenger's gain": [interval_text(row, "gain") for _, row in table.iterrows()],
        "relative gain": [f"{v:+.1%}" for v in table["relative_gain"]],
    }, index=table.index)


def display_rows(table: pd.DataFrame, gated: Sequence[str]) -> list[dict[str, Any]]:
    """The comparison for people, the gate's metrics first: values with intervals, the gain, the relative gain."""
    order = [*[m for m in gated if m in table.index], *[m for m in table.index if m not in gated]]
    return [{"metric": name, "gated": name in gated, "better": table.loc[name, "better"],
             "champion": interval_text(table.loc[name], "champion"),
             "challenger": interval_text(table.loc[name], "challenger"),
             "gain": interval_text(table.loc[name], "gain"), "relative": f"{table.loc[name, 'relative_gain']:+.1%}"}
            for name in order]


def decision_text(outcome: Outcome, command: bool = True) -> str:
    """One sentence: promoted, ready to promote (with the command, unless `command` is off), or kept the champion."""
    if outcome.gate is None:
        return "The retrain run failed; nothing was compared."
    if outcome.promoted:
        return f"The challenger {outcome.challenger} passed the gate and is now the champion."
    if outcome.gate.passed:
        how = f"promote it with: {outcome.promote_command}" if command else "it can be promoted to champion"
        return f"The challenger {outcome.challenger} passed the gate; {how}"
    return f"The challenger {outcome.challenger} failed the gate; the champion {outcome.champion} stays."


def page(outcome: Outcome, title: str, run_id: str = "") -> str:
    """The comparison report: an offline page in the run index's style (decision, rules, metrics, plots, rows)."""
    gated = outcome.gate.metrics if outcome.gate else ()
    return report.templates().get_template("retrain.html.j2").render(
        title=title, run_id=run_id, decision=decision_text(outcome, command=False),
        promote_command=outcome.promote_command if outcome.gate and outcome.gate.passed and not outcome.promoted else "",
        passed=None if outcome.gate is None else outcome.gate.passed,
        reasons=outcome.gate.reasons if outcome.gate else (), champion=outcome.champion, challenger=outcome.challenger,
        rows_table=display_rows(outcome.table, gated) if outcome.table is not None else [], plots=outcome.plots,
        rows=outcome.rows, css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
    )


def record(outcome: Outcome, params: Params) -> RetrainRecord:
    """retrain.json: both versions, the rows, the comparison, the gate and the decision."""
    table = None if outcome.table is None else monitor.json_records(outcome.table.reset_index().round(6))
    return RetrainRecord(
        champion=outcome.champion, challenger=outcome.challenger, rows=outcome.rows, comparison=table,
        passed=None if outcome.gate is None else outcome.gate.passed,
        reasons=[] if outcome.gate is None else list(outcome.gate.reasons),
        promoted=outcome.promoted, promote_command=outcome.promote_command,
        decision=decision_text(outcome), gate_params=params.monitor.model_dump(mode="json"),
    )


def write_report(outcome: Outcome, layout: RunLayout, params: Params) -> Outcome:
    """Write retrain.json (artifacts) and retrain.html (the run's reports); return the outcome with its path."""
    io.Artifacts(layout.artifacts).write(record(outcome, params))
    target = layout.retrain_page
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page(outcome, f"Retrain {layout.run_id}: champion vs challenger", layout.run_id), encoding="utf-8")
    return replace(outcome, report=target)
