"""Stand-ins for data kept back from development: scikit-learn's bundled datasets (no download) and two
synthetic cases shaped like the issue's (303 rows × 5 classes; 1,000 rows of credit-like mixed columns with
label noise). Each is written to a CSV with its params file and run like a user's file, default params.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn import datasets


@dataclass(frozen=True)
class StandIn:
    """A dataset to write as CSV: how to build it, its target column and the data params beyond path and target."""

    frame: Callable[[], pd.DataFrame]
    target: str
    data: tuple[tuple[str, Any], ...] = ()  # extra `data:` keys, e.g. (("positive_class", "benign"),)


def named(bunch: Any, target: str) -> pd.DataFrame:
    """A bundled dataset's frame with its class codes replaced by the class names."""
    frame = bunch.frame.rename(columns={"target": target})
    frame[target] = np.asarray(bunch.target_names)[frame[target].to_numpy()]
    return frame


def wine() -> pd.DataFrame:
    """UCI wine: 178 rows, 13 measurements, three cultivars."""
    return named(datasets.load_wine(as_frame=True), "cultivar")


def iris() -> pd.DataFrame:
    """Fisher's iris: 150 rows, three species."""
    return named(datasets.load_iris(as_frame=True), "species")


def breast_cancer() -> pd.DataFrame:
    """Wisconsin diagnostic breast cancer: 569 rows; labels 'benign' and 'malignant' (the positive 'benign' sorts first)."""
    return named(datasets.load_breast_cancer(as_frame=True), "diagnosis")


def digits() -> pd.DataFrame:
    """8 × 8 handwritten digits: 1,797 rows, 64 pixel columns, the digit as a number 0-9."""
    return datasets.load_digits(as_frame=True).frame.rename(columns={"target": "digit"})


def diabetes() -> pd.DataFrame:
    """Efron et al.'s diabetes progression: 442 rows, ten unscaled baseline columns (regression)."""
    return datasets.load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})


def as_categories(frame: pd.DataFrame, columns: list[str], bins: int) -> pd.DataFrame:
    """Some numeric columns cut into quantile bins named by letter, as a file's categorical columns would be."""
    out = frame.copy()
    for column in columns:
        codes = pd.qcut(out[column], bins, labels=False)
        out[column] = np.asarray([f"{column[:1]}{chr(65 + int(c))}" for c in codes])
    return out


def grades() -> pd.DataFrame:
    """303 rows, five unbalanced classes, 10 % of labels flipped: the shape of the issue's small multiclass case."""
    X, y = datasets.make_classification(
        n_samples=303, n_features=13, n_informative=5, n_redundant=2, n_classes=5, n_clusters_per_class=1,
        weights=[0.54, 0.18, 0.12, 0.12, 0.04], flip_y=0.1, class_sep=0.8, random_state=303)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(13)]).round(3)
    frame = as_categories(frame, ["x10", "x11", "x12"], 3)
    frame["grade"] = [f"grade {int(c)}" for c in y]
    return frame


def credit() -> pd.DataFrame:
    """1,000 rows, 20 columns (7 categorical), 30 % 'bad' with 15 % of labels flipped; the positive 'bad' sorts first."""
    X, y = datasets.make_classification(
        n_samples=1000, n_features=20, n_informative=6, n_redundant=3, weights=[0.7], flip_y=0.15, class_sep=0.8,
        random_state=1000)
    frame = pd.DataFrame(X, columns=[f"v{i:02d}" for i in range(20)]).round(3)
    frame = as_categories(frame, [f"v{i:02d}" for i in range(13, 20)], 4)
    frame["risk"] = np.where(y == 1, "bad", "good")
    return frame


STAND_INS: dict[str, StandIn] = {
    "wine": StandIn(wine, "cultivar"),
    "iris": StandIn(iris, "species"),
    "breast_cancer": StandIn(breast_cancer, "diagnosis", (("positive_class", "benign"),)),
    "digits": StandIn(digits, "digit", (("task", "multiclass"),)),
    "diabetes": StandIn(diabetes, "progression"),
    "grades_303": StandIn(grades, "grade"),
    "credit_1000": StandIn(credit, "risk", (("positive_class", "bad"),)),
}


def write(name: str, folder: Path, seed: int = 42) -> Path:
    """Write the stand-in's CSV and its params file (default params otherwise) into folder; the params path."""
    stand_in = STAND_INS[name]
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    stand_in.frame().to_csv(csv, index=False)
    params = {"run": {"name": name.replace("_", "-"), "seed": seed},
              "data": {"path": str(csv), "target": stand_in.target, **dict(stand_in.data)}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path
