"""Text columns as features: TF-IDF blocks for every family, saved and loaded, and the terms a linear model weighs."""

from __future__ import annotations

import io
import warnings
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.model_selection import cross_val_score

from mlworkflow.bundle import registry
from mlworkflow.core import families, text
from mlworkflow.core.features import FeatureSpec

SPAM = ["win a free prize now", "free cash entry win", "claim your free prize", "urgent win cash now"]
HAM = ["see you at lunch", "meeting moved to noon", "call me when home", "lunch tomorrow then"]


def messages(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Spam and ham messages (some missing), each with a number that makes it unique."""
    rng = np.random.default_rng(seed)
    spam = rng.random(rows) < 0.4
    body = [(rng.choice(SPAM) if s else rng.choice(HAM)) + f" {i}" for i, s in enumerate(spam)]
    frame = pd.DataFrame({"message": body, "n": rng.normal(size=rows), "label": np.where(spam, "spam", "ham")})
    frame.loc[frame.index % 17 == 3, "message"] = None
    return frame


def spec(**settings: Any) -> FeatureSpec:
    return FeatureSpec(target="label", task="binary", classes=("ham", "spam"), positive_class="spam",
                       numeric=("n",), text=("message",), transformer=settings)


def fit(family: str, frame: pd.DataFrame, **settings: Any) -> Any:
    pipeline = families.make_pipeline(spec(**settings), family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few rows: skrub keeps the first TF-IDF columns instead of an SVD
        return pipeline.fit(frame[["n", "message"]], frame["label"])


def test_as_documents_gives_one_string_per_row() -> None:
    out = text.as_documents(pd.Series(["a b", None, np.nan, 3]))
    assert out.tolist() == ["a b", "", "", "3"] and out.ndim == 1


@pytest.mark.parametrize("family", families.FAMILIES)
def test_every_family_learns_from_a_text_column(family: str) -> None:
    frame = messages()
    pipeline = families.make_pipeline(spec(text_components=20), family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(pipeline, frame[["n", "message"]], frame["label"], cv=3, scoring="accuracy")
    majority = float((frame["label"] == "ham").mean())
    assert scores.mean() > majority + 0.1, f"{family}: {scores.mean():.3f} vs majority {majority:.3f}"


def test_linear_families_get_the_sparse_terms_the_others_dense_components() -> None:
    frame = messages()
    logistic, forest = fit("logistic", frame), fit("random_forest", frame, text_components=5)
    assert sp.issparse(logistic[0].transform(frame))
    dense = forest[0].transform(frame)
    assert isinstance(dense, pd.DataFrame) and dense.shape[1] == 1 + 5


def test_a_fitted_text_pipeline_round_trips_through_skops_with_the_registry_trust() -> None:
    frame = messages()
    for family in ("logistic", "hist_gradient_boosting"):
        pipeline = fit(family, frame)
        data = sio.dumps(pipeline)
        untrusted = set(sio.get_untrusted_types(data=data))
        assert untrusted <= set(registry.default_trusted()), untrusted - set(registry.default_trusted())
        loaded = sio.loads(data, trusted=sorted(untrusted))
        np.testing.assert_array_equal(loaded.predict_proba(frame), pipeline.predict_proba(frame))
    assert "mlworkflow.core.text.as_documents" in text.TRUSTED_TYPES


def test_telling_terms_per_class_from_a_linear_model() -> None:
    frame = messages()
    terms = text.telling_terms(fit("logistic", frame, text_char_ngrams=None), ["ham", "spam"], top=3)
    assert list(terms.columns) == ["class", "term", "column", "weight"]
    spam, ham = terms[terms["class"] == "spam"], terms[terms["class"] == "ham"]
    assert len(spam) == len(ham) == 3 and set(terms["column"]) == {"message"}
    assert spam["term"].str.contains("free|win|prize|cash").all()
    assert not ham["term"].str.contains("free|win|prize|cash").any()
    assert (spam["weight"] > 0).all() and spam["weight"].is_monotonic_decreasing


def test_telling_terms_are_empty_without_sparse_terms_or_coefficients() -> None:
    frame = messages()
    assert text.telling_terms(fit("random_forest", frame, text_components=5), ["ham", "spam"]).empty
    assert text.telling_terms(fit("svm", frame), ["ham", "spam"]).empty  # a calibrated RBF SVM has no coef_


def test_term_row_splits_the_output_name() -> None:
    assert text.term_row("spam", "text_words_my_column__free prize", 1.23456) == {
        "class": "spam", "term": "free prize", "column": "my_column", "weight": 1.2346}


def test_the_vocabulary_is_plain_ints_so_a_saved_text_model_stays_small() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = text.as_documents(messages(200)["message"])
    terms = text.TfidfTerms(max_features=20).fit(documents)
    plain = TfidfVectorizer(max_features=20).fit(documents)
    assert {type(index) for index in terms.vocabulary_.values()} == {int}
    assert terms.vocabulary_ == plain.vocabulary_
    assert (terms.transform(documents) != plain.transform(documents)).nnz == 0
    assert (text.TfidfTerms(max_features=20).fit_transform(documents) != plain.transform(documents)).nnz == 0
    saved = sio.dumps(terms)
    stored = {name: len(zipfile.ZipFile(io.BytesIO(b)).namelist()) for name, b in [("terms", saved),
                                                                                ("plain", sio.dumps(plain))]}
    assert stored["plain"] >= 20 > stored["terms"]  # numpy-int vocabularies cost a stored scalar per term
    loaded = sio.loads(saved, trusted=list(text.TRUSTED_TYPES))
    assert (loaded.transform(documents) != terms.transform(documents)).nnz == 0


def test_the_dense_blocks_vocabulary_is_plain_ints_and_the_saved_encoder_loads_by_name() -> None:
    column = pd.Series(text.as_documents(messages(200)["message"]), name="message")
    encoder = text.dense_block("word", (1, 2), components=3)
    components = encoder.fit_transform(column)
    assert type(encoder).__name__ == "StringComponents" and text.StringComponents is type(encoder)
    assert {type(index) for index in encoder.vectorizer_.vocabulary_.values()} == {int}
    loaded = sio.loads(sio.dumps(encoder), trusted=list(text.TRUSTED_TYPES))
    assert type(loaded) is type(encoder)
    assert np.array_equal(loaded.transform(column).to_numpy(), components.to_numpy())
