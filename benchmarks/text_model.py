"""Saving and loading a text model with skops: scikit-learn's TfidfVectorizer against core.text.TfidfTerms.

With `max_features`, scikit-learn maps the kept terms to numpy integers, which skops stores as one numpy
scalar each; TfidfTerms keeps Python ints (the same mapping and transform). Both vectorizers are fitted on the
same messages (../shared/data/sms_spam.csv when present, else synthetic words) with word and character
n-grams as the sparse text blocks use them; the ratios of bytes, save and load time are printed side by side.
Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/text_model.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from hotspots import fastest  # type: ignore[import-not-found]  # benchmarks/ is on the path of its scripts
from sklearn.feature_extraction.text import TfidfVectorizer

from mlworkflow.core import text

SMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms_spam.csv"


def documents() -> np.ndarray:
    """The SMS messages, or 5,000 synthetic ones when the shared data is absent."""
    if SMS.is_file():
        return text.as_documents(pd.read_csv(SMS)["text"])
    rng = np.random.default_rng(0)
    return np.array([" ".join(f"w{k}" for k in rng.integers(0, 20_000, 15)) for _ in range(5_000)], dtype=object)


def measure(vectorizer: Any, repeats: int) -> tuple[int, float, float]:
    """Bytes of the skops file, and the fastest save and load."""
    save, saved = fastest(lambda: sio.dumps(vectorizer), repeats)
    load, _ = fastest(lambda: sio.loads(saved, trusted=list(text.TRUSTED_TYPES)), repeats)
    return len(saved), save, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    corpus = documents()
    print(f"{len(corpus):,} documents · load average {os.getloadavg()[0]:.1f}")
    for analyzer, ngrams in (("word", (1, 2)), ("char_wb", (2, 4))):
        settings = {"analyzer": analyzer, "ngram_range": ngrams, "max_features": 20_000, "sublinear_tf": True}
        before = measure(TfidfVectorizer(**settings).fit(corpus), repeats)
        after = measure(text.TfidfTerms(**settings).fit(corpus), repeats)
        print(f"{analyzer:8s} bytes {before[0]:>11,} → {after[0]:>10,} ({before[0] / after[0]:.1f}× smaller) · "
              f"save {before[1]:.2f} → {after[1]:.2f} s ({before[1] / after[1]:.1f}×) · "
              f"load {before[2]:.2f} → {after[2]:.2f} s ({before[2] / after[2]:.1f}×)")


if __name__ == "__main__":
    main()
