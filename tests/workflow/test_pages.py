"""Rendered pages: console-only outputs dropped, a table of contents whose links resolve, scoped anchors."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlworkflow.workflow import pages, report

BAR = "\rrandom_forest (optuna):  50%|██████████████              | 4/8 [00:09<00:08,  2.24s/trial]"
SECTIONS = "".join(f"\n## Part {n}\ntext\n" for n in range(1, 4))


def stream(name: str, text: str) -> nbformat.NotebookNode:
    return new_output("stream", name=name, text=text)


def test_stderr_and_progress_bars_are_console_only_and_the_rest_stays() -> None:
    outputs = [stream("stderr", "warning\n"), stream("stdout", BAR), stream("stdout", "fitted 3 folds\n"),
               new_output("display_data", data={pages.WIDGET: {}, "text/plain": "HBox(children=(FloatProgress(value=0.0"}),
               new_output("display_data", data={pages.WIDGET: {}, "text/plain": "Threshold slider at 0.41"}),
               new_output("execute_result", data={"text/plain": "42"}, execution_count=1)]
    kept = pages.page_outputs(outputs)
    assert [o.get("text") or o["data"]["text/plain"] for o in kept] == ["fitted 3 folds\n", "Threshold slider at 0.41", "42"]


def test_headings_carry_the_ids_nbconvert_gives_them() -> None:
    cells = [new_markdown_cell("# Title\nintro"), new_markdown_cell("## What `it` does\n### Detail"),
             new_code_cell("## not a heading")]
    assert pages.cell_headings(cells) == [pages.Heading(2, "What-it-does", "What it does")]
    assert [h.anchor for h in pages.cell_headings(cells, (1, 3))] == ["Title", "Detail"]


def test_a_short_page_has_no_table_of_contents() -> None:
    assert pages.toc_html(pages.cell_headings([new_markdown_cell("## One\n## Two")])) == ""


def test_the_table_of_contents_nests_and_escapes() -> None:
    found = [pages.Heading(1, "run", "Run"), pages.Heading(2, "a&b", "A & B"), pages.Heading(2, "c", "C")]
    toc = pages.toc_html(found)
    assert '<li class="mlw-toc-1"><a href="#run">Run</a></li>' in toc
    assert '<li class="mlw-toc-2"><a href="#a&amp;b">A &amp; B</a></li>' in toc


def test_scoped_prefixes_ids_and_links_within_the_page_only() -> None:
    body = '<h2 id="Save">Save</h2><a href="#Save">¶</a><a href="02_preprocess.html">next</a>'
    assert pages.scoped(body, "01_data") == (
        '<h2 id="01_data-Save">Save</h2><a href="#01_data-Save">¶</a><a href="02_preprocess.html">next</a>'
    )


def test_a_rendered_stage_page_has_its_contents_under_the_title_and_no_progress(tmp_path: Path) -> None:
    cells = [new_markdown_cell("# Train the model\nwhy"), new_markdown_cell(SECTIONS),
             new_code_cell("tune()", outputs=[stream("stderr", BAR), stream("stdout", "done\n")])]
    notebook = tmp_path / "04_train.ipynb"
    nbformat.write(new_notebook(cells=cells), notebook)
    report.render_stage(notebook, tmp_path / "04_train.html", "<header>run</header>", show_code=False)
    page = (tmp_path / "04_train.html").read_text(encoding="utf-8")
    assert "trial/s" not in page and "█" not in page and "done" in page
    links = re.findall(r'<li class="mlw-toc-1"><a href="#([^"]+)"', page)
    assert links == ["Part-1", "Part-2", "Part-3"]
    assert all(f'id="{anchor}"' in page for anchor in links)
    assert page.index('id="Train-the-model"') < page.index('class="mlw-toc"') < page.index('id="Part-1"')


def test_local_paths_are_shortened_and_urls_are_left_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    text = f'path = "{tmp_path}/data/adult.csv"\nartifacts: /srv/root/runs/smoke-1/artifacts\nurl = "http://host/a/b"'
    assert pages.short_paths(text) == 'path = "data/adult.csv"\nartifacts: …/smoke-1/artifacts\nurl = "http://host/a/b"'


def test_a_rendered_page_shows_no_absolute_path_in_its_code_or_header(tmp_path: Path) -> None:
    cells = [new_code_cell('artifacts = "/srv/root/runs/smoke-1/artifacts"')]
    notebook = tmp_path / "01_data.ipynb"
    nbformat.write(new_notebook(cells=cells), notebook)
    report.render_stage(notebook, tmp_path / "01_data.html", "<pre>path: /srv/root/data/a.csv</pre>", show_code=True)
    page = (tmp_path / "01_data.html").read_text(encoding="utf-8")
    assert "/srv/root" not in page and "…/data/a.csv" in page and "…/smoke-1/artifacts" in page
