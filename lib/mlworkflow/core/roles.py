"""Column roles: what each column of a table is (numeric, categorical, text, identifier, ...) and why.

Stage `data` detects a role per column and reports it with its reason; stage `preprocess` builds the
feature spec from the roles (and `preprocess.roles` overrides them). Free text is a feature, not an
identifier: an identifier is unique per row and shares no words between rows, while text repeats
words across rows, which TF-IDF turns into features. Timestamps are recognised by
`timestamps.looks_like_datetime`, the one parser of the project.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
    is_timedelta64_dtype,
)

from mlworkflow.core.timestamps import looks_like_datetime
from mlworkflow.errors import DataError, did_you_mean

Role = Literal["numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant", "leak"]
FEATURE_ROLES: frozenset[str] = frozenset({"numeric", "categorical", "boolean", "datetime", "text"})

MIN_ROWS_IDENTIFIER = 20  # below this, every column looks unique
UNIQUE_COVERAGE = 0.9  # an identifier is filled in (almost) every row
DISTINCT_RATIO = 0.5  # a text column with this many distinct values per filled row is text or codes, not levels
NUMERIC_TEXT_SHARE = 0.95  # a text column this often parseable as numbers is a number
TEXT_MIN_WORDS = 2.0  # free text has at least this many words per value on average,
TEXT_MIN_SHARED = 10  # at least this many distinct words that occur in two rows or more,
TEXT_SHARED_SHARE = 0.5  # and most of its words are such shared words (codes' random parts are not)
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern, so the words are TF-IDF's terms
LETTER = re.compile(r"[^\W\d_]")  # a word has a letter: the digits of codes and amounts are not words
SAMPLE_ROWS = 5000  # rows tokenised to tell text from codes (enough to decide, cheap on a large table)


@dataclass(frozen=True)
class ColumnRole:
    """A column's role and the reason it was given."""

    role: Role
    reason: str

    @property
    def is_feature(self) -> bool:
        """Whether a model may learn from the column."""
        return self.role in FEATURE_ROLES


# --- numbers stored as text ------------------------------------------------------------------------


def is_number(values: pd.Series) -> bool:
    """A numeric dtype that is not boolean."""
    return is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype)


def distinct_counts(values: pd.Series) -> pd.Series:
    """How often each distinct non-missing value occurs, indexed by its text (mixed objects: 1 and True hash alike)."""
    if isinstance(values.dtype, pd.CategoricalDtype) or (is_string_dtype(values.dtype) and not is_object_dtype(values.dtype)):
        counts = values.value_counts(sort=False)
        counts = counts[counts > 0]
        return pd.Series(counts.to_numpy(), index=pd.Index(counts.index.to_numpy(dtype=object)).astype(str))
    return values.dropna().astype(str).value_counts(sort=False)


def number_share(values: pd.Series) -> float:
    """Share of the non-blank values that parse as numbers (0.0 when there are none); each distinct value is parsed once."""
    counts = distinct_counts(values)
    text = pd.Series(counts.index).astype(str).str.strip()
    kept = (text != "").to_numpy()
    if not kept.any():
        return 0.0
    parsed = pd.to_numeric(text[kept], errors="coerce").notna().to_numpy()
    weights = counts.to_numpy()[kept]
    return float(weights[parsed].sum() / weights.sum())


def as_numbers(values: pd.Series) -> pd.Series:
    """Numbers stored as text become numbers (blanks become missing); anything else is unchanged."""
    if is_number(values) or is_bool_dtype(values.dtype) or number_share(values) < NUMERIC_TEXT_SHARE:
        return values
    return pd.to_numeric(values.astype(str).str.strip(), errors="coerce")


# --- words ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """What the values of a text column say: words per value, words shared between rows, their share of all words."""

    per_value: float
    shared: int
    shared_share: float

    @property
    def is_text(self) -> bool:
        """Several words per value, most of them shared with other rows: free text, not codes."""
        return (
            self.per_value >= TEXT_MIN_WORDS and self.shared >= TEXT_MIN_SHARED
            and self.shared_share >= TEXT_SHARED_SHARE
        )


def words(values: pd.Series) -> Words:
    """Tokenise (a seeded sample of) the values the way TF-IDF will."""
    present = values.dropna()
    if len(present) > SAMPLE_ROWS:
        present = present.sample(SAMPLE_ROWS, random_state=0)
    tokens = [{w for w in TOKEN.findall(str(value).lower()) if LETTER.search(w)} for value in present]
    counts = Counter(word for row in tokens for word in row)
    total = sum(counts.values())
    if not total:
        return Words(0.0, 0, 0.0)
    shared = [count for count in counts.values() if count >= 2]
    return Words(total / len(tokens), len(shared), sum(shared) / total)


# --- detection -------------------------------------------------------------------------------------


def constant_role(values: pd.Series) -> ColumnRole | None:
    """Constant when no value or one value and no gaps (one value with gaps is kept: missingness informs)."""
    present = values.dropna().unique()
    if len(present) == 0:
        return ColumnRole("constant", "empty: every value is missing")
    if len(present) == 1 and not values.isna().any():
        return ColumnRole("constant", f"constant: the only value is {present[0]!r}")
    return None


def unique_per_row(values: pd.Series, distinct: int) -> bool:
    """Every filled value distinct (`distinct` of them), in (almost) every row of a frame large enough to tell."""
    rows, filled = len(values), int(values.count())
    return rows >= MIN_ROWS_IDENTIFIER and filled >= UNIQUE_COVERAGE * rows and distinct == filled


def number_role(values: pd.Series, distinct: int) -> ColumnRole:
    """Integers unique per row are identifiers; other numbers are numeric (floats are measurements)."""
    if not is_float_dtype(values.dtype) and unique_per_row(values, distinct):
        return ColumnRole("identifier", f"unique per row ({distinct} distinct values in {len(values)} rows)")
    return ColumnRole("numeric", f"numbers ({values.dtype})")


def string_role(values: pd.Series, distinct: int) -> ColumnRole:
    """Text, identifier or categorical for a column of strings (not numbers, not timestamps) with `distinct` values."""
    rows, filled = len(values), int(values.count())
    counts = f"{distinct} distinct values in {rows} rows"
    if filled == 0 or distinct < DISTINCT_RATIO * rows:
        return ColumnRole("categorical", f"categories ({distinct} levels)")
    said = words(values)
    if said.is_text:
        return ColumnRole("text", f"free text ({counts}, {said.per_value:.1f} words per value, "
                                  f"{said.shared_share:.0%} of them shared between rows)")
    if rows < MIN_ROWS_IDENTIFIER:
        return ColumnRole("categorical", f"categories ({distinct} levels)")
    if unique_per_row(values, distinct):
        return ColumnRole("identifier", f"unique per row ({counts})")
    return ColumnRole("identifier", f"nearly unique codes ({counts}, {said.per_value:.1f} words per value)")


def detect(values: pd.Series) -> ColumnRole:
    """The role of one column, with the reason."""
    if (constant := constant_role(values)) is not None:
        return constant
    values = as_numbers(values)
    distinct = int(values.nunique())  # counted once: every check below reads it (nunique skips missing values)
    if is_bool_dtype(values.dtype) or distinct == 2:
        return ColumnRole("boolean", "two values")
    if is_datetime64_any_dtype(values.dtype) or is_timedelta64_dtype(values.dtype):
        return ColumnRole("datetime", f"date/time values ({values.dtype})")
    if is_number(values):
        return number_role(values, distinct)
    if looks_like_datetime(values):
        return ColumnRole("datetime", f"timestamps stored as text (e.g. {str(values.dropna().iloc[0])!r})")
    return string_role(values, distinct)


def detect_all(frame: pd.DataFrame, target: str, leaks: Mapping[str, str] | None = None) -> dict[str, ColumnRole]:
    """Every column's role but the target's; a flagged leak is a leak unless it is constant or an identifier."""
    roles = {str(c): detect(frame[c]) for c in frame.columns if c != target}
    for column, reason in (leaks or {}).items():
        if column in roles and roles[column].is_feature:
            roles[column] = ColumnRole("leak", reason)
    return roles


# --- leaks: the target recovered from a column and one or two others -----------------------------

IDENTITY_CANDIDATES = 6  # numeric columns tried, most predictive alone first: 15 pairs + 20 triples at most
IDENTITY_ROWS = 2000  # rows fitted: an identity holds in every row, a few thousand show it (and keep it cheap)
IDENTITY_SIZES = (2, 3)  # a column and one or two others (total - tip - tolls = fare, up to surcharges)
IDENTITY_MIN_ROWS = 50  # complete rows a fit needs to be judged


@dataclass(frozen=True)
class Identity:
    """The target as a linear combination of a few columns (the first carries it) and how exactly it holds."""

    columns: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    r2: float

    def formula(self, target: str) -> str:
        """E.g. 'fare ≈ 0.96·total - 0.98·tip - 2.16'."""
        (first, *others), (lead, *rest) = self.columns, self.coefficients
        terms = [f"{lead:.2f}·{first}", *(signed(c, f"·{n}") for c, n in zip(rest, others, strict=True))]
        return f"{target} ≈ {' '.join(terms)} {signed(self.intercept)}"

    def reason(self, target: str, threshold: float) -> str:
        """Why the first column is a leak: the target is recovered from it and the others almost exactly."""
        return (f"with {' and '.join(self.columns[1:])} recovers the target almost exactly: {self.formula(target)} "
                f"(out-of-fold R² {self.r2:.3f} ≥ {threshold}): one is part of the other, recorded with the target")


def signed(value: float, name: str = "") -> str:
    """A term after the first: '+ 0.50·x', '- 2.16'."""
    return f"{'-' if value < 0 else '+'} {abs(value):.2f}{name}"


def least_squares(X: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Coefficients, then intercept, of the least-squares fit of y on the columns of X."""
    design = np.column_stack([X, np.ones(len(X))])
    return np.asarray(np.linalg.lstsq(design, y, rcond=None)[0], dtype=np.float64)


def out_of_fold_r2(X: npt.NDArray[np.float64], y: npt.NDArray[np.float64], folds: npt.NDArray[np.int64]) -> float:
    """R² of least-squares predictions made for each fold by a fit on the other folds."""
    predicted = np.empty_like(y)
    for fold in np.unique(folds):
        held = folds == fold
        solution = least_squares(X[~held], y[~held])
        predicted[held] = X[held] @ solution[:-1] + solution[-1]
    spread = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - predicted) ** 2).sum()) / spread if spread > 0 else float("nan")


def identity(values: npt.NDArray[np.float64], names: Sequence[str], combo: tuple[int, ...],
             folds: npt.NDArray[np.int64]) -> Identity:
    """The linear fit of the last column of `values` (the target) on the columns `combo`, over complete rows."""
    columns = tuple(names[i] for i in combo)
    X, y = values[:, list(combo)], values[:, -1]
    complete = ~(np.isnan(X).any(axis=1) | np.isnan(y))
    if int(complete.sum()) < IDENTITY_MIN_ROWS:
        return Identity(columns, (), 0.0, float("nan"))
    X, y = X[complete], y[complete]
    solution = least_squares(X, y)
    return Identity(columns, tuple(float(c) for c in solution[:-1]), float(solution[-1]), out_of_fold_r2(X, y, folds[complete]))


def amount_columns(frame: pd.DataFrame, ranked: Sequence[str]) -> pd.DataFrame:
    """The first `IDENTITY_CANDIDATES` columns of `ranked` that hold varying numbers (stored as text or not)."""
    found: dict[str, pd.Series] = {}
    for column in (c for c in ranked if c in frame.columns and len(found) < IDENTITY_CANDIDATES):
        values = as_numbers(frame[column])
        if is_number(values) and values.nunique() > 1:
            found[column] = values
    return pd.DataFrame(found, index=frame.index)


def identity_leaks(
    frame: pd.DataFrame, target: str, ranked: Sequence[str], threshold: float, folds: npt.NDArray[np.int64]
) -> dict[str, str]:
    """Columns from which, with one or two other columns, a numeric target is recovered almost exactly.

    A column that contains the target as a part (a total that adds tips and tolls to the fare) is recorded
    with or after it; alone it predicts the target about as well as a real cause does (taxis: total R² 0.95,
    distance 0.92), but with its other parts the target comes back exactly. Each linear combination of
    two or three of the most predictive numeric columns (`ranked`, most predictive alone first) is fitted out
    of fold; where one reaches `threshold`, its most predictive column is the leak (the others correct it).
    """
    numeric = amount_columns(frame, ranked)
    names = [str(c) for c in numeric.columns]
    values = numeric.assign(**{target: pd.to_numeric(frame[target], errors="coerce")}).to_numpy(dtype=np.float64)
    combos = [combo for size in IDENTITY_SIZES for combo in combinations(range(len(names)), size)]
    fits = [identity(values, names, combo, folds) for combo in combos]
    flagged: dict[str, str] = {}
    for found in sorted((f for f in fits if f.r2 >= threshold), key=lambda f: -f.r2):
        if not flagged.keys() & set(found.columns):  # a combination holding a flagged leak is explained by it
            flagged[found.columns[0]] = found.reason(target, threshold)
    return flagged


# --- overrides -----------------------------------------------------------------------------------


def example(values: pd.Series) -> str:
    """A value of the column, quoted (what an error shows)."""
    present = values.dropna()
    if not len(present):
        return "(every value missing)"
    value = present.iloc[0]
    return repr(value.item() if hasattr(value, "item") else value)  # 0.5, not np.float64(0.5)


def misfit(values: pd.Series, role: str) -> str | None:
    """Why a role does not fit the column's values (with an example value), or None."""
    present = values.dropna()
    if role == "numeric" and not is_number(values) and not is_bool_dtype(values.dtype):
        parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
        bad = present[parsed.isna().to_numpy()]
        if len(bad):
            return f"role 'numeric' needs numbers, found {example(bad)}"
    if role == "datetime" and len(present) and not looks_like_datetime(values):
        return f"role 'datetime' needs dates or times, found {example(present)}"
    if role == "text" and len(present) and not present.astype(str).str.contains(r"[^\W\d_]", regex=True).any():
        return f"role 'text' needs words, found {example(present)}"
    return None


def check_overrides(frame: pd.DataFrame, overrides: Mapping[str, str], key: str = "preprocess.roles") -> None:
    """Each overridden column exists and its values fit the role given; a DataError names the column."""
    columns = [str(c) for c in frame.columns]
    for column, role in overrides.items():
        if column not in columns:
            raise DataError(f"is not a column of the data.{did_you_mean(column, columns)}", column, key)
        if (problem := misfit(frame[column], role)) is not None:
            raise DataError(problem, column, key)


def role_table(roles: Mapping[str, ColumnRole]) -> pd.DataFrame:
    """One row per column: its role and why (the data report's table)."""
    rows = [{"column": name, "role": found.role, "reason": found.reason} for name, found in roles.items()]
    return pd.DataFrame(rows, columns=["column", "role", "reason"]).set_index("column")
