"""HTML reports: each executed stage notebook, and the run's index page; all offline."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from mlworkflow.config import TEMPLATES
from mlworkflow.params import STAGES
from mlworkflow.records import (
    DataRecord,
    EvaluateRecord,
    Interval,
    MonitorRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views.labels import (
    FAMILIES,
    METRICS,
    family_label,
    in_words,
    metric_label,
    number,
    percent,
    threshold_rule_label,
)
from mlworkflow.views.story import RETRAINED_ON, source_name
from mlworkflow.views.summary import Executive, RunRecords, executive
from mlworkflow.workflow import pages

NOTICE = re.compile(r'<p class="mlw-notice[^"]*" id="mlw-notice">.*?</p>', re.S)
CODE_MARK = re.compile(r"`([^`]+)`")
PACKAGES = (
    "mlworkflow",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "seaborn",
    "matplotlib",
    "papermill",
    "nbconvert",
    "pyarrow",
    "pydantic",
    "skops",
    "optuna",
)


@dataclass(frozen=True)
class RunInfo:
    """What every page of a run states: identity, params, data, versions, commit."""

    run_id: str
    params_source: str
    params_yaml: str
    data_sha256: str
    commit: str
    created: str
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageReport:
    """One stage's outcome as the index page shows it."""

    stage: str
    status: str
    report: str
    headline: dict[str, Any]
    kernel_s: float
    execute_s: float
    render_s: float
    error: str = ""
    reason: str = ""  # "ran: <why>" or "reused from <run>"

    @property
    def total_s(self) -> float:
        """Wall time of the stage."""
        return self.kernel_s + self.execute_s + self.render_s


@dataclass(frozen=True)
class Notice:
    """What the index says of a run that has not finished: running, interrupted or stopped, and how to resume."""

    kind: str
    text: str
    resume: str

    def html(self) -> str:
        """The notice's paragraph (the element `mark_notice` replaces)."""
        text, resume = html.escape(self.text), html.escape(self.resume)
        return f'<p class="mlw-notice mlw-notice-{self.kind}" id="mlw-notice">{text} <code>{resume}</code></p>'


@dataclass(frozen=True)
class Summary:
    """The stakeholder summary at the top of the index: data, decision, performance, groups, selection."""

    data: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    performance: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    selection: list[dict[str, Any]] = field(default_factory=list)
    monitoring: dict[str, Any] = field(default_factory=dict)
    retrain: dict[str, Any] = field(default_factory=dict)
    executive: Executive = field(default_factory=Executive)


def _interval(entry: Interval | None) -> str:
    if entry is None or entry.value is None or entry.low is None or entry.high is None:
        return "–"
    return f"{entry.value:.3f} [{entry.low:.3f}, {entry.high:.3f}]"


def _data_facts(data: DataRecord | None) -> dict[str, Any]:
    if data is None:
        return {}
    facts = {"source": data.source, "rows": data.rows, "target": data.target, "task": data.task,
             "positive_class": data.positive_class}
    facts["source"] = source_name(data.source)  # a file: its name; a database URL stays; a retrain's data in words
    return {k: v for k, v in facts.items() if v is not None}


def _decision(train: TrainRecord | None, evaluate: EvaluateRecord | None) -> dict[str, Any]:
    pairs: list[tuple[str, Any]] = [("model", train.family if train else None)]
    if evaluate is not None:
        pairs += [("metric", evaluate.metric), ("why", evaluate.why), ("threshold", evaluate.threshold),
                  ("threshold rule", evaluate.threshold_rule)]
    return {k: v for k, v in pairs if v is not None}


def _performance(evaluate: EvaluateRecord | None) -> list[dict[str, Any]]:
    if evaluate is None:
        return []
    decided, metrics = evaluate.metric, evaluate.metrics
    order = [decided, *sorted(m for m in metrics if m != decided)]
    return [
        {"metric": m, "model": _interval(metrics[m]), "baseline": _interval(evaluate.baseline.get(m)), "decides": m == decided}
        for m in order
        if m in metrics
    ]


def _flagged_groups(evaluate: EvaluateRecord | None) -> list[dict[str, Any]]:
    groups = [g for g in (evaluate.groups if evaluate else []) if g.flag and g.group != "(all)"]
    return [g.model_dump() for g in groups if not g.flag.startswith("n <")]  # too few rows to judge


def _selection(select: SelectRecord | None) -> list[dict[str, Any]]:
    ranking = [r for r in (select.ranking if select else []) if r.status == "ok"][:3]
    return [
        {
            "family": r.family,
            "score": f"{r.score:.4f} ± {r.score_std:.4f}",
            "significantly worse": "yes" if r.significant else "no",
        }
        for r in ranking
    ]


def summarize(found: RunRecords) -> Summary:
    """Build the summary from the stages' records (any of them may be missing)."""
    monitor, gate = found.monitor, found.retrain
    return Summary(
        data=_data_facts(found.data),
        decision=_decision(found.train, found.evaluate),
        performance=_performance(found.evaluate),
        groups=_flagged_groups(found.evaluate),
        selection=_selection(found.select),
        monitoring={"verdict": monitor.verdict, "reasons": list(monitor.reasons)} if monitor else {},
        retrain={"decision": gate.decision, "passed": gate.passed} if gate else {},
        executive=executive(found),
    )


def code_marks(text: str) -> Markup:
    """Text whose `marked` words show as code, not as literal backticks (escaped otherwise)."""
    return Markup(CODE_MARK.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def without_paths(text: str) -> str:
    """Text without absolute local paths, shortened as on the stage pages."""
    return pages.short_paths(text)


def readable_value(value: Any) -> str:
    """A headline value: a list of family keys as the names a reader knows, a number rounded, no local paths."""
    if isinstance(value, int | float):
        return number(value)
    names = [name.strip() for name in str(value).split(",")]
    if all(name in FAMILIES for name in names):
        return ", ".join(family_label(name) for name in names)
    return in_words(without_paths(str(value)))


def readable_headline(headline: dict[str, Any]) -> dict[str, str]:
    """A stage's headline as the index shows it: metric and family names a reader knows, numbers rounded."""
    return {" ".join(metric_label(w) if w in METRICS else w for w in key.split(" ")): readable_value(value)
            for key, value in headline.items()}


@dataclass(frozen=True)
class Listed:
    """How the runs list shows one run: the data it read, what kind of run it is, a monitor run's verdict."""

    data: str
    kind: str = ""  # "", "monitor run", "retrain run" or "partial: …"
    verdict: str = ""


def monitored_data(params: dict[str, Any], monitor: MonitorRecord | None) -> str:
    """The data a monitor run watched: its record's source, else what its params name."""
    if monitor is not None:
        return without_paths(monitor.current.source)
    section = params.get("monitor", {})
    if section.get("current"):
        return f"file {Path(str(section['current'])).name}"
    return "prediction log" if section.get("log_url") else "—"


def listed(params: dict[str, Any], status: str, done: list[str], monitor: MonitorRecord | None,
           stages: list[str] | tuple[str, ...] = ()) -> Listed:
    """A run's line of the runs list: a monitor run shows the data it monitored and its verdict; a run that did not
    complete every stage says so."""
    if list(stages) == ["monitor"] or (monitor is not None and "data" not in done):
        return Listed(monitored_data(params, monitor), "monitor run", monitor.verdict if monitor is not None else "")
    data = params.get("data", {})
    source = str(data.get("path") or ("SQL query" if data.get("sql_query") else ""))
    if source_name(source) == RETRAINED_ON:  # data … deploy by design: a retrain run, not a partial one
        return Listed(RETRAINED_ON, "retrain run")
    missing = [stage for stage in STAGES if stage not in done]
    kind = f"partial: {len(done)} of {len(STAGES)} stages ({', '.join(s for s in STAGES if s in done) or 'none'})" if missing and done else ""
    return Listed(Path(source).name if "://" not in source else without_paths(source), kind if status != "running" else "")


@functools.cache
def templates() -> jinja2.Environment:
    """The Jinja environment for mlworkflow's own page templates (autoescaped), one per process so each
    template compiles once (Jinja reloads a template whose file changed), and compiled once per version of its
    source across processes: Jinja's bytecode cache, in its private folder under the temporary directory (compiling
    the index and listing templates was a third of a re-run that reuses every stage)."""
    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    autoescape, compiled = jinja2.select_autoescape(["html", "j2"]), jinja2.FileSystemBytecodeCache()
    env = jinja2.Environment(loader=loader, autoescape=autoescape, bytecode_cache=compiled)
    env.filters.update(family_label=family_label, metric_label=metric_label, number=number, percent=percent,
                       code_marks=code_marks, without_paths=without_paths, readable_headline=readable_headline,
                       in_words=in_words, threshold_rule_label=threshold_rule_label)
    env.globals.update(listed=listed)
    return env


def stage_header(info: RunInfo, stage: str, section_yaml: str, status: str, error: str) -> str:
    """The header block at the top of a stage report."""
    template = templates().get_template("stage_header.html.j2")
    return template.render(info=info, stage=stage, section_yaml=section_yaml, status=status, error=error)


def render_stage(notebook: Path, target: Path, header: str, show_code: bool) -> None:
    """Render an executed notebook to an offline HTML page with a header and a code toggle."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="mlw", extra_template_basedirs=[str(TEMPLATES)])
    mlw = {
        "header": header,
        "show_code": show_code,
        "css": (TEMPLATES / "report.css").read_text(encoding="utf-8"),
        "js": (TEMPLATES / "report.js").read_text(encoding="utf-8"),
    }
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.pop("widgets", None)  # no widget renderer offline: outputs fall back to their text summary
    body, _ = exporter.from_notebook_node(nb, resources={"mlw": mlw})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def write_index(
    target: Path, info: RunInfo, stages: list[StageReport], failure: str, summary: Summary | None = None,
    notice: Notice | None = None,
) -> None:
    """Write the run's index page: the summary, then headline figures, timings and a link per stage."""
    template = templates().get_template("run_index.html.j2")
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    page = template.render(
        info=info, stages=stages, failure=failure, css=css, summary=summary or Summary(),
        notice=notice.html() if notice else "",
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")


def mark_notice(index: Path, notice: Notice) -> bool:
    """Replace the notice of a run's index page (a run found interrupted later); False when it has none."""
    if not index.is_file():
        return False
    page = index.read_text(encoding="utf-8")
    marked = NOTICE.sub(lambda _match: notice.html(), page, count=1)
    if marked != page:
        index.write_text(marked, encoding="utf-8")
    return marked != page
