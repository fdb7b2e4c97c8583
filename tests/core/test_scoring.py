"""Scoring: scores aligned with the target, every metric against scikit-learn, weights as repeated rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC

from mlworkflow.core import metrics, scoring
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError

BINARY = Target("y", "binary", ("no", "yes"), "yes")
MULTI = Target("y", "multiclass", ("a", "b", "c"), None)
REGRESSION = Target("y", "regression", (), None)


def binary_scored(n: int = 300, seed: int = 0, threshold: float = 0.5) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n).astype(float)
    scores = np.round(np.clip(0.35 * truth + 0.65 * rng.random(n), 0, 1), 2)  # rounded: ties on purpose
    predicted = (scores >= threshold).astype(float)
    return Scored("binary", ("no", "yes"), truth, scores, predicted, True, threshold)


def multiclass_scored(n: int = 300, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n).astype(float)
    proba = rng.random((n, 3))
    proba[np.arange(n), truth.astype(int)] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    return Scored("multiclass", ("a", "b", "c"), truth, proba, proba.argmax(axis=1).astype(float), True, None)


def regression_scored(n: int = 300, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    truth = rng.normal(100.0, 10.0, n)
    predicted = truth + rng.normal(0.0, 4.0, n)
    return Scored("regression", (), truth, predicted, predicted, False, None)


def classifier_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """x decides the label, noise and colour do not."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n)})
    y = pd.Series(np.where(x + 0.3 * rng.normal(size=n) > 0.4, "yes", "no"), name="y")
    return frame, y


def pipeline(estimator: object) -> Pipeline:
    columns = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough"
    )
    return Pipeline([("preprocess", columns), ("model", estimator)])


# --- metrics against scikit-learn ------------------------------------------------------------------------


def test_binary_metrics_match_sklearn() -> None:
    s = binary_scored()
    y, p, label = s.truth, s.scores, s.predicted
    expected = {
        "accuracy": skm.accuracy_score(y, label), "balanced_accuracy": skm.balanced_accuracy_score(y, label),
        "precision": skm.precision_score(y, label), "recall": skm.recall_score(y, label),
        "f1": skm.f1_score(y, label), "roc_auc": skm.roc_auc_score(y, p),
        "average_precision": skm.average_precision_score(y, p), "log_loss": skm.log_loss(y, p),
        "brier": skm.brier_score_loss(y, p),
    }
    got = scoring.point_metrics(s)
    assert list(got) == list(metrics.evaluated("binary"))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_multiclass_metrics_match_sklearn() -> None:
    s = multiclass_scored()
    y, p, label = s.truth, s.scores, s.predicted
    expected = {
        "accuracy": skm.accuracy_score(y, label), "balanced_accuracy": skm.balanced_accuracy_score(y, label),
        "roc_auc_ovr": skm.roc_auc_score(y, p, multi_class="ovr"),
        "roc_auc_ovr_weighted": skm.roc_auc_score(y, p, multi_class="ovr", average="weighted"),
        "average_precision_macro": skm.average_precision_score(y, p),
        "average_precision_weighted": skm.average_precision_score(y, p, average="weighted"),
        "log_loss": skm.log_loss(y, p), "brier": skm.brier_score_loss(y, p),
    }
    for name, scorer in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        for average in ("macro", "weighted"):
            expected[f"{name}_{average}"] = scorer(y, label, average=average)
    got = scoring.point_metrics(s)
    assert set(got) == set(expected) == set(metrics.evaluated("multiclass"))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_regression_metrics_match_sklearn() -> None:
    s = regression_scored()
    got = scoring.point_metrics(s)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(s.truth, s.predicted))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(s.truth, s.predicted))
    assert got["r2"] == pytest.approx(skm.r2_score(s.truth, s.predicted))


@pytest.mark.parametrize("make", [binary_scored, multiclass_scored, regression_scored])
def test_weights_equal_repeating_rows(make: Callable[..., Scored]) -> None:
    s = make(n=60)
    counts = np.random.default_rng(1).integers(0, 4, s.n_rows)
    counts[0] = 1
    repeated = Scored(s.task, s.labels, np.repeat(s.truth, counts, axis=0), np.repeat(s.scores, counts, axis=0),
                      np.repeat(s.predicted, counts, axis=0), s.probabilistic, s.threshold)
    weighted = scoring.metric_values(s, counts[None, :].astype(float))
    for name, value in scoring.point_metrics(repeated).items():
        assert weighted[name][0] == pytest.approx(value, abs=1e-12), name


def test_margins_give_no_probability_metrics() -> None:
    s = binary_scored()
    margins = Scored("binary", s.labels, s.truth, s.scores - 0.5, s.predicted, False, 0.0)
    got = scoring.point_metrics(margins)
    assert "log_loss" not in got and "brier" not in got
    assert got["roc_auc"] == pytest.approx(scoring.point_metrics(s)["roc_auc"])


# --- scores from estimators ------------------------------------------------------------------------------


def test_score_aligns_the_positive_class() -> None:
    X, y = classifier_frame()
    model = pipeline(LogisticRegression()).fit(X, y)
    flipped = Target("y", "binary", ("no", "yes"), "no")  # positive is the model's first class
    s, f = scoring.score(model, X, y, BINARY), scoring.score(model, X, y, flipped)
    assert np.allclose(s.scores + f.scores, 1.0)
    assert scoring.point_metrics(s)["roc_auc"] == pytest.approx(scoring.point_metrics(f)["roc_auc"])
    assert s.labels == ("no", "yes") and f.labels == ("yes", "no")


def test_score_uses_margins_without_predict_proba() -> None:
    X, y = classifier_frame()
    model = pipeline(LinearSVC()).fit(X, y)
    s = scoring.score(model, X, y, BINARY)
    assert not s.probabilistic and s.threshold == 0.0
    assert np.array_equal(s.predicted == 1, model.predict(X) == "yes")


def test_unknown_label_and_missing_target_name_the_column() -> None:
    with pytest.raises(DataError, match=r"column 'y'.*\['maybe'\]"):
        scoring.encode_target(pd.Series(["yes", "maybe"]), BINARY)
    with pytest.raises(DataError, match="column 'y': target column not in the frame"):
        scoring.split_xy(pd.DataFrame({"x": [1]}), BINARY)


def test_from_scores_encodes_labels_and_applies_the_threshold() -> None:
    scored = scoring.from_scores(np.array([0.2, 0.7, 0.5]), pd.Series(["no", "yes", "no"]), BINARY, True, 0.6)
    assert list(scored.truth) == [0.0, 1.0, 0.0] and list(scored.predicted) == [0.0, 1.0, 0.0]
    assert list(scoring.predict_labels(np.array([0.2, 0.5]), "binary", None)) == [0.0, 1.0], "0.5 by default"


def test_subset_and_baseline() -> None:
    s = binary_scored(n=10)
    mask = np.arange(10) < 4
    assert scoring.subset(s, mask).n_rows == 4
    X, y = classifier_frame()
    assert scoring.fit_baseline(X, y, BINARY).predict_proba(X)[:, 1] == pytest.approx((y == "yes").mean())
