"""Column roles: detection with a reason, free text told from identifiers, overrides checked against the values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlworkflow.core import roles
from mlworkflow.errors import DataError

N = 200
WORDS = ["cheap", "offer", "call", "now", "meeting", "tomorrow", "lunch", "free", "win", "prize", "home", "late"]


def sentences(n: int = N, seed: int = 0) -> list[str]:
    """Short messages drawn from a small vocabulary, each made unique by a number."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 5)) + f" {i}" for i in range(n)]


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "id": np.arange(N),
        "code": [f"C{i:05d}" for i in range(N)],
        "ticket": [f"TK-{i % 150}" for i in range(N)],
        "message": sentences(),
        "x": rng.normal(size=N),
        "k": rng.integers(0, 5, N),
        "colour": rng.choice(["red", "green", "blue"], N),
        "flag": rng.choice(["yes", "no"], N),
        "when": pd.date_range("2024-01-01", periods=N, freq="h").astype(str),
        "same": "x",
        "empty": [None] * N,
        "amount": [f"{v:.2f}" for v in rng.normal(50, 5, N)],
        "y": rng.choice(["a", "b"], N),
    })


@pytest.mark.parametrize(
    ("column", "role", "reason"),
    [
        ("id", "identifier", "unique per row (200 distinct values in 200 rows)"),
        ("code", "identifier", "unique per row (200 distinct values in 200 rows)"),
        ("ticket", "identifier", "nearly unique codes (150 distinct values in 200 rows, 1.0 words per value)"),
        ("x", "numeric", "numbers (float64)"),
        ("k", "numeric", "numbers (int64)"),
        ("amount", "numeric", "numbers (float64)"),
        ("colour", "categorical", "categories (3 levels)"),
        ("flag", "boolean", "two values"),
        ("when", "datetime", "timestamps stored as text (e.g. '2024-01-01 00:00:00')"),
        ("same", "constant", "constant: the only value is 'x'"),
        ("empty", "constant", "empty: every value is missing"),
    ],
)
def test_each_role_is_detected_with_its_reason(column: str, role: str, reason: str) -> None:
    assert roles.detect(frame()[column]) == roles.ColumnRole(role, reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (pd.Series(["yes", None, "no", np.nan] * 50), "two values"),  # gaps are not a third value
        (pd.Series([f"C{i:05d}" for i in range(N - 1)] + [None]), "unique per row (199 distinct values in 200 rows)"),
        (pd.Series([*range(N - 1), None], dtype="Int64"), "unique per row (199 distinct values in 200 rows)"),
        (pd.Series(["C1", "C1"] + [f"C{i:05d}" for i in range(N - 2)]),
         "nearly unique codes (199 distinct values in 200 rows, 1.0 words per value)"),
    ],
)
def test_distinct_values_are_counted_without_gaps(values: pd.Series, reason: str) -> None:
    assert roles.detect(values).reason == reason


def test_free_text_is_a_feature_not_an_identifier() -> None:
    found = roles.detect(frame()["message"])
    assert found.role == "text" and found.is_feature
    assert found.reason.startswith("free text (200 distinct values in 200 rows, ")
    assert found.reason.endswith("words per value, 100% of them shared between rows)")


def test_codes_with_a_shared_prefix_stay_identifiers() -> None:
    rng = np.random.default_rng(0)
    codes = pd.Series([f"ORD-{rng.integers(10**6)}-{''.join(rng.choice(list('abcdefghij'), 6))}" for _ in range(N)])
    assert roles.words(codes).shared == 1  # 'ord' is shared, the random part is not
    assert not roles.words(codes).is_text
    assert roles.detect(codes).role == "identifier"


def test_tiny_frames_have_no_identifiers() -> None:
    assert roles.detect(pd.Series(range(10))).role == "numeric"
    assert roles.detect(pd.Series([f"c{i}" for i in range(10)])).role == "categorical"


def test_detect_all_skips_the_target_and_marks_flagged_leaks() -> None:
    found = roles.detect_all(frame(), "y", leaks={"x": "alone predicts the target", "id": "alone predicts"})
    assert "y" not in found
    assert found["x"] == roles.ColumnRole("leak", "alone predicts the target")
    assert found["id"].role == "identifier"  # an identifier stays one, even when it scores high
    table = roles.role_table(found)
    assert list(table.columns) == ["role", "reason"] and table.loc["message", "role"] == "text"


@pytest.mark.parametrize(
    ("column", "role", "message"),
    [
        ("colour", "numeric", r"column 'colour': role 'numeric' needs numbers, found '(red|green|blue)'"),
        ("x", "datetime", r"column 'x': role 'datetime' needs dates or times, found -?\d\.\d+"),
        ("k", "text", r"column 'k': role 'text' needs words, found \d"),
    ],
)
def test_a_role_that_does_not_fit_names_the_column_and_a_value(column: str, role: str, message: str) -> None:
    with pytest.raises(DataError, match=f"preprocess.roles: {message}"):
        roles.check_overrides(frame(), {column: role})


def test_roles_that_fit_pass_and_an_unknown_column_has_a_hint() -> None:
    roles.check_overrides(frame(), {"amount": "numeric", "when": "datetime", "message": "text", "k": "categorical"})
    with pytest.raises(DataError, match=r"column 'mesage': is not a column of the data. Did you mean 'message'\?"):
        roles.check_overrides(frame(), {"mesage": "text"})


def test_numbers_stored_as_text_become_numbers() -> None:
    values = pd.Series(["1.5", " 2", "", None, "3e2"])
    parsed = roles.as_numbers(values)
    assert parsed.dtype == np.float64
    np.testing.assert_array_equal(parsed.to_numpy(), [1.5, 2.0, np.nan, np.nan, 300.0])
    assert roles.as_numbers(pd.Series(["a", "1"])).tolist() == ["a", "1"]


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "target", "expected"),
    [
        ("sms_spam.csv", "label", {"text": "text"}),
        ("titanic.csv", "Survived", {"PassengerId": "identifier", "Name": "text", "Ticket": "identifier",
                                     "Cabin": "categorical", "Embarked": "categorical"}),
        ("telco_churn.csv", "Churn", {"customerID": "identifier", "TotalCharges": "numeric"}),
        ("taxis.csv", "fare", {"pickup": "datetime", "dropoff": "datetime", "pickup_zone": "categorical"}),
    ],
)
def test_shared_datasets_get_the_roles_a_person_would_give(
    shared_data: Path, name: str, target: str, expected: dict[str, str]
) -> None:
    found = roles.detect_all(pd.read_csv(shared_data / name), target)
    assert {column: found[column].role for column in expected} == expected


@pytest.mark.shared
def test_adult_has_no_text_and_no_identifiers(shared_data: Path) -> None:
    found = roles.detect_all(pd.read_csv(shared_data / "adult_train.csv"), "income")
    assert {role.role for role in found.values()} == {"numeric", "categorical", "boolean"}


# --- leaks recovered with other columns ----------------------------------------------------------


def fares(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """A fare caused by distance; a total that adds a tip (a share of the fare), tolls and a surcharge to it."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 2.0, n)
    fare = 3.0 + 2.5 * distance + rng.normal(0, 2.0, n)
    tip = fare * rng.choice([0.0, 0.15, 0.2, 0.3], n)
    tolls = rng.choice([0.0, 6.12], n, p=[0.9, 0.1])
    total = fare + tip + tolls + rng.choice([0.8, 1.3], n)
    return pd.DataFrame({"distance": distance, "tip": tip, "tolls": tolls, "total": total, "fare": fare})


def folds_of(table: pd.DataFrame) -> np.ndarray:
    return np.random.default_rng(0).permutation(len(table)) % 5


def test_a_total_holding_the_target_is_a_leak_though_alone_it_predicts_less_than_the_threshold() -> None:
    table = fares()
    folds = folds_of(table)
    alone = roles.identity(table[["total", "fare"]].to_numpy(), ["total"], (0,), folds)
    assert alone.r2 < 0.98  # the single-column rule would miss it
    found = roles.identity_leaks(table, "fare", ["total", "distance", "tip", "tolls"], 0.98, folds)
    assert list(found) == ["total"]
    assert found["total"].startswith("with tip and tolls recovers the target almost exactly: fare ≈ ")
    assert "out-of-fold R² 0.99" in found["total"]


def test_strongly_correlated_honest_features_are_not_leaks() -> None:
    rng = np.random.default_rng(4)
    table = fares().assign(minutes=lambda d: d["distance"] * 3 + rng.normal(0, 1, len(d)))
    honest = table.drop(columns=["total"])
    pair = honest[["distance", "minutes", "fare"]].to_numpy()
    assert roles.identity(pair, ["distance", "minutes"], (0, 1), folds_of(honest)).r2 > 0.9  # strong, not exact
    assert (honest["fare"] > honest["distance"]).mean() > 0.99  # bounds the target in nearly every row
    assert roles.identity_leaks(honest, "fare", ["distance", "minutes", "tip", "tolls"], 0.98, folds_of(honest)) == {}


def test_identity_leaks_need_numbers_with_enough_complete_rows() -> None:
    table = fares(n=40)
    assert roles.identity_leaks(table, "fare", ["total", "tip", "tolls"], 0.98, folds_of(table)) == {}  # 40 < 50 rows
    coded = fares().assign(total=lambda d: d["total"].map("{:.2f}".format), colour="red")  # numbers stored as text
    found = roles.identity_leaks(coded, "fare", ["colour", "total", "tip", "tolls"], 0.98, folds_of(coded))
    assert list(found) == ["total"]


def test_each_leak_is_found_but_not_the_columns_that_complete_it() -> None:
    table = fares().assign(total_with_tax=lambda d: d["total"] * 1.08)
    found = roles.identity_leaks(table, "fare", ["total", "total_with_tax", "distance", "tip", "tolls"], 0.98,
                                 folds_of(table))
    assert sorted(found) == ["total", "total_with_tax"]  # tip and tolls correct a total: no leaks by themselves


@pytest.mark.parametrize("values", [
    pd.Series(["1", " 2", "x", None, "", "  "]), pd.Series(["1", "2.5", "3e4", "inf", "-", None], dtype="str"),
    pd.Series([1, True, "a", None, 2.0], dtype=object), pd.Series(pd.Categorical(["1", "x", None, "1"], ["1", "x", "y"])),
    pd.Series(["", " "], dtype="string"), pd.Series([None, None], dtype=object),
])
def test_number_share_parses_each_distinct_value_once_with_the_same_share(values: pd.Series) -> None:
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]  # every value parsed, as the share was computed before
    expected = float(pd.to_numeric(present, errors="coerce").notna().mean()) if len(present) else 0.0
    assert roles.number_share(values) == expected
