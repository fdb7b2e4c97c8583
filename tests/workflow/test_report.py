"""Stage pages and the index: header facts, code toggle, nothing loaded from the network."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlworkflow.params import STAGES
from mlworkflow.records import (
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    RetrainRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views.summary import RunRecords
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
    artifacts = RunRecords(
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
    assert report.summarize(RunRecords()) == report.Summary()
    monitor = recordkit.record(MonitorRecord, verdict="RETRAIN", reasons=["15 of 19 features drifted."])
    watched = report.summarize(RunRecords(monitor=monitor))
    assert watched.monitoring == {"verdict": "RETRAIN", "reasons": ["15 of 19 features drifted."]}


def test_index_shows_the_monitoring_verdict(tmp_path: Path) -> None:
    summary = report.summarize(RunRecords(
        data=recordkit.record(DataRecord, source="x.csv", rows=3),
        monitor=recordkit.record(MonitorRecord, verdict="WARN", reasons=["a.", "b."]),
    ))
    report.write_index(tmp_path / "index.html", info(), [], "", summary)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Monitoring verdict: WARN" in page and "mlw-verdict-warn" in page and "<br>b." in page


def test_index_links_the_retrain_gate(tmp_path: Path) -> None:
    summary = report.summarize(RunRecords(
        data=recordkit.record(DataRecord, source="x.csv"),
        retrain=recordkit.record(RetrainRecord, passed=True, decision="Promoted."),
    ))
    assert summary.retrain == {"decision": "Promoted.", "passed": True}
    report.write_index(tmp_path / "index.html", info(), [], "", summary)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Retrain gate: passed." in page and 'href="retrain.html"' in page


def evaluated_run() -> RunRecords:
    """A smoke run's records (tests/fixtures/records): data at an absolute path, an evaluation, monitoring."""
    from mlworkflow.records import PreprocessRecord

    return RunRecords(
        data=recordkit.record(DataRecord), preprocess=recordkit.record(PreprocessRecord),
        select=recordkit.record(SelectRecord), train=recordkit.record(TrainRecord),
        evaluate=recordkit.record(EvaluateRecord), monitor=recordkit.record(MonitorRecord),
    )


def test_index_leads_with_the_executive_summary_and_keeps_engineering_detail_below(tmp_path: Path) -> None:
    stages = [report.StageReport("train", "ok", "04_train.html", {"model": "hist_gradient_boosting", "cv roc_auc": 0.91},
                                 1.25, 2.0, 0.5)]
    run_info = report.RunInfo("r-1", "/home/me/project/params/x.yaml", "data:\n  path: /home/me/project/data/a.csv\n",
                              "ab" * 32, "abc123", "today", {"pandas": "3"})
    report.write_index(tmp_path / "index.html", run_info, stages, "", report.summarize(evaluated_run()))
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<h1 class=\"mlw-title\">Predicting whether income is &gt;50K</h1>" in page
    executive, details = page.index('id="mlw-executive"'), page.index('id="mlw-details"')
    assert executive < page.index('id="mlw-summary"') < page.index('id="mlw-stage-list"') < details
    assert "<strong>Recommendation: HOLD.</strong>" in page  # the fixture flags groups by sex
    assert "Of every 1,000 rows it flags as &gt;50K, about 720 are" in page
    assert "ROC AUC was measured 3 ways" in page and "the test figure is the one to quote" in page
    assert page.index("kernel start") > details and page.index("3.8 s") > details  # timings only in the details
    assert "<dd>Gradient boosting (histogram)</dd>" in page and "<dt>cv ROC AUC</dt>" in page
    assert "`" not in page and "ROC AUC decides because" in page and "roc_auc" not in page
    assert "/home/me" not in page and "/srv/mlw" not in page and "path: …/data/a.csv" in page


def test_a_monitor_check_of_the_run_s_own_test_split_is_shown_as_a_baseline_check(tmp_path: Path) -> None:
    current = {**recordkit.content(MonitorRecord)["current"], "source": "the run's test split"}
    found = dataclasses.replace(evaluated_run(), monitor=recordkit.record(MonitorRecord, current=current))
    report.write_index(tmp_path / "index.html", info(), [], "", report.summarize(found))
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Baseline check: OK (on the run&#39;s own test split, not on new data)" in page
    assert "Monitoring verdict" not in page and 'class="mlw-verdict mlw-verdict-baseline"' in page


def test_paths_and_marks_a_reader_should_not_see() -> None:
    assert report.without_paths("read /tmp/x/runs/r-1/data.csv and C.csv, sqlite:///models/log.db") == (
        "read …/r-1/data.csv and C.csv, sqlite:///models/log.db"
    )
    assert str(report.code_marks("`roc_auc` <decides>")) == "<code>roc_auc</code> &lt;decides&gt;"
    assert report.readable_headline({"not significantly worse": "logistic, knn", "rows": 2000, "note": "a, b"}) == {
        "not significantly worse": "Logistic regression, Nearest neighbours", "rows": "2,000", "note": "a, b",
    }


def test_the_runs_list_marks_monitor_and_partial_runs() -> None:
    from mlworkflow.workflow.compare import RunRecord

    params = {"data": {"path": "/home/me/data/adult_train.csv.gz"}}
    monitor = recordkit.record(MonitorRecord, verdict="WARN")
    evaluate = recordkit.record(EvaluateRecord)
    runs = [
        RunRecord("watch", params, "ok", done=("monitor",), monitor=monitor),
        RunRecord("early", params, "ok", done=("data", "preprocess")),
        RunRecord("full", params, "ok", evaluate, done=STAGES, monitor=recordkit.record(MonitorRecord)),
        RunRecord("broken", {**params, "monitor": {"current": "/home/me/new.csv"}}, "failed", stages=("monitor",)),
    ]
    page = report.templates().get_template("runs_index.html.j2").render(records=runs)
    watch, early, full = (page.split(f'href="{r}/index.html"')[1].split("</tr>")[0] for r in ("watch", "early", "full"))
    assert "monitor run" in watch and "file adult_test.csv.gz" in watch and "adult_train" not in watch
    assert "Monitoring verdict: WARN" in watch and "adult-smoke@1" in watch
    assert "partial: 2 of 7 stages (data, preprocess)" in early and "adult_train.csv.gz" in early
    assert "partial" not in full and "monitor run" not in full and "ROC AUC 0.916 [0.882, 0.944] (test)" in full
    assert "Random forest" in full and "/home/me" not in page
    broken = page.split('href="broken/index.html"')[1].split("</tr>")[0]
    assert "monitor run" in broken and "file new.csv" in broken and "adult_train" not in broken


def test_a_retrain_run_is_listed_with_what_it_trained_on_not_as_partial() -> None:
    from mlworkflow.workflow.compare import RunRecord

    retrained = {"data": {"path": "/home/me/runs/r-1/retrain/data.parquet"}}
    shown = report.listed(retrained, "ok", ["data", "preprocess", "select", "train", "evaluate", "deploy"], None)
    assert shown == report.Listed("the old training data plus the new labelled rows", "retrain run")
    assert report._data_facts(recordkit.record(DataRecord, source=retrained["data"]["path"]))["source"] == shown.data
    page = report.templates().get_template("runs_index.html.j2").render(records=[RunRecord("r-1", retrained, "ok")])
    assert "data.parquet" not in page and "partial" not in page.split("<tbody>")[1]



def test_a_monitor_run_s_index_leads_with_its_verdict(tmp_path: Path) -> None:
    summary = report.summarize(RunRecords(monitor=recordkit.record(MonitorRecord, verdict="RETRAIN")))
    report.write_index(tmp_path / "index.html", info(), [], "", summary)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<h1 class=\"mlw-title\">Monitoring adult-smoke@1</h1>" in page and "No recommendation yet" not in page
    assert page.index("Monitoring verdict: RETRAIN") < page.index('id="mlw-stage-list"')
    action = page.split('id="mlw-recommendation"')[1].split("</p>")[0]
    assert "mlw-recommendation-retrain" in action and "<strong>Retrain.</strong>" in action
    assert "mlworkflow retrain --with" in action and page.index("Retrain.") < page.index("Monitoring verdict: RETRAIN")
