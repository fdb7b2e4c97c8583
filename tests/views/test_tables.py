"""Clean tables: no row-number index, '—' for missing, shares as %, rounding, wrapping, 'none' for empty."""

from __future__ import annotations

import re
from collections.abc import Iterator

import IPython
import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlworkflow.views import tables

CELL = re.compile(r"<t[dh](?:\s[^>]*)?>(.*?)</t[dh]>", re.S)


def cells(page: str) -> list[str]:
    """Every header and data cell's text, in order."""
    return [text.strip() for text in CELL.findall(page)]


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "family": ["hist_gradient_boosting", "knn"],
        "missing share": [0.0564, np.nan],
        "rows": [12345, 7],
        "score": [0.93312, 0.9],
        "note": ["set `folds` = 3", None],
    })


def test_a_row_number_index_is_hidden_and_missing_values_are_dashes() -> None:
    shown = cells(tables.html(frame()))
    assert shown[:5] == ["family", "missing share", "rows", "score", "note"]
    assert shown[5:10] == ["Gradient boosting (histogram)", "5.6%", "12,345", "0.933", "set <code>folds</code> = 3"]
    assert shown[10:] == ["Nearest neighbours", "—", "7", "0.900", "—"]
    assert not any(text.lower() == "nan" for text in shown)


def test_a_meaningful_index_is_kept_and_a_view_can_say_otherwise() -> None:
    named = frame().set_index("family")
    assert "Gradient boosting (histogram)" in cells(tables.html(named))
    assert "Gradient boosting (histogram)" not in cells(tables.html(tables.table(named, index=False)))
    assert "<th>0</th>" in tables.html(tables.table(frame(), index=True))


def test_index_labels_are_written_like_cells() -> None:
    data = pd.DataFrame({"rows": [1, 2]}, index=pd.Index([np.nan, 0.5], name="threshold"))
    assert cells(tables.html(data)) == ["", "rows", "threshold", "", "—", "1", "0.500", "2"]


def test_shares_are_the_columns_a_view_names_or_else_those_named_share() -> None:
    data = pd.DataFrame({"train share": [0.25], "rate": [0.5], "share of text": ["a"]})
    assert cells(tables.html(data))[3:] == ["25.0%", "0.500", "a"]
    marked = tables.table(data, percent=["rate"])
    assert cells(tables.html(marked))[3:] == ["0.250", "50.0%", "a"]
    assert isinstance(marked, pd.DataFrame) and marked["rate"].iloc[0] == 0.5  # the values stay as they are


def test_a_column_of_fractions_has_one_number_of_decimals() -> None:
    data = pd.DataFrame({"sd": [0.0035, 0.011, np.nan], "auc": [0.973, 1.0, 0.9], "n": [2.0, 3.0, 4.0]})
    assert cells(tables.html(data))[3:] == ["0.0035", "0.973", "2", "0.0110", "1.000", "3", "—", "0.900", "4"]


def test_a_share_column_outside_zero_to_one_is_a_number() -> None:
    assert cells(tables.html(pd.DataFrame({"share": [1.5, 2.0]})))[1:] == ["1.5", "2.0"]


def test_an_empty_table_is_the_word_none() -> None:
    assert tables.html(pd.DataFrame(columns=["a", "b"])) == tables.NONE
    assert tables.html(pd.Series(dtype=float)) == tables.NONE


def test_a_series_is_a_labelled_column_without_its_dtype() -> None:
    page = tables.html(pd.Series({"rows": 2000, "target": "income", "positive": None}, name="value"))
    assert cells(page) == ["", "value", "rows", "2,000", "target", "income", "positive", "—"]
    assert "dtype" not in page


def test_text_is_escaped_lists_are_joined_and_the_box_scrolls() -> None:
    page = tables.html(pd.DataFrame({"<b>": ["<i>x</i>"], "kept": [["a", "b"]], "ok": [True]}))
    assert cells(page) == ["&lt;b&gt;", "kept", "ok", "&lt;i&gt;x&lt;/i&gt;", "a, b", "yes"]
    assert page.startswith('<div class="mlw-table">') and page.endswith("</div>")


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    yield shell
    InteractiveShell.clear_instance()


def test_register_displays_every_frame_and_series_as_a_clean_table(shell: InteractiveShell) -> None:
    tables.register()
    shown, _ = shell.display_formatter.format(pd.DataFrame({"a": [np.nan]}))
    assert cells(shown["text/html"]) == ["a", "—"]
    shown, _ = shell.display_formatter.format(pd.Series({"a": 1}))
    assert cells(shown["text/html"]) == ["", "value", "a", "1"]


def test_register_outside_ipython_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    tables.register()  # no shell to register with: nothing to fail


def test_a_column_of_sentences_reads_left_aligned_and_whole() -> None:
    note = "not chosen: out-of-fold log-loss 2.81 is worse than the class prior's 0.55"
    page = tables.html(pd.DataFrame({"status": ["ok", "ok"], "note": [note, "short"]}))
    assert f'<td class="mlw-prose">{note}</td>' in page and '<td class="mlw-prose">short</td>' in page
    assert "<td>ok</td>" in page and "\x00" not in page


def test_family_and_metric_keys_read_as_their_human_names() -> None:
    data = pd.DataFrame({"cv roc_auc": [0.9], "chosen": ["random_forest, knn"], "note": ["random_forest won"]},
                        index=pd.Index(["log_loss"], name="metric"))
    assert cells(tables.html(data)) == [
        "", "cv ROC AUC", "chosen", "note", "metric", "", "", "",
        "Log loss", "0.900", "Random forest, Nearest neighbours", "Random forest won",
    ]


def test_a_styler_renders_by_the_same_rules_and_keeps_its_styles() -> None:
    data = pd.DataFrame({"family": ["random_forest", "knn"], "log_loss": [0.3, np.nan], "note": ["ok", None]})
    styler = data.style.set_uuid("t").apply(lambda _: pd.DataFrame("color: red", index=data.index, columns=data.columns),
                                            axis=None).set_caption("Caption.")
    page = tables.styled_html(styler)
    assert page.startswith('<div class="mlw-table">') and "color: red" in page and "Caption." in page
    assert cells(page) == ["family", "Log loss", "note", "Random forest", "0.300", "ok", "Nearest neighbours", "—", "—"]
    assert "nan" not in page.lower() and "None" not in page
    assert "random_forest" in styler.to_html()  # the view's Styler itself is left as it was
    assert tables.Styled(styler).to_html() == tables.Styled(styler)._repr_html_() == page
    assert tables.styled_html(pd.DataFrame().style) == tables.NONE


def test_register_displays_a_styler_as_a_clean_table(shell: InteractiveShell) -> None:
    tables.register()
    shown = shell.display_formatter.format(pd.DataFrame({"a": [1.0, np.nan]}).style)[0]["text/html"]
    assert cells(shown) == ["a", "1", "—"] and 'class="mlw-table"' in shown


def test_a_hyperparameter_left_unset_reads_in_words() -> None:
    trials = pd.DataFrame({"max_depth": ["None", 8], "class_weight": ["None", "balanced"]})
    assert cells(tables.html(trials)) == ["max_depth", "class_weight", "no limit", "none", "8", "balanced"]
    tuned = pd.Series({"max_leaf_nodes": "None", "criterion": "None"}, name="value")
    assert cells(tables.html(tuned)) == ["", "value", "max_leaf_nodes", "no limit", "criterion", "none"]
