"""The HTML reports in a real browser: a smoke run's pages and the exported single file, in headless Chromium."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from mlworkflow.config import NOTEBOOKS
from mlworkflow.params import STAGES
from mlworkflow.workflow.cli import build_parser

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

INPUTS_VISIBLE = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea')]
    .map(e => e.checkVisibility({visibilityProperty: true, opacityProperty: true}))"""
BROKEN_IMAGES = """() => [...document.images]
    .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80))"""
OFFLINE_URL = re.compile(r"^(?:file:|data:|blob:|about:)")


def subcommands() -> set[str]:
    """The subcommands `mlworkflow` has now."""
    actions = build_parser()._actions
    return {name for a in actions if isinstance(a, argparse._SubParsersAction) for name in a.choices}


def stage_title(stage: str) -> str:
    """A stage notebook's H1 title, as its report shows it."""
    notebook = next(NOTEBOOKS.glob(f"[0-9][0-9]_{stage}.ipynb"))
    return str(nbformat.read(notebook, as_version=4).cells[0].source.splitlines()[0].lstrip("# ").strip())


def image_check(page: Page) -> tuple[int, list[str]]:
    """How many images the page has, and which of them did not render."""
    page.wait_for_load_state("load")
    count: int = page.evaluate("() => document.images.length")
    broken: list[str] = page.evaluate(BROKEN_IMAGES)
    return count, broken


def toggle_steps(page: Page) -> list[tuple[str, set[bool]]]:
    """The toggle button's label and the code inputs' visibility: at load, after one click, after two."""
    button = page.locator(".mlw-toggle-code").first

    def state() -> tuple[str, set[bool]]:
        visible: list[bool] = page.evaluate(INPUTS_VISIBLE)
        assert visible, f"{page.url}: no code cells found"
        return button.inner_text().strip(), set(visible)

    steps = [state()]
    for _ in range(2):
        button.click()
        steps.append(state())
    return steps


def test_every_report_page_loads_clean(smoke_reports: Path, watched: tuple[Any, Page, PageWatch]) -> None:
    _, page, watch = watched
    index = (smoke_reports / "index.html").as_uri()
    page.goto(index)
    images = {"index.html": image_check(page)}
    for stage in STAGES:
        page.goto(index)
        page.locator(f"a[href$='_{stage}.html']").first.click()
        page.wait_for_url(re.compile(rf"/\d\d_{stage}\.html$"), timeout=15_000)
        images[page.url.rsplit("/", 1)[-1]] = image_check(page)
        assert page.locator("h1", has_text=stage_title(stage)).count() == 1, f"{stage}: title missing"
    assert set(images) == {p.name for p in smoke_reports.glob("*.html")}, "the index must reach every page"
    assert watch.problems() == {}
    assert {name: broken for name, (_, broken) in images.items() if broken} == {}
    assert sum(count for count, _ in images.values()) >= 5, images  # the plots are there to be checked


def test_code_toggle_shows_and_hides_code(smoke_reports: Path, watched: tuple[Any, Page, PageWatch]) -> None:
    _, page, watch = watched
    for report in sorted(smoke_reports.glob("[0-9][0-9]_*.html")):
        page.goto(report.as_uri())
        steps = toggle_steps(page)
        assert steps == [("Show code", {False}), ("Hide code", {True}), ("Show code", {False})], report.name
    assert watch.problems() == {}


def test_screenshots_and_print(
    smoke_reports: Path,
    watched: tuple[Any, Page, PageWatch],
    tmp_path: Path,
    record_property: Any,
) -> None:
    _, page, watch = watched
    stage_page = next(smoke_reports.glob("[0-9][0-9]_evaluate.html"))
    for report in (smoke_reports / "index.html", stage_page):
        page.goto(report.as_uri())
        shot = tmp_path / f"{report.stem}.png"
        page.screenshot(path=shot, full_page=True)
        assert shot.stat().st_size > 20_000 and page.evaluate("document.body.scrollHeight") > 900
        record_property("screenshot", str(shot))
    page.emulate_media(media="print")
    assert page.locator(".mlw-toggle-code").first.is_hidden()
    pdf = tmp_path / f"{stage_page.stem}.pdf"
    page.pdf(path=pdf, format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes())) >= 2
    record_property("screenshot", str(pdf))
    assert watch.problems() == {}


@pytest.mark.skipif("export" not in subcommands(), reason="`mlworkflow export` is not a subcommand yet")
def test_exported_file_opens_offline(
    smoke_reports: Path,
    watched: tuple[BrowserContext, Page, PageWatch],
    tmp_path: Path,
    root: Path,
) -> None:
    context, page, watch = watched
    exported = tmp_path / "export" / "report.html"
    exported.parent.mkdir()
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "export", smoke_reports.name]
    command += ["--root", str(smoke_reports.parents[1]), "--output", str(exported)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in exported.parent.iterdir()] == ["report.html"], "one file, nothing beside it"

    def file_only(route: Route) -> None:
        if OFFLINE_URL.match(route.request.url):
            route.continue_()
            return
        watch.nonlocal_requests.append(route.request.url)
        route.abort("internetdisconnected")

    stage_images = 0
    for report in smoke_reports.glob("[0-9][0-9]_*.html"):
        page.goto(report.as_uri())
        stage_images += image_check(page)[0]
    context.set_offline(True)
    context.route("**/*", file_only)
    page.goto(exported.as_uri())
    count, broken = image_check(page)
    for stage in STAGES:
        assert page.locator("h1", has_text=stage_title(stage)).count() >= 1, f"{stage}: section missing"
    assert broken == [] and count >= stage_images > 0, (count, stage_images)
    page.get_by_role("button", name="Open every stage").click()  # the stages open folded; code shows in open ones
    assert toggle_steps(page) == [("Show code", {False}), ("Hide code", {True}), ("Show code", {False})]
    assert watch.problems() == {}


EXECUTIVE_SENTENCES = ("Recommendation:", "The model predicts whether income is >50K", "Of every 1,000 rows it flags as >50K",
                       "The checks behind the recommendation", "ROC AUC was measured", "the test figure is the one to quote")
UNRESOLVED_LINKS = """() => [...document.querySelectorAll('a[href^="#"]')]
    .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))"""


def export_smoke(smoke_reports: Path, folder: Path, root: Path) -> Path:
    """`mlworkflow export` of the smoke run into folder/report.html."""
    exported = folder / "report.html"
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "export", smoke_reports.name]
    command += ["--root", str(smoke_reports.parents[1]), "--output", str(exported)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return exported


def summary_text(page: Page, selector: str) -> str:
    """The executive summary's text; it must come before the stage list and keep the timings folded away."""
    summary = page.locator(selector)
    assert summary.count() == 1 and summary.is_visible(), f"{page.url}: no executive summary"
    return summary.inner_text()


def test_index_and_export_open_with_the_executive_summary(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch], tmp_path: Path, root: Path
) -> None:
    _, page, watch = watched
    page.goto((smoke_reports / "index.html").as_uri())
    text = summary_text(page, "#mlw-executive")
    assert [s for s in EXECUTIVE_SENTENCES if s not in text] == []
    top = page.locator("#mlw-executive").bounding_box()
    stages = page.locator("#mlw-stage-list").bounding_box()
    assert top is not None and stages is not None and top["y"] < stages["y"]
    assert page.locator("#mlw-timings").is_hidden(), "timings belong in the folded details"
    page.locator("#mlw-details > summary").click()
    assert page.locator("#mlw-timings").is_visible() and "kernel start" in page.locator("#mlw-timings").inner_text()
    page.goto(export_smoke(smoke_reports, tmp_path, root).as_uri())
    exported = summary_text(page, "#index-mlw-executive")
    assert [s for s in EXECUTIVE_SENTENCES if s not in exported] == []
    first = page.locator("section.mlw-page").first.get_attribute("id")
    assert first == "page-index" and page.locator("nav.mlw-toc").count() >= 1
    assert page.evaluate(UNRESOLVED_LINKS) == []
    assert watch.problems() == {}


FOLDED = "() => [...document.querySelectorAll('details.mlw-stage')].map(d => d.open)"
PAGE_HEIGHT = "() => document.documentElement.scrollHeight"


def test_the_export_opens_short_and_a_link_opens_the_stage_it_points_into(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch], tmp_path: Path, root: Path
) -> None:
    _, page, watch = watched
    heights = []
    for report in sorted(smoke_reports.glob("[0-9][0-9]_*.html")):
        page.goto(report.as_uri())
        heights.append(page.evaluate(PAGE_HEIGHT))
    page.goto(export_smoke(smoke_reports, tmp_path, root).as_uri())
    assert page.evaluate(FOLDED) == [False] * len(STAGES) == [False] * len(heights)
    folded = page.evaluate(PAGE_HEIGHT)
    assert folded < sum(heights) / 4, (folded, heights)  # the summary and one line per stage, not every page
    link = page.locator('nav#contents a[href^="#05_evaluate-"]').first
    target = str(link.get_attribute("href"))[1:]
    link.click()
    assert page.evaluate(FOLDED)[STAGES.index("evaluate")] and page.locator(f'[id="{target}"]').is_visible()
    assert sum(page.evaluate(FOLDED)) == 1, "only the stage linked into opens"
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate(FOLDED) == [True] * len(STAGES), "printing shows every stage"
    page.get_by_role("button", name="Fold every stage").click()
    assert page.evaluate(FOLDED) == [False] * len(STAGES)
    assert watch.problems() == {}


def test_no_page_shows_where_the_run_sits_on_disk(smoke_reports: Path, tmp_path: Path, root: Path) -> None:
    run_root = smoke_reports.parents[1]
    pages = [*smoke_reports.glob("*.html"), run_root / "reports" / "index.html", export_smoke(smoke_reports, tmp_path, root)]
    assert len(pages) >= 10
    for where in {str(run_root), str(run_root.resolve())}:
        assert [p.name for p in pages if where in p.read_text(encoding="utf-8")] == []
    assert "`" not in (smoke_reports / "index.html").read_text(encoding="utf-8")


def test_the_compare_page_shows_the_winner_and_the_difference_column(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch], tmp_path: Path, root: Path
) -> None:
    import shutil

    _, page, watch = watched
    runs = smoke_reports.parents[1] / "runs" / smoke_reports.name
    for name in ("first", "again"):  # the smoke run twice: the same test rows, so the difference is paired
        shutil.copytree(runs, tmp_path / "runs" / name, ignore=shutil.ignore_patterns("cache", "*.sqlite"))
    target = tmp_path / "compare.html"
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "compare", "first", "again", "--root", str(tmp_path)]
    done = subprocess.run([*command, "--output", str(target)], cwd=root, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    page.goto(target.as_uri())
    headers = page.locator("#mlw-metrics thead th").all_inner_texts()
    assert headers[-1] == "difference again − best (paired)", headers
    first_row = page.locator("#mlw-metrics tbody tr").first
    assert "(decides)" in first_row.inner_text() and first_row.locator("td.mlw-difference").count() == 1
    assert first_row.locator("td.mlw-difference").inner_text().startswith("0.000 [")  # the same model: no gap
    assert page.locator("#mlw-winner").inner_text().startswith("Best on ")
    assert page.locator("#mlw-rows-differ").count() == 0 and image_check(page)[1] == []
    assert watch.problems() == {}
