"""The target description: from artifacts, class order, the decision threshold, the positive label."""

from __future__ import annotations

import pandas as pd
import pytest

from mlworkflow.core import metrics
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.target import (
    MARGIN_THRESHOLD,
    PROBABILITY_THRESHOLD,
    Target,
    positive_label,
    threshold_or_default,
)
from mlworkflow.errors import DataError


def test_target_from_the_feature_spec() -> None:
    spec = FeatureSpec.from_json({"target": "income", "task": "binary", "classes": ["<=50K", ">50K"],
                                  "positive_class": ">50K", "numeric": ["age"]})
    target = Target.from_spec(spec)
    assert target == Target("income", "binary", ("<=50K", ">50K"), ">50K")
    assert target.labels == ("<=50K", ">50K") and target.metrics == metrics.evaluated("binary")


def test_binary_target_without_positive_class_uses_the_last_class() -> None:
    assert Target("y", "binary", ("a", "b"), None).labels == ("a", "b")
    assert Target("y", "binary", ("a", "b"), "a").labels == ("b", "a")
    assert Target("y", "binary", ("no", "yes"), "maybe").labels == ("no", "yes"), "an unknown positive: the last"
    assert Target("y", "multiclass", ("c", "a", "b")).labels == ("c", "a", "b")


def test_an_unknown_task_is_a_data_error() -> None:
    """A Target comes from a validated feature spec, whose task is one of the three."""
    with pytest.raises(DataError, match=r"preprocess.json: not a valid feature spec: task: Input should be 'binary', 'multiclass' or 'regression'"):
        FeatureSpec.from_json({"target": "y", "task": "ranking", "numeric": ["x"]})


def test_one_threshold_default_for_probabilities_and_margins() -> None:
    assert threshold_or_default("binary", None, True) == PROBABILITY_THRESHOLD == 0.5
    assert threshold_or_default("binary", None, False) == MARGIN_THRESHOLD == 0.0
    assert threshold_or_default("binary", 0.3, True) == 0.3
    assert threshold_or_default("multiclass", 0.3, True) is None
    assert threshold_or_default("regression", None, False) is None


def test_positive_label_matches_by_text_and_keeps_the_label_type() -> None:
    assert positive_label(pd.Series([0, 1, 1], name="t"), "binary", "1") == 1
    assert positive_label(pd.Series(["no", "yes"], name="t"), "binary", None) == "yes"
    assert positive_label(pd.Series(["a", "b", "c"], name="t"), "multiclass", None) is None
    with pytest.raises(DataError, match="positive class '2'") as caught:
        positive_label(pd.Series([0, 1, 1], name="t"), "binary", "2")
    assert caught.value.column == "t"
