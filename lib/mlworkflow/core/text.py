"""Free-text columns as features: TF-IDF of word (and character) n-grams, sparse or reduced to dense.

Linear models and SVMs take the sparse TF-IDF matrix itself (`sparse_block`: words, and character
n-grams within words when asked); every other family gets the words' TF-IDF reduced by truncated
SVD to a few dense components (`dense_block`, skrub's `StringEncoder`, which also handles missing
values and vocabularies smaller than the components asked for). A block gets one 1-D column, as a
vectorizer wants one string per row. `as_documents` is recorded by
name inside saved models, so `mlworkflow.core.text.as_documents` is part of the bundle format.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

NgramRange = tuple[int, int]
SVD_SEED = 0  # truncated SVD is randomised: a fixed seed makes the same data give the same components
BLOCK_PREFIX = "text"

# Types skops does not trust by default that the text blocks hold (a saved model records them).
TRUSTED_TYPES: tuple[str, ...] = (
    "mlworkflow.core.text.as_documents", "mlworkflow.core.text.TfidfTerms", "mlworkflow.core.text.StringComponents",
    "skrub._string_encoder.StringEncoder", "skrub._to_str.ToStr",
)


def plain_vocabulary(vectorizer: Any) -> None:
    """Give a fitted vectorizer's vocabulary Python int indices (the same mapping); no-op without a vocabulary.

    scikit-learn maps terms to numpy integers, which skops stores as one numpy scalar node each: a
    33,000-term model of 960 messages took minutes to save. Python ints are plain JSON to skops
    (benchmarks/text_model.py measures the ratio); the transform is unchanged.
    """
    fitted: dict[str, Any] | None = vars(vectorizer).get("vocabulary_")  # set by the untyped base class's fit
    if fitted is not None:
        vectorizer.vocabulary_ = {term: int(index) for term, index in fitted.items()}


class TfidfTerms(TfidfVectorizer):  # type: ignore[misc]
    """scikit-learn's TfidfVectorizer whose fitted vocabulary has Python int indices (`plain_vocabulary`)."""

    def fit(self, raw_documents: Any, y: Any = None) -> TfidfTerms:
        """Learn the vocabulary and idf, as TfidfVectorizer does."""
        super().fit(raw_documents, y)
        plain_vocabulary(self)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        """Learn the vocabulary and idf and return the TF-IDF matrix, as TfidfVectorizer does."""
        matrix = super().fit_transform(raw_documents, y)
        plain_vocabulary(self)
        return matrix


def as_documents(values: Any) -> npt.NDArray[np.object_]:
    """One string per row: missing values become '' (a vectorizer refuses NaN)."""
    series = pd.Series(np.asarray(values, dtype=object).ravel())
    return np.asarray(series.where(series.notna(), "").astype(str), dtype=object)


def analyzers(words: NgramRange, chars: NgramRange | None) -> list[tuple[str, str, NgramRange]]:
    """(name, scikit-learn analyzer, n-gram range) of each vectorizer a text column gets."""
    found = [("words", "word", words)]
    return found + ([("chars", "char_wb", chars)] if chars is not None else [])


def sparse_block(analyzer: str, ngrams: NgramRange, max_features: int) -> Pipeline:
    """Missing as '', then TF-IDF of the n-grams (sublinear counts), the `max_features` most frequent kept."""
    vectorizer = TfidfTerms(
        analyzer=analyzer, ngram_range=ngrams, max_features=max_features, sublinear_tf=True, dtype=np.float64,
    )
    return Pipeline([("documents", FunctionTransformer(as_documents, feature_names_out="one-to-one")),
                     ("tfidf", vectorizer)])


@functools.cache
def string_components() -> type:
    """skrub's StringEncoder whose fitted TF-IDF vocabulary has Python int indices (`plain_vocabulary`).

    Defined on first use: importing skrub costs a second, and only the dense text blocks need it.
    """
    from skrub import StringEncoder

    def fit_transform(self: Any, column: Any, y: Any = None) -> Any:
        """Fit skrub's StringEncoder and return its components."""
        components = StringEncoder.fit_transform(self, column, y)
        plain_vocabulary(self.vectorizer_)  # a HashingVectorizer pipeline has none
        return components

    return type("StringComponents", (StringEncoder,), {"__module__": __name__, "fit_transform": fit_transform,
                                                        "__doc__": string_components.__doc__})


def __getattr__(name: str) -> Any:
    """`StringComponents`, made on first use (PEP 562), so a saved model can name it and skops can load it."""
    if name == "StringComponents":
        return string_components()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dense_block(analyzer: str, ngrams: NgramRange, components: int) -> Any:
    """TF-IDF of the n-grams reduced by truncated SVD to `components` dense columns (skrub's StringEncoder)."""
    return string_components()(n_components=components, ngram_range=ngrams, analyzer=analyzer, random_state=SVD_SEED)


def blocks(
    columns: Sequence[str], words: NgramRange, chars: NgramRange | None, max_features: int, components: int | None
) -> list[tuple[str, Any, str]]:
    """ColumnTransformer entries for the text columns: sparse TF-IDF, or dense components when `components` is set."""
    if components is not None:  # one block per column: the components' names are the column's
        return [(f"{BLOCK_PREFIX}_words_{column}", dense_block("word", words, components), column) for column in columns]
    return [
        (f"{BLOCK_PREFIX}_{name}_{column}", sparse_block(analyzer, ngrams, max_features), column)  # 1-D input
        for column in columns for name, analyzer, ngrams in analyzers(words, chars)
    ]


# --- what a linear model learned from the words ---------------------------------------------------


def term_names(preprocessor: Any) -> list[str] | None:
    """The fitted ColumnTransformer's output names when it has sparse TF-IDF blocks (None otherwise)."""
    fitted = getattr(preprocessor, "transformers_", [])
    if not any(isinstance(t, Pipeline) and "tfidf" in t.named_steps for _, t, _ in fitted):
        return None
    return [str(name) for name in preprocessor.get_feature_names_out()]


def telling_terms(pipeline: Any, classes: Sequence[str], top: int = 10) -> pd.DataFrame:
    """The terms with the largest weights towards each class of a fitted linear model on sparse TF-IDF.

    One row per (class, term): its weight. Binary models have one weight vector, for the second class;
    its most negative terms speak for the first. Empty when the model has no text terms or no `coef_`.
    """
    columns = ["class", "term", "column", "weight"]
    if not hasattr(pipeline, "steps"):  # an ensemble (core.ensemble): its members weigh words differently
        return pd.DataFrame(columns=columns)
    steps = dict(pipeline.steps)
    names = term_names(steps.get("preprocess"))
    coef = getattr(pipeline.steps[-1][1], "coef_", None)
    if names is None or coef is None:
        return pd.DataFrame(columns=columns)
    weights = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if weights.shape[1] != len(names):  # a step between (feature selection) changed the columns
        return pd.DataFrame(columns=columns)
    if weights.shape[0] == 1 and len(classes) == 2:
        weights = np.vstack([-weights[0], weights[0]])
    rows = []
    is_term = np.array([name.startswith(f"{BLOCK_PREFIX}_") for name in names])
    for label, row in zip(classes, weights, strict=False):
        order = [i for i in np.argsort(-row, kind="stable") if is_term[i]][:top]
        rows += [term_row(str(label), names[i], float(row[i])) for i in order]
    return pd.DataFrame(rows, columns=columns)


def term_row(label: str, name: str, weight: float) -> dict[str, Any]:
    """One row of `telling_terms`: 'text_words_review__great' → column 'review', term 'great'."""
    block, term = name.split("__", 1)
    column = block.split("_", 2)[2]
    return {"class": label, "term": term, "column": column, "weight": round(weight, 4)}
