"""HTML reports: each executed stage notebook, and the run's index page; all offline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from mlworkflow.config import TEMPLATES

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

    @property
    def total_s(self) -> float:
        """Wall time of the stage."""
        return self.kernel_s + self.execute_s + self.render_s


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


def _interval(entry: Mapping[str, Any] | None) -> str:
    if not entry:
        return "–"
    return f"{entry['value']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


Artifact = Mapping[str, Any]


def _data_facts(data: Artifact) -> dict[str, Any]:
    facts = {
        k: data[k] for k in ("source", "rows", "target", "task", "positive_class") if data.get(k) is not None
    }
    if "://" not in str(facts.get("source", "://")):  # a file: its name; a database URL stays
        facts["source"] = Path(str(facts["source"])).name
    return facts


def _decision(train: Artifact, evaluate: Artifact) -> dict[str, Any]:
    pairs = (
        ("model", train.get("family")),
        ("metric", evaluate.get("metric")),
        ("why", evaluate.get("why")),
        ("threshold", evaluate.get("threshold")),
        ("threshold rule", evaluate.get("threshold_rule")),
    )
    return {k: v for k, v in pairs if v is not None}


def _performance(evaluate: Artifact) -> list[dict[str, Any]]:
    metrics, baseline, decided = (
        evaluate.get("metrics", {}),
        evaluate.get("baseline", {}),
        evaluate.get("metric"),
    )
    order = [decided, *sorted(m for m in metrics if m != decided)] if decided else sorted(metrics)
    return [
        {
            "metric": m,
            "model": _interval(metrics.get(m)),
            "baseline": _interval(baseline.get(m)),
            "decides": m == decided,
        }
        for m in order
        if m in metrics
    ]


def _flagged_groups(evaluate: Artifact) -> list[dict[str, Any]]:
    groups = [g for g in evaluate.get("groups", []) if g.get("flag") and g.get("group") != "(all)"]
    return [g for g in groups if not str(g["flag"]).startswith("n <")]  # too few rows to judge


def _selection(select: Artifact) -> list[dict[str, Any]]:
    ranking = [r for r in select.get("ranking", []) if r.get("status") == "ok"][:3]
    return [
        {
            "family": r["family"],
            "score": f"{r['score']:.4f} ± {r['score_std']:.4f}",
            "significantly worse": "yes" if r.get("significant") else "no",
        }
        for r in ranking
    ]


def summarize(artifacts: Mapping[str, Artifact]) -> Summary:
    """Build the summary from the stages' JSON artifacts (any of them may be missing)."""
    evaluate, monitor, gate = (artifacts.get(k, {}) for k in ("evaluate", "monitor", "retrain"))
    verdict = monitor.get("verdict")
    return Summary(
        data=_data_facts(artifacts.get("data", {})),
        decision=_decision(artifacts.get("train", {}), evaluate),
        performance=_performance(evaluate),
        groups=_flagged_groups(evaluate),
        selection=_selection(artifacts.get("select", {})),
        monitoring={"verdict": verdict, "reasons": list(monitor.get("reasons", []))} if verdict else {},
        retrain={"decision": gate.get("decision", ""), "passed": gate.get("passed")} if gate else {},
    )


def templates() -> jinja2.Environment:
    """The Jinja environment for mlworkflow's own page templates (autoescaped)."""
    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    return jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]))


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
    target: Path, info: RunInfo, stages: list[StageReport], failure: str, summary: Summary | None = None
) -> None:
    """Write the run's index page: the summary, then headline figures, timings and a link per stage."""
    template = templates().get_template("run_index.html.j2")
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    page = template.render(info=info, stages=stages, failure=failure, css=css, summary=summary or Summary())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
