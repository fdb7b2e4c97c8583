"""Human names of model families, metrics and unset hyperparameters, for every sentence and table a reader sees.

Metric names follow a rule on the scorer key ('neg_' dropped, words capitalised, acronyms and averages spelt out:
'roc_auc_ovr_weighted' → 'ROC AUC (one vs rest, weighted)') with a small table of the names the rule gets wrong,
so every scorer scikit-learn knows reads as a name. Stages use this module; views use views/labels.py on top of it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from mlworkflow.core import metrics

FAMILIES: dict[str, str] = {
    "logistic": "Logistic regression",
    "decision_tree": "Decision tree",
    "random_forest": "Random forest",
    "hist_gradient_boosting": "Gradient boosting (histogram)",
    "svm": "Support vector machine",
    "knn": "Nearest neighbours",
    "naive_bayes": "Naive Bayes",
    "mlp": "Neural network (MLP)",
    "lightgbm": "LightGBM",
    "ensemble": "Ensemble",
    "baseline": "Baseline",
    "dummy": "Baseline",
}
SEARCHES: dict[str, str] = {
    "grid": "grid search",
    "random": "random search",
    "halving": "successive halving (HalvingRandomSearchCV)",
    "optuna": "Bayesian search (Optuna, TPE sampler)",
}
# The names the rule would get wrong: short forms, and names whose words are not the key's.
METRIC_EXCEPTIONS: dict[str, str] = {
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "brier": "Brier score",
    "brier_score": "Brier score",
    "d2_brier_score": "D² Brier score",
    "matthews_corrcoef": "Matthews correlation",
    "jaccard": "Jaccard index",
    "top_k_accuracy": "Top-k accuracy",
    "v_measure_score": "V-measure",
    "rand_score": "Rand index",
    "adjusted_rand_score": "Adjusted Rand index",
    "fowlkes_mallows_score": "Fowlkes–Mallows index",
}
# Words the rule writes otherwise than capitalised: acronyms, symbols, proper names.
WORDS: dict[str, str] = {
    "roc": "ROC", "auc": "AUC", "f1": "F1", "r2": "R²", "d2": "D²", "ks": "KS", "psi": "PSI", "brier": "Brier",
    "poisson": "Poisson", "tweedie": "Tweedie", "info": "information",
}
AVERAGES: dict[str, str] = {"macro": "macro", "weighted": "weighted", "micro": "micro", "samples": "per-sample"}
STRATEGIES: dict[str, str] = {"ovr": "one vs rest", "ovo": "one vs one"}
# Fairness and monitoring terms that sit beside the metrics in tables and sentences.
TERMS: tuple[str, ...] = ("selection_rate", "base_rate", "selection_gap")
# Keys a sentence may name without an underscore that are not English words (so replacing them never hits prose).
BARE_KEYS: frozenset[str] = frozenset({"f1", "r2", "rmse", "mae", "brier", "knn", "svm", "mlp", "lightgbm"})
THRESHOLD_RULES: dict[str, str] = {  # evaluate.threshold_rule's values
    "max_f1": "the threshold with the highest F1", "cost": "the threshold with the lowest cost of errors",
    "min_precision": "the highest recall at the minimum precision asked for",
}
UNLIMITED_PREFIX = "max_"  # a max_… hyperparameter left as None sets no limit (max_depth, max_features, max_leaf_nodes)


def readable(key: str) -> str:
    """A key no catalogue names, made readable: 'max_leaf_nodes' → 'Max leaf nodes'."""
    text = " ".join(str(key).replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:]


def family_label(key: str) -> str:
    """The name a reader knows a model family by: 'hist_gradient_boosting' → 'Gradient boosting (histogram)'."""
    name = str(key)
    return FAMILIES.get(name) or FAMILIES.get(name.lower()) or readable(name)


def _qualifiers(words: list[str]) -> tuple[list[str], str]:
    """The key's words without its trailing average and multiclass strategy, and those said in words."""
    average = AVERAGES.get(words[-1]) if len(words) > 1 else None
    words = words[:-1] if average else words
    strategy = STRATEGIES.get(words[-1]) if len(words) > 1 else None
    words = words[:-1] if strategy else words
    if strategy:
        return words, f" ({strategy}{f', {average}' if average else ''})"
    return words, f" ({average} average)" if average else ""


def metric_label(key: str) -> str:
    """The name a reader knows a metric by: 'roc_auc' → 'ROC AUC', 'f1_macro' → 'F1 (macro average)'."""
    name = str(key).removeprefix("neg_")
    if name in METRIC_EXCEPTIONS:
        return METRIC_EXCEPTIONS[name]
    words, said = _qualifiers(name.replace("-", "_").split("_")) if name else ([], "")
    base = "_".join(words)
    if base in METRIC_EXCEPTIONS:
        return METRIC_EXCEPTIONS[base] + said
    if len(words) > 1 and words[-1] == "score":  # 'd2_absolute_error_score': the word adds nothing to the name
        words = words[:-1]
    text = " ".join(WORDS.get(word, word) for word in words if word)
    return text[:1].upper() + text[1:] + said


@cache
def metric_keys() -> frozenset[str]:
    """Every key a metric goes by in the catalogue (name, scorer, display name), and the fairness terms."""
    keys = {key for m in metrics.CATALOGUE for key in (m.name, m.display, m.scorer) if key}
    return frozenset({*keys, *METRIC_EXCEPTIONS, *TERMS})


def is_metric(key: str) -> bool:
    """Whether `key` is a metric key of the catalogue (or a fairness term)."""
    return key in metric_keys()


def is_family(key: str) -> bool:
    """Whether `key` is a model family's key."""
    return key in FAMILIES


def label(key: str) -> str:
    """A family's or metric's human name; any other key as it is."""
    return family_label(key) if is_family(key) else metric_label(key) if is_metric(key) else key


@cache
def _key_pattern() -> re.Pattern[str]:
    """Family and metric keys as they appear in a sentence (optionally in backticks), longest first."""
    keys = [k for k in {*FAMILIES, *metric_keys()} if "_" in k or k in BARE_KEYS]
    alternatives = "|".join(map(re.escape, sorted(keys, key=len, reverse=True)))
    return re.compile(rf"`?(?<![\w.=/-])({alternatives})(?![\w/-])`?")


def in_words(text: str) -> str:
    """A sentence with the family and metric keys it names in human names ('`roc_auc` decides' → 'ROC AUC decides');
    English words that are also keys ('accuracy', 'logistic') and keys inside other words are left as written."""
    return _key_pattern().sub(lambda found: label(found.group(1)), text)


def threshold_rule_label(rule: str) -> str:
    """How a decision threshold was chosen, in words: 'max_f1' → 'the threshold with the highest F1'."""
    return THRESHOLD_RULES.get(rule) or readable(rule).lower()


def unset(name: str) -> str:
    """What a hyperparameter left as None means: 'no limit' for a max_… bound, else 'none'."""
    return "no limit" if name.rpartition("__")[2].startswith(UNLIMITED_PREFIX) else "none"


def setting(name: str, value: Any) -> Any:
    """A hyperparameter's value for a table or sentence: None said in words (`unset`), others as they are."""
    return unset(name) if value is None or (isinstance(value, str) and value == "None") else value


def tuning_words(search: str, settings: int) -> str:
    """How a family was tuned, in words: '9 settings tried by Bayesian search (Optuna, TPE sampler)'."""
    return f"{settings} setting{'s' if settings != 1 else ''} tried by {SEARCHES.get(search, search)}"
