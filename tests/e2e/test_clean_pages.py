"""The smoke run's pages in headless Chromium as a reader sees them: no progress bars or NaN cells, contents whose
links resolve, links that look like links, wide tables that scroll inside their box."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

PROGRESS = r"/\d+%\||\d(?:it|s)\/(?:s|it|trial)\b|█/"
LEFTOVERS = f"""() => {{
    const text = document.body.textContent;
    const bars = text.match({PROGRESS}g) || [];
    const cells = [...document.querySelectorAll('td')].map(c => c.textContent.trim())
        .filter(t => /^(nan|NaN|<NA>|NaT)$/.test(t));
    return {{bars, cells}};
}}"""
TOC = """() => [...document.querySelectorAll('.mlw-toc a')].map(a => {
    const anchor = a.getAttribute('href').slice(1);
    const target = document.getElementById(anchor) || document.getElementById(decodeURIComponent(anchor));
    return [anchor, target !== null && target.tagName.startsWith('H')];
})"""
LINK_LOOK = """() => [...document.querySelectorAll('main a[href]:not(.anchor-link)')].slice(0, 20).map(a => {
    const style = getComputedStyle(a);
    return [a.textContent.trim(), style.color, style.textDecorationLine];
})"""
TABLE_BOXES = """() => [...document.querySelectorAll('.jp-OutputArea-output table')].map(t => {
    const box = t.closest('.mlw-table, .jp-OutputArea-output');
    return {overflow: getComputedStyle(box).overflowX, wide: t.scrollWidth > box.clientWidth + 1};
})"""
PAGE_WIDER = "() => document.documentElement.scrollWidth > window.innerWidth + 1"


def stage_pages(smoke_reports: Path) -> list[Path]:
    """The smoke run's stage pages, in order."""
    return sorted(smoke_reports.glob("[0-9][0-9]_*.html"))


def test_no_page_shows_progress_bars_or_raw_missing_values(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, _ = watched
    for report in [smoke_reports / "index.html", *stage_pages(smoke_reports)]:
        page.goto(report.as_uri())
        found = page.evaluate(LEFTOVERS)
        assert found == {"bars": [], "cells": []}, report.name


def test_long_pages_have_contents_whose_links_resolve_and_look_like_links(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, watch = watched
    for report in stage_pages(smoke_reports):
        page.goto(report.as_uri())
        links = page.evaluate(TOC)
        assert len(links) >= 3, f"{report.name}: no table of contents"
        assert [anchor for anchor, resolves in links if not resolves] == [], report.name
        for text, colour, decoration in page.evaluate(LINK_LOOK):
            assert colour not in ("rgb(0, 0, 0)", "rgba(0, 0, 0, 0.87)") and "underline" in decoration, (report.name, text)
    page.goto(stage_pages(smoke_reports)[0].as_uri())
    first = page.locator(".mlw-toc a").nth(1)
    anchor = str(first.get_attribute("href"))
    first.click()
    assert page.evaluate("() => location.hash") == anchor
    assert watch.problems() == {}


def test_wide_tables_scroll_inside_their_box_and_the_page_does_not(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, _ = watched
    page.set_viewport_size({"width": 760, "height": 900})  # a laptop's half screen: the data sample is wider
    wide = 0
    for report in stage_pages(smoke_reports):
        page.goto(report.as_uri())
        boxes = page.evaluate(TABLE_BOXES)
        assert all(box["overflow"] == "auto" for box in boxes), report.name
        wide += sum(box["wide"] for box in boxes)
        assert not page.evaluate(PAGE_WIDER), f"{report.name}: the page itself scrolls sideways"
    assert wide >= 1, "no table was wider than its box: the test proves nothing at this width"
