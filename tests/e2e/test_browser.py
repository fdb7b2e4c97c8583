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
    assert toggle_steps(page) == [("Show code", {False}), ("Hide code", {True}), ("Show code", {False})]
    assert watch.problems() == {}
