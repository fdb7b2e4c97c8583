"""One self-contained HTML file per run: the summary and every stage page, to mail or attach."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlworkflow.config import TEMPLATES
from mlworkflow.errors import MlwError
from mlworkflow.layout import INDEX_PAGE, REPORTS

STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)
MAIN = re.compile(r"<main>(.*)</main>", re.S)
SCRIPT = re.compile(r"<script>.*?</script>", re.S)
PAGE_LINK = re.compile(r'href="(index|\d\d_\w+)\.html"')


@dataclass(frozen=True)
class Page:
    """One page of a run's report folder: its name, styles and main content."""

    name: str
    styles: tuple[str, ...]
    body: str


def read_page(path: Path) -> Page:
    """Split a report page into its style blocks and the content of its <main>."""
    text = path.read_text(encoding="utf-8")
    found = MAIN.search(text)
    if found is None:
        raise MlwError(f"{path}: not an mlworkflow report page (no <main> element)")
    body = SCRIPT.sub("", found.group(1)).replace(' id="mlw-toggle-code"', "")
    return Page(path.stem, tuple(STYLE.findall(text.split("</head>")[0])), body)


def link_within(body: str) -> str:
    """Point links between pages at sections of the single file."""
    return PAGE_LINK.sub(lambda m: f'href="#page-{m.group(1)}"', body)


def report_pages(folder: Path) -> list[Path]:
    """The run's pages in reading order: the summary, then the stages."""
    index = folder / INDEX_PAGE
    if not index.is_file():
        raise MlwError(f"run report not found: {index} (is the run id right? see {REPORTS}/{INDEX_PAGE})")
    return [index, *sorted(folder.glob("[0-9][0-9]_*.html"))]


def single_file(folder: Path, title: str) -> str:
    """The whole run as one HTML document; images are already inline, nothing loads from the network."""
    pages = [read_page(path) for path in report_pages(folder)]
    styles = dict.fromkeys(style for page in pages for style in page.styles)  # ordered, no duplicates
    sections = "\n".join(
        f'<section class="mlw-page" id="page-{page.name}">{link_within(page.body)}</section>'
        for page in pages
    )
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    head = '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">'
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n<title>{title}</title>\n{"".join(styles)}\n'
        f'</head>\n<body class="jp-Notebook mlw-hide-code" data-jp-theme-light="true">\n<main>\n{sections}\n'
        f"</main>\n<script>\n{script}</script>\n</body>\n</html>\n"
    )
