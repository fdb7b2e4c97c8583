"""The smoke run's pages in headless Chromium read in human words: no raw family or metric key in any visible text
(headlines, sentences, tables, the model card, monitoring's reasons) and no hyperparameter cell reading 'None'."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlworkflow.core import families, names

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

# What a reader sees as words: rendered text (closed details and hidden code cells are not seen), without code
# that is an expression (a params example: keys as a user writes them); a lone key in code marks is still a key.
VISIBLE = """() => {
    document.querySelectorAll('code, pre').forEach(c => {
        if (!/^[a-z0-9_]+$/.test(c.textContent.trim())) { c.style.display = 'none'; }
    });
    return {
        text: document.body.innerText,
        cells: [...document.querySelectorAll('td')].filter(c => c.offsetParent !== null).map(c => c.innerText.trim()),
    };
}"""


def raw_keys() -> re.Pattern[str]:
    """Every family and metric key that is not an English word ('logistic', 'accuracy' are), as a word of its own
    (not inside a path or another name)."""
    keys = {key for key in {*families.FAMILIES, *names.metric_keys()} if "_" in key or key in names.BARE_KEYS}
    alternatives = "|".join(map(re.escape, sorted(keys, key=len, reverse=True)))
    return re.compile(rf"(?<![\w./=-])({alternatives})(?![\w/-])")


def pages(smoke_reports: Path) -> list[Path]:
    """The run's index and every stage page."""
    return [smoke_reports / "index.html", *sorted(smoke_reports.glob("[0-9][0-9]_*.html"))]


def test_the_raw_key_pattern_finds_keys_and_spares_words_and_paths() -> None:
    found = raw_keys().findall("roc_auc 0.9; chose random_forest and knn; log_loss. but runs/roc_auc_x/, Log loss "
                               "and a logistic regression")
    assert found == ["roc_auc", "random_forest", "knn", "log_loss"]


def test_no_page_shows_a_raw_family_or_metric_key_or_an_unset_none(
    smoke_reports: Path, watched: tuple[Any, Page, PageWatch]
) -> None:
    _, page, _ = watched
    pattern, found = raw_keys(), {}
    for report in pages(smoke_reports):
        page.goto(report.as_uri())
        seen = page.evaluate(VISIBLE)
        lines = [line for line in seen["text"].splitlines() if pattern.search(line)]
        nones = [cell for cell in seen["cells"] if cell == "None"]
        if lines or nones:
            found[report.name] = [*lines[:5], *nones[:3]]
    assert found == {}
