"""Stage pages and the index: header facts, code toggle, nothing loaded from the network."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlworkflow.records import (
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    RetrainRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.workflow import report
from tests import recordkit

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


def info() -> report.RunInfo:
    return report.RunInfo(
        "r-1", "params/x.yaml", "run:\n  name: r\n", "ab" * 32, "abc123", "today", {"pandas": "3"}
    )


def executed_notebook(path: Path) -> Path:
    cell = new_code_cell("print('hello')", execution_count=1)
    cell.outputs = [new_output("stream", name="stdout", text="hello\n")]
    nb = new_notebook(cells=[new_markdown_cell("# Title\n\n$x^2$ math"), cell])
    nbformat.write(nb, path)
    return path


def test_stage_page_is_offline_with_header_and_hidden_code(tmp_path: Path) -> None:
    header = report.stage_header(info(), "data", "target: y\n", "ok", "")
    target = tmp_path / "01_data.html"
    report.render_stage(executed_notebook(tmp_path / "n.ipynb"), target, header, show_code=False)
    page = target.read_text(encoding="utf-8")
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "<script src=" not in page
    assert 'class="jp-Notebook mlw-hide-code"' in page
    assert "mlw-toggle-code" in page and "stage <code>data</code>" in page
    assert "abababababababab" in page and "abc123" in page and "target: y" in page
    assert "hello" in page


def test_show_code_keeps_code_visible(tmp_path: Path) -> None:
    target = tmp_path / "p.html"
    report.render_stage(executed_notebook(tmp_path / "n.ipynb"), target, "", show_code=True)
    page = target.read_text(encoding="utf-8")
    assert 'class="jp-Notebook"' in page and "print" in page


def test_failed_header_shows_the_error() -> None:
    header = report.stage_header(info(), "data", "", "failed", "DataError: column 'y': constant")
    assert "mlw-status-failed" in header and "column &#39;y&#39;: constant" in header


def test_index_lists_stages_with_timings_and_failure(tmp_path: Path) -> None:
    stages = [
        report.StageReport("data", "ok", "01_data.html", {"rows": 10}, 1.25, 2.0, 0.5),
        report.StageReport("preprocess", "failed", "02_preprocess.html", {}, 0.0, 1.0, 0.25, "ValueError: x"),
    ]
    target = tmp_path / "index.html"
    report.write_index(target, info(), stages, "stage 'preprocess' failed")
    page = target.read_text(encoding="utf-8")
    assert 'href="01_data.html"' in page and "3.8 s" in page and "1.2 s" in page
    assert "stage &#39;preprocess&#39; failed" in page
    assert not EXTERNAL.search(page)


def ranked(family: str, status: str, **changes: Any) -> dict[str, Any]:
    """A line of select.json's ranking: the fixture's first, renamed."""
    return {**recordkit.content(SelectRecord)["ranking"][0], "family": family, "status": status, **changes}


def test_summary_reads_the_stage_artifacts() -> None:
    artifacts = report.RunRecords(
        data=recordkit.record(DataRecord, source="/x/adult.csv.gz", rows=10, target="y", task="binary", positive_class="1"),
        train=recordkit.record(TrainRecord, family="random_forest"),
        evaluate=recordkit.record(
            EvaluateRecord,
            metric="roc_auc",
            why="ranking matters",
            threshold=0.4,
            threshold_rule="max_f1",
            metrics={
                "accuracy": {"value": 0.8, "low": 0.7, "high": 0.9},
                "roc_auc": {"value": 0.9, "low": 0.85, "high": 0.95},
            },
            baseline={"roc_auc": {"value": 0.5, "low": 0.5, "high": 0.5}},
            groups=[
                {"column": "sex", "group": "F", "n": 50, "flag": "recall -0.2"},
                {"column": "race", "group": "O", "n": 5, "flag": "n < 30: too few rows to judge"},
                {"column": "sex", "group": "M", "n": 50, "flag": ""},
            ],
        ),
        select=recordkit.record(
            SelectRecord,
            ranking=[ranked("rf", "ok", score=0.9, score_std=0.01, significant=False), ranked("nb", "failed")],
        ),
    )
    summary = report.summarize(artifacts)
    assert summary.data["source"] == "adult.csv.gz"
    assert summary.decision["model"] == "random_forest" and summary.decision["why"] == "ranking matters"
    assert summary.performance[0] == {
        "metric": "roc_auc",
        "model": "0.900 [0.850, 0.950]",
        "baseline": "0.500 [0.500, 0.500]",
        "decides": True,
    }
    assert summary.performance[1]["baseline"] == "–"
    assert [g["group"] for g in summary.groups] == ["F"]
    assert [r["family"] for r in summary.selection] == ["rf"]
    assert report.summarize(report.RunRecords()) == report.Summary()
    monitor = recordkit.record(MonitorRecord, verdict="RETRAIN", reasons=["15 of 19 features drifted."])
    watched = report.summarize(report.RunRecords(monitor=monitor))
    assert watched.monitoring == {"verdict": "RETRAIN", "reasons": ["15 of 19 features drifted."]}


def test_index_shows_the_monitoring_verdict(tmp_path: Path) -> None:
    summary = report.summarize(report.RunRecords(
        data=recordkit.record(DataRecord, source="x.csv", rows=3),
        monitor=recordkit.record(MonitorRecord, verdict="WARN", reasons=["a.", "b."]),
    ))
    report.write_index(tmp_path / "index.html", info(), [], "", summary)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Monitoring verdict: WARN" in page and "mlw-verdict-warn" in page and "<br>b." in page


def test_index_links_the_retrain_gate(tmp_path: Path) -> None:
    summary = report.summarize(report.RunRecords(
        data=recordkit.record(DataRecord, source="x.csv"),
        retrain=recordkit.record(RetrainRecord, passed=True, decision="Promoted."),
    ))
    assert summary.retrain == {"decision": "Promoted.", "passed": True}
    report.write_index(tmp_path / "index.html", info(), [], "", summary)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Retrain gate: passed." in page and 'href="retrain.html"' in page
