"""Human names and number formats of views/labels.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlworkflow.core import families, metrics
from mlworkflow.views import labels


def test_every_family_of_the_catalogue_has_a_human_name() -> None:
    for name in families.FAMILIES:
        assert labels.family_label(name) in labels.FAMILIES.values()
    assert labels.family_label("hist_gradient_boosting") == "Gradient boosting (histogram)"


def test_every_metric_of_the_catalogue_reads_without_underscores() -> None:
    for metric in metrics.CATALOGUE:
        for key in (metric.name, metric.display):
            assert "_" not in labels.metric_label(key), key
    assert labels.metric_label("roc_auc") == "ROC AUC"
    assert labels.metric_label("f1_macro") == "F1 (macro average)"
    assert labels.metric_label("neg_log_loss") == "Log loss"


@pytest.mark.parametrize(("key", "expected"), [("max_leaf_nodes", "Max leaf nodes"), ("new-family", "New family"),
                                                ("", "")])
def test_unknown_keys_fall_back_to_a_readable_form(key: str, expected: str) -> None:
    assert labels.family_label(key) == expected
    assert labels.metric_label(key) == expected


@pytest.mark.parametrize(("share", "digits", "expected"), [(0.0564, 1, "5.6%"), (1.0, 0, "100%"), (0.12345, 2, "12.35%"),
                                                           (None, 1, "—"), (math.nan, 1, "—"), (pd.NA, 1, "—")])
def test_percent(share: object, digits: int, expected: str) -> None:
    assert labels.percent(share, digits) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (12345, "12,345"), (np.int64(7), "7"), (3.0, "3"), (1234.56, "1,235"), (123.456, "123.5"), (12.345, "12.3"),
    (0.93312, "0.933"), (0.99987, "1.000"), (1.5, "1.5"), (0.5, "0.500"), (0.0564, "0.0564"), (0.00123, "0.00123"), (0.0, "0"), (-2.5, "-2.5"), (True, "yes"), (np.False_, "no"),
    (None, "—"), (math.nan, "—"), (pd.NA, "—"), (math.inf, "∞"),
])
def test_number_rounds_to_what_the_value_means(value: object, expected: str) -> None:
    assert labels.number(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (1.0, "1.000"), (np.float64(1.0), "1.000"), (1, "1.000"), (0.99987, "1.000"), (0.5, "0.500"), (-0.0001, "0.000"),
    (-0.25, "-0.250"), (12.3456, "12.346"), (1234.5, "1,234"), (None, "—"), (math.nan, "—"), (math.inf, "∞"),
])
def test_score_keeps_three_decimals_where_number_would_write_a_count(value: object, expected: str) -> None:
    assert labels.score(value) == expected
    assert labels.number(1.0) == "1"  # a count or a cost weight stays '1'


@pytest.mark.parametrize(("dtype", "expected"), [
    ("int64", "whole number"), (np.dtype("uint8"), "whole number"), ("float32", "number"), ("object", "text"),
    ("str", "text"), ("string", "text"), ("bool", "yes/no"), ("datetime64[ns]", "date and time"),
    ("category", "category"), ("Int64", "whole number"), ("period[M]", "Period[M]"),
])
def test_kind_label_says_what_a_column_holds(dtype: object, expected: str) -> None:
    assert labels.kind_label(dtype) == expected
