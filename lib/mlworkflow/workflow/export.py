"""One self-contained HTML file per run: the summary, a table of contents, then every stage page, to mail or attach."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from mlworkflow.config import TEMPLATES
from mlworkflow.errors import MlwError
from mlworkflow.layout import INDEX_PAGE, REPORTS
from mlworkflow.workflow import pages

STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)
MAIN = re.compile(r"<main>(.*)</main>", re.S)
SCRIPT = re.compile(r"<script>.*?</script>", re.S)
PAGE_LINK = re.compile(r'href="(index|\d\d_\w+)\.html"')
EXECUTIVE_END = re.compile(r'(<section class="mlw-executive" id="index-mlw-executive">.*?</section>)', re.S)
CONTENTS_ID = "contents"
BACK = f'<p class="mlw-to-contents"><a href="#{CONTENTS_ID}">↑ Contents</a></p>'


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


def folded(page: Page, body: str) -> str:
    """A stage page folded under its title, so the file opens short (report.js opens it when a link points into it,
    and every page before printing); the summary stays open."""
    if page.name == "index":
        return body
    title = f'{html.escape(page_title(page))} <span class="mlw-stage-hint">(click to open)</span>'
    return f'<details class="mlw-stage"><summary>{title}</summary>{body}</details>'


def section(page: Page) -> str:
    """A page as a section of the single file: its ids prefixed with its name (pages repeat ids), links within, a
    stage folded under its title, and a link back to the contents at its end."""
    body = link_within(pages.scoped(page.body, page.name))
    return f'<section class="mlw-page" id="page-{page.name}">{folded(page, body)}{BACK}</section>'


def page_title(page: Page) -> str:
    """What the contents call a page: its first titled heading, else its name."""
    found = pages.headings(page.body, (1,))
    return found[0].text if found else page.name


def contents(sections: list[Page]) -> str:
    """The file's table of contents: each page (the summary first), with its sections under it — but the summary's:
    the contents sit inside it, beside its own "On this page" links."""
    entries: list[pages.Heading] = []
    for page in sections:
        title = "Summary" if page.name == "index" else page_title(page)
        entries.append(pages.Heading(1, f"page-{page.name}", title))
        if page.name != "index":
            entries += [pages.Heading(2, f"{page.name}-{h.anchor}", h.text) for h in pages.headings(page.body, (2,))]
    return pages.toc_html(entries).replace('<nav class="mlw-toc"', f'<nav class="mlw-toc" id="{CONTENTS_ID}"', 1)


def summary_then_contents(summary: str, toc: str) -> str:
    """The summary page with the contents right after its executive summary (else at its end): a reader sees the
    recommendation, then where everything is, before the key figures and the stage list."""
    placed, found = EXECUTIVE_END.subn(lambda m: m.group(1) + toc, summary, count=1)
    return placed if found else summary + toc


def report_pages(folder: Path) -> list[Path]:
    """The run's pages in reading order: the summary, then the stages."""
    index = folder / INDEX_PAGE
    if not index.is_file():
        raise MlwError(f"run report not found: {index} (is the run id right? see {REPORTS}/{INDEX_PAGE})")
    return [index, *sorted(folder.glob("[0-9][0-9]_*.html"))]


def single_file(folder: Path, title: str) -> str:
    """The whole run as one HTML document; images are already inline, nothing loads from the network."""
    found = [read_page(path) for path in report_pages(folder)]
    styles = dict.fromkeys(style for page in found for style in page.styles)  # ordered, no duplicates
    sections = "\n".join([summary_then_contents(section(found[0]), contents(found)), *(section(page) for page in found[1:])])
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    head = '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">'
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n<title>{title}</title>\n{"".join(styles)}\n'
        f'</head>\n<body class="jp-Notebook mlw-hide-code" data-jp-theme-light="true">\n<main>\n{sections}\n'
        f"</main>\n<script>\n{script}</script>\n</body>\n</html>\n"
    )
