"""Human names of core/names.py: every family and scorer has one, sentences lose their keys, unset settings read."""

from __future__ import annotations

import pytest
from sklearn.metrics import get_scorer_names

from mlworkflow.core import families, metrics, names


def test_every_family_of_the_catalogue_has_a_name_of_its_table() -> None:
    for family in families.FAMILIES:
        assert names.family_label(family) == names.FAMILIES[family]
        assert "_" not in names.family_label(family)


def test_every_key_of_every_catalogue_metric_reads_without_underscores() -> None:
    for metric in metrics.CATALOGUE:
        for key in (metric.name, metric.display, metric.scorer):
            if key is not None:
                assert "_" not in names.metric_label(key) and names.metric_label(key)[0].isupper(), key
                assert names.is_metric(key)


def test_every_scorer_scikit_learn_knows_reads_as_a_name() -> None:
    for scorer in get_scorer_names():
        label = names.metric_label(scorer)
        assert "_" not in label and "neg" not in label.lower().split() and label[0].isupper(), scorer


@pytest.mark.parametrize(("key", "expected"), [
    ("roc_auc", "ROC AUC"), ("neg_log_loss", "Log loss"), ("log_loss", "Log loss"), ("f1_macro", "F1 (macro average)"),
    ("roc_auc_ovr_weighted", "ROC AUC (one vs rest, weighted)"), ("roc_auc_ovo", "ROC AUC (one vs one)"),
    ("balanced_accuracy", "Balanced accuracy"), ("rmse", "Root mean squared error"),
    ("neg_root_mean_squared_error", "Root mean squared error"), ("r2", "R²"), ("brier", "Brier score"),
    ("neg_brier_score", "Brier score"), ("d2_absolute_error_score", "D² absolute error"),
    ("neg_mean_poisson_deviance", "Mean Poisson deviance"), ("jaccard_weighted", "Jaccard index (weighted average)"),
    ("selection_rate", "Selection rate"), ("adjusted_rand_score", "Adjusted Rand index"),
])
def test_metric_names_follow_the_rule_and_its_exceptions(key: str, expected: str) -> None:
    assert names.metric_label(key) == expected


def test_keys_no_table_names_stay_readable() -> None:
    assert names.family_label("new_family") == "New family"
    assert names.metric_label("max_leaf_nodes") == "Max leaf nodes"
    assert names.metric_label("") == "" and names.family_label("") == ""


def test_a_sentence_names_families_and_metrics_in_human_names() -> None:
    text = "`roc_auc` decides; random_forest, hist_gradient_boosting and knn were compared on neg_log_loss and f1."
    assert names.in_words(text) == ("ROC AUC decides; Random forest, Gradient boosting (histogram) and Nearest "
                                    "neighbours were compared on Log loss and F1.")


@pytest.mark.parametrize("text", [
    "accuracy and precision stay English words", "the logistic curve", "/runs/roc_auc/x.csv", "max_f1 rule",
    "model__max_depth=3", "random_forest_2 is not a family",
])
def test_words_and_keys_inside_other_names_are_left_alone(text: str) -> None:
    assert names.in_words(text) == text


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("max_depth", None, "no limit"), ("model__max_leaf_nodes", None, "no limit"), ("max_features", "None", "no limit"),
    ("class_weight", None, "none"), ("max_depth", 8, 8), ("C", 0.5, 0.5), ("criterion", "gini", "gini"),
])
def test_an_unset_hyperparameter_is_said_by_a_rule(name: str, value: object, expected: object) -> None:
    assert names.setting(name, value) == expected


def test_tuning_is_said_in_words_with_the_search_by_name() -> None:
    assert names.tuning_words("optuna", 9) == "9 settings tried by Bayesian search (Optuna, TPE sampler)"
    assert names.tuning_words("grid", 1) == "1 setting tried by grid search"
