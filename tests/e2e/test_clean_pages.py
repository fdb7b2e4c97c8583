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


CELL_LOOK = """() => [...document.querySelectorAll('.mlw-table table:not([id^="T_"])')]
    .flatMap(t => [...t.querySelectorAll('tbody td, tbody th')])
    .map(c => [c.tagName, c.classList.contains('mlw-prose'), getComputedStyle(c).textAlign, getComputedStyle(c).whiteSpace,
               c.textContent.trim()])"""
BESIDE = """() => [...document.querySelectorAll('.mlw-explore-static img')]
    .filter(img => !img.parentElement.classList.contains('mlw-explore-static'))  // the cross is a plot alone
    .map(img => {
    const table = img.parentElement.querySelector('table');
    return table === null ? null : table.getBoundingClientRect().left >= img.getBoundingClientRect().right;
})"""
DTYPES = {"int64", "float64", "object", "str", "bool", "category", "datetime64[ns]"}


def test_sentences_and_row_labels_read_left_aligned_and_short_cells_do_not_break(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, _ = watched
    prose = short = 0
    for report in stage_pages(smoke_reports):
        page.goto(report.as_uri())
        for tag, is_prose, align, wrap, text in page.evaluate(CELL_LOOK):
            if tag == "TH" or is_prose:
                assert align == "left", (report.name, tag, text)
            else:
                assert wrap == "nowrap", (report.name, text)  # '0.906 ± 0.013' never splits over two lines
            prose += is_prose
            short += tag == "TD" and not is_prose
    assert prose and short, "no sentence cell or no short cell: the test proves nothing"
    page.goto((smoke_reports / "05_evaluate.html").as_uri())
    groups = page.evaluate("""() => [...document.querySelectorAll('table[id^="T_mlw-groups"] td')].map(c =>
        [getComputedStyle(c).whiteSpace, c.textContent])""")
    assert groups and all(wrap == "normal" for wrap, _ in groups), "the group table wraps, so its verdicts stay in view"
    assert all(", " not in text for _, text in groups), "an interval never breaks inside its brackets"


def test_the_data_page_says_what_columns_hold_and_explores_beside_its_tables(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, _ = watched
    page.goto((smoke_reports / "01_data.html").as_uri())
    headers = page.evaluate("() => [...document.querySelectorAll('.mlw-table thead th')].map(h => h.textContent.trim())")
    cells = page.evaluate("() => [...document.querySelectorAll('.mlw-table td')].map(c => c.textContent.trim())")
    assert "holds" in headers and "whole number" in cells
    assert "dtype" not in headers and DTYPES.isdisjoint(cells), "a dtype is not what a reader reads"
    beside = page.evaluate(BESIDE)
    assert beside and all(beside), "each explored column's plot has its table beside it"


def test_plots_are_carried_as_small_palette_pngs(smoke_reports: Path) -> None:
    import base64
    import io
    import re

    from PIL import Image

    page = (smoke_reports / "01_data.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 8, "the data page's plots and its explorer's"
    modes = {Image.open(io.BytesIO(base64.b64decode(data))).mode for data in images}
    assert modes == {"P"}, "every plot is a palette PNG, a third of the bytes of an RGBA one"


def test_the_summary_page_says_where_its_parts_are(smoke_reports: Path, watched: tuple[Any, Page, PageWatch]) -> None:
    _, page, _ = watched
    page.goto((smoke_reports / "index.html").as_uri())
    links = page.evaluate("""() => [...document.querySelectorAll('#mlw-page-toc a')].map(a =>
        [a.textContent, document.getElementById(a.getAttribute('href').slice(1)) !== null])""")
    assert [text for text, _ in links] == ["Executive summary", "Key figures", "Stages", "Engineering details"]
    assert all(resolves for _, resolves in links)
