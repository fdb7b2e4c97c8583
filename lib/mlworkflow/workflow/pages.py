"""What a rendered page shows beyond its notebook: no stderr or progress bars, and a table of contents.

The executed notebook keeps every output (the console showed the progress live); the page drops what is
written for the console. `PagePreprocessor` is registered in the nbconvert template's conf.json.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# tqdm's bar ("45%|████▌ | 9/20"), its rate ("2.3it/s", "1.5s/trial") and ipywidgets' progress models
PROGRESS = re.compile(r"\d+%\|.*\||\d+(?:\.\d+)?(?:it|s|trial)/(?:s|it|trial)\b|[█▏▎▍▌▋▊▉]|FloatProgress|IntProgress")
HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
TAG = re.compile(r"<[^>]+>")
ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.S)
ID = re.compile(r'\bid="([^"]+)"')
LOCAL_HREF = re.compile(r'\bhref="#([^"]+)"')
WIDGET = "application/vnd.jupyter.widget-view+json"
# an absolute local path (two parts at least), not part of a URL or of a longer path
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+-]+/)+[\w.@+-]+")
MIN_ENTRIES = 3  # a page with fewer sections needs no table of contents


@dataclass(frozen=True)
class Heading:
    """One heading of a page: its level, its element id and its text."""

    level: int
    anchor: str
    text: str


def is_progress(output: Any) -> bool:
    """True for an output written for the console: a stderr stream, or a progress bar in any form."""
    if output.get("output_type") == "stream":
        return bool(output.get("name") == "stderr" or PROGRESS.search(str(output.get("text", ""))))
    data = output.get("data", {})
    return WIDGET in data and bool(PROGRESS.search(str(data.get("text/plain", ""))))


def short_path(found: re.Match[str]) -> str:
    """An absolute path as a page shows it: relative to the working folder under it, else its last two parts."""
    path = Path(found.group(0))
    if path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return "…/" + "/".join(path.parts[-2:])


def short_paths(text: str) -> str:
    """`text` without absolute local paths (a page is read elsewhere; where the run sat on disk is no news)."""
    return ABSOLUTE.sub(short_path, text)


def page_outputs(outputs: Iterable[Any]) -> list[Any]:
    """A cell's outputs as its page shows them (console-only outputs dropped)."""
    return [output for output in outputs if not is_progress(output)]


def heading_text(inner: str) -> str:
    """A heading's text without its tags and its '¶' anchor link."""
    return html.unescape(TAG.sub("", ANCHOR_LINK.sub("", inner))).strip()


def headings(page: str, levels: Sequence[int] = (2,)) -> list[Heading]:
    """The headings of these levels in rendered HTML, in order (each with the id nbconvert gave it)."""
    found = (Heading(int(level), anchor, heading_text(inner)) for level, anchor, inner in HEADING.findall(page))
    return [heading for heading in found if heading.level in levels]


def cell_headings(cells: Iterable[Any], levels: Sequence[int] = (2,)) -> list[Heading]:
    """The headings of a notebook's markdown cells, with the ids their rendering gives them."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    sources = (cell.source for cell in cells if cell.cell_type == "markdown")
    return [heading for source in sources for heading in headings(markdown2html_mistune(source), levels)]


def toc_html(found: Sequence[Heading], title: str = "Contents") -> str:
    """A table of contents nested by level ('' for a page of fewer than MIN_ENTRIES headings)."""
    if len(found) < MIN_ENTRIES:
        return ""
    top = min(heading.level for heading in found)
    items = []
    for heading in found:
        link = f'<a href="#{html.escape(heading.anchor)}">{html.escape(heading.text)}</a>'
        items.append(f'<li class="mlw-toc-{heading.level - top + 1}">{link}</li>')
    return f'<nav class="mlw-toc" aria-label="{title}"><h2>{title}</h2><ul>{"".join(items)}</ul></nav>'


def scoped(body: str, prefix: str) -> str:
    """A page's ids and its links within itself prefixed, so pages joined into one file keep distinct anchors."""
    body = ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    return LOCAL_HREF.sub(lambda m: f'href="#{prefix}-{m.group(1)}"', body)


def title_cell(cells: Sequence[Any]) -> int:
    """The index of the cell holding the page's title (its first level-1 heading), or -1 when none does."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    for number, cell in enumerate(cells):
        if cell.cell_type == "markdown" and headings(markdown2html_mistune(cell.source), (1,)):
            return number
    return -1


def preprocess_page(nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Clean every code cell's outputs; list the notebook's second-level headings after its title."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = page_outputs(cell.outputs)
            cell.source = short_paths(cell.source)
    if contents := toc_html(cell_headings(nb.cells)):
        nb.cells.insert(title_cell(nb.cells) + 1, nbformat.v4.new_markdown_cell(contents))
    if "mlw" in resources:  # the header's params
        resources["mlw"]["header"] = short_paths(resources["mlw"]["header"])
    return nb, resources


@functools.cache
def page_preprocessor() -> type:
    """The nbconvert preprocessor that drops console-only outputs, shortens local paths in code and the header and
    puts the contents under the title — made on first use: importing nbconvert costs a second, and the text helpers
    above (the run index's, a re-run that reuses every stage) need none of it."""
    from nbconvert.preprocessors import Preprocessor

    def preprocess(self: Any, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return preprocess_page(nb, resources)

    return type("PagePreprocessor", (Preprocessor,), {"preprocess": preprocess, "__module__": __name__,
                                                      "__doc__": page_preprocessor.__doc__})


def __getattr__(name: str) -> Any:
    """`PagePreprocessor`, made on first use (PEP 562), as the nbconvert template's conf.json names it."""
    if name == "PagePreprocessor":
        return page_preprocessor()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
