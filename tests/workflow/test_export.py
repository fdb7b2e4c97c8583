"""The single-file export: every page of a run in one offline document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlworkflow.errors import MlwError
from mlworkflow.records import DataRecord, EvaluateRecord
from mlworkflow.views.summary import RunRecords
from mlworkflow.workflow import export, report
from tests import recordkit
from tests.workflow.test_report import EXTERNAL, executed_notebook, info


def report_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "reports" / "r-1"
    notebook = executed_notebook(tmp_path / "n.ipynb")
    for name in ("01_data", "02_preprocess"):
        header = report.stage_header(info(), name[3:], "", "ok", "")
        report.render_stage(notebook, folder / f"{name}.html", header, show_code=False)
    stages = [report.StageReport("data", "ok", "01_data.html", {}, 1.0, 1.0, 1.0)]
    report.write_index(folder / "index.html", info(), stages, "")
    return folder


def test_single_file_holds_every_page_once_offline(tmp_path: Path) -> None:
    page = export.single_file(report_folder(tmp_path), "r-1")
    assert page.count('<section class="mlw-page"') == 3
    assert [f'id="page-{n}"' in page for n in ("index", "01_data", "02_preprocess")] == [True] * 3
    assert 'href="#page-01_data"' in page and 'href="01_data.html"' not in page
    assert 'href="#page-index"' in page  # the stage header's link back to the summary
    assert page.count("<script>") == 1 and 'id="mlw-toggle-code"' not in page
    one_stage = (tmp_path / "reports" / "r-1" / "01_data.html").read_text(encoding="utf-8")
    assert page.count("jp-OutputArea-output {") == one_stage.count("jp-OutputArea-output {"), "notebook CSS once"
    assert not EXTERNAL.search(page)
    assert 'class="jp-Notebook mlw-hide-code"' in page


def test_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MlwError, match=r"run report not found: .*index.html"):
        export.single_file(tmp_path / "nope", "x")


def test_a_foreign_page_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><body>hi</body></html>", encoding="utf-8")
    with pytest.raises(MlwError, match="not an mlworkflow report page"):
        export.single_file(tmp_path, "x")


def test_the_summary_comes_first_then_contents_whose_links_all_resolve(tmp_path: Path) -> None:
    folder = report_folder(tmp_path)
    summary = report.summarize(RunRecords(data=recordkit.record(DataRecord), evaluate=recordkit.record(EvaluateRecord)))
    report.write_index(folder / "index.html", info(), [], "", summary)
    page = export.single_file(folder, "r-1")
    executive, toc = page.index('id="index-mlw-executive"'), page.index('<nav class="mlw-toc"')
    assert page.index('id="page-index"') < executive < toc < page.index('id="page-01_data"')
    assert toc < page.index('id="index-mlw-summary"'), "the contents come before the key figures and the stage list"
    assert page.count('<a href="#contents">↑ Contents</a>') == 3 and '<nav class="mlw-toc" id="contents"' in page
    assert "Recommendation: HOLD." in page[executive:toc]
    listed = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', page[toc:page.index("</nav>", toc)])
    assert [text for _, text in listed] == ["Summary", "Title", "Title"]  # each page's title (the test notebook's)
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    assert [target for target in re.findall(r'href="#([^"]+)"', page) if target not in ids] == []
    assert len(ids) == len(re.findall(r'\bid="([^"]+)"', page)), "pages joined into one file keep distinct ids"


def test_a_summary_without_an_executive_part_keeps_the_contents_after_it() -> None:
    assert export.summary_then_contents("<p>summary</p>", "<nav>toc</nav>") == "<p>summary</p><nav>toc</nav>"


def test_each_stage_is_folded_under_its_title_and_the_summary_stays_open(tmp_path: Path) -> None:
    page = export.single_file(report_folder(tmp_path), "r-1")
    assert page.count('<details class="mlw-stage">') == 2  # the two stage pages, each opened by a link into it
    summary = page[page.index('id="page-index"'):page.index('id="page-01_data"')]
    assert '<details class="mlw-stage">' not in summary
    stage = page[page.index('id="page-01_data"'):]
    assert stage.index('<details class="mlw-stage"><summary>Title <span class="mlw-stage-hint">') < stage.index("<h1")
    assert 'addEventListener("beforeprint"' in page  # printing opens every stage
