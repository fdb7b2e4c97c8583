"""Drift statistics against scipy, the test/effect choice, BH correction, and drift on real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlworkflow.core import drift
from mlworkflow.errors import DataError
from mlworkflow.params import MonitorParams
from mlworkflow.stages.monitor import drift_settings


def settings(**changes: Any) -> drift.DriftSettings:
    """The drift settings of monitor params with these changes (defaults otherwise)."""
    return drift_settings(MonitorParams(**changes))


PARAMS = settings()


def sorted_sample(rng: np.random.Generator, n: int, discrete: bool, shift: float = 0.0) -> np.ndarray:
    values = rng.integers(0, 12, n).astype(float) + shift if discrete else rng.normal(shift, 1.0, n)
    return np.sort(values)


# --- statistics ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(1, 1), (7, 300), (500, 40), (3000, 20000)])
@pytest.mark.parametrize("discrete", [False, True])
def test_ks_statistic_is_scipys_exactly(n: int, m: int, discrete: bool) -> None:
    rng = np.random.default_rng(n + m)
    a, b = sorted_sample(rng, n, discrete), sorted_sample(rng, m, discrete, shift=0.3)
    assert drift.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_statistic_of_an_empty_sample_is_nan() -> None:
    assert np.isnan(drift.ks_statistic(np.array([1.0]), np.array([])))


@pytest.mark.parametrize("shift", [0.0, 0.2, 3.0])
def test_binned_wasserstein_is_close_to_scipys_exact_one(shift: float) -> None:
    rng = np.random.default_rng(1)
    a, b = np.sort(rng.lognormal(0, 0.7, 20000)), np.sort(rng.lognormal(shift, 0.7, 30000))
    exact = stats.wasserstein_distance(a, b) / np.std(a)
    assert drift.wasserstein(a, b) == pytest.approx(exact, rel=0.02, abs=0.003)


def test_wasserstein_of_a_constant_reference_uses_its_level_as_scale() -> None:
    assert drift.wasserstein(np.zeros(10), np.r_[np.zeros(8), np.ones(2)]) == pytest.approx(0.2, abs=0.01)


def test_psi_is_zero_for_equal_shares_and_finite_with_empty_bins() -> None:
    assert drift.psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)
    value = drift.psi(np.array([50, 50, 0]), np.array([0, 50, 50]))
    assert np.isfinite(value) and value > 0.25
    assert drift.psi_band(0.05, (0.1, 0.25)) == "stable"
    assert drift.psi_band(0.1, (0.1, 0.25)) == "moderate"
    assert drift.psi_band(0.3, (0.1, 0.25)) == "major"


def test_jensen_shannon_distance_spans_zero_to_one() -> None:
    assert drift.js_distance(np.array([3, 1]), np.array([30, 10])) == pytest.approx(0.0)
    assert drift.js_distance(np.array([5, 0]), np.array([0, 5])) == pytest.approx(1.0)
    assert np.isnan(drift.js_distance(np.array([0, 0]), np.array([1, 1])))


def test_chi_squared_pools_rare_levels_and_matches_scipy() -> None:
    reference, current = np.array([400, 300, 2, 1]), np.array([100, 150, 1, 0])
    table = drift.pooled_table(reference, current)
    assert table.shape == (2, 3) and table[:, -1].tolist() == [3, 1]
    assert drift.chi2_pvalue(reference, current) == pytest.approx(stats.chi2_contingency(table).pvalue)
    assert drift.chi2_pvalue(np.array([10, 0]), np.array([5, 0])) == 1.0


def test_numeric_bins_follow_reference_quantiles_with_a_missing_bin() -> None:
    summary = drift.summarize_numeric(pd.Series([1.0, 2, 3, 4, np.nan, 5, 6, 7, 8, 9, 10]))
    edges = drift.quantile_edges(summary.values, 5)
    assert edges.tolist() == [2.0, 4.0, 6.0, 8.0]
    assert drift.binned_counts(summary, edges).tolist() == [2, 2, 2, 2, 2, 1]


def test_categorical_summary_reads_levels_as_text_and_counts_missing() -> None:
    summary = drift.summarize_categorical(pd.Series([1, "1", "a", None, np.nan], dtype=object))
    assert summary.counts.to_dict() == {"1": 2, "a": 1, drift.MISSING: 2}
    assert summary.rows == 5 and summary.missing == 2


# --- deciding ----------------------------------------------------------------------------------------------


def frame(rng: np.random.Generator, n: int, shift: float = 0.0, city_weights: tuple[float, ...] = (0.5, 0.3, 0.2)) -> pd.DataFrame:
    return pd.DataFrame({
        "age": rng.normal(40 + shift, 10, n).round(),
        "income": rng.lognormal(10, 0.5, n),
        "city": rng.choice(["a", "b", "c"], n, p=list(city_weights)),
    })


def test_small_samples_are_tested_and_corrected_by_benjamini_hochberg() -> None:
    rng = np.random.default_rng(3)
    table = drift.drift_table(frame(rng, 800), frame(rng, 300, shift=5.0), ["age", "income"], ["city"], PARAMS)
    assert set(table["method"]) == {"test"}
    raw = table.set_index("column")["p_value"]
    expected = stats.false_discovery_control(raw.to_numpy(), method="bh")
    assert table.set_index("column")["p_adjusted"].to_numpy() == pytest.approx(expected)
    assert table.iloc[0]["column"] == "age" and table.iloc[0]["drifted"]
    assert "KS p =" in table.iloc[0]["why"]
    assert not table.set_index("column").loc["income", "drifted"]


def test_large_samples_use_effect_sizes_so_trivial_shifts_do_not_alarm() -> None:
    rng = np.random.default_rng(4)
    params = settings(test_rows=1000)
    reference, current = frame(rng, 50_000), frame(rng, 50_000, shift=0.3, city_weights=(0.49, 0.31, 0.2))
    table = drift.drift_table(reference, current, ["age", "income"], ["city"], params).set_index("column")
    assert set(table["method"]) == {"effect"}
    assert stats.ks_2samp(reference["age"], current["age"]).pvalue < 0.001  # "significant", yet trivial
    assert not table["drifted"].any()
    shifted = drift.drift_table(reference, frame(rng, 50_000, shift=3.0, city_weights=(0.2, 0.3, 0.5)),
                                ["age", "income"], ["city"], params).set_index("column")
    assert shifted.loc["age", "drifted"] and shifted.loc["city", "drifted"]
    assert shifted.loc["city", "effect_name"] == "jensen-shannon" and "jensen-shannon" in shifted.loc["city", "why"]
    assert not shifted.loc["income", "drifted"]


def test_a_jump_in_missing_values_is_drift_and_says_so() -> None:
    rng = np.random.default_rng(5)
    reference, current = frame(rng, 20_000), frame(rng, 20_000)
    current.loc[: 6000, "income"] = np.nan
    table = drift.drift_table(reference, current, ["age", "income"], ["city"], PARAMS).set_index("column")
    assert table.loc["income", "drifted"] and table.loc["income", "why"] == "missing share 0% → 30%"


def test_method_switches_at_test_rows() -> None:
    params = settings(test_rows=100)
    assert drift.choose_method(99, 10_000, params) == "test"
    assert drift.choose_method(100, 100, params) == "effect"


def test_dataset_rule_needs_the_share_of_drifted_columns() -> None:
    table = pd.DataFrame({"column": list("abcd"), "drifted": [True, False, False, False], "method": ["effect"] * 4})
    found = drift.dataset_drift(table, settings(drift_share=0.3))
    assert (found.drifted, found.share, found.detected, found.names) == (1, 0.25, False, ("a",))
    assert drift.dataset_drift(table, settings(drift_share=0.25)).detected


def test_prediction_drift_numeric_and_categorical() -> None:
    rng = np.random.default_rng(6)
    row = drift.prediction_drift(rng.beta(2, 5, 3000), rng.beta(5, 2, 3000), "numeric", "prediction: P(yes)", PARAMS)
    assert row["drifted"] and row["column"] == "prediction: P(yes)"
    labels = drift.prediction_drift(["a"] * 90 + ["b"] * 10, ["a"] * 88 + ["b"] * 12, "categorical", "class", PARAMS)
    assert not labels["drifted"] and labels["method"] == "test"


def test_a_column_missing_from_the_data_is_named() -> None:
    with pytest.raises(DataError, match=r"column 'city'.*not a column"):
        drift.profile(pd.DataFrame({"age": [1.0]}), ["age"], ["city"])
    reference = drift.profile(pd.DataFrame({"age": [1.0], "city": ["a"]}), ["age"], ["city"])
    with pytest.raises(DataError, match=r"column 'city'.*not in the current data"):
        drift.compare(reference, drift.profile(pd.DataFrame({"age": [1.0]}), ["age"], []), PARAMS)
    with pytest.raises(DataError, match=r"column 'age'.*numeric on one side"):
        drift.column_drift("age", reference["age"], reference["city"], "test", PARAMS)


# --- real data ----------------------------------------------------------------------------------------------


def features(frame: pd.DataFrame, target: str, drop: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c != target and c not in drop]
    return numeric, [c for c in frame.columns if c not in numeric and c != target and c not in drop]


def adult(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, skipinitialspace=True, na_values="?")


@pytest.mark.shared
def test_adult_train_vs_test_flags_nothing(shared_data: Path) -> None:
    train, test = adult(shared_data, "adult_train.csv"), adult(shared_data, "adult_test.csv")
    table = drift.drift_table(train, test, *features(train, "income"), PARAMS)
    assert not table["drifted"].any(), table.loc[table["drifted"], ["column", "why"]]
    assert table["ks"].max() < 0.01 and table["effect"].max() < 0.05
    assert not drift.dataset_drift(table, PARAMS).detected


@pytest.mark.shared
def test_bank_marketing_in_time_order_drifts(shared_data: Path) -> None:
    bank = pd.read_csv(shared_data / "bank_marketing.csv")
    cut = int(len(bank) * 0.8)
    table = drift.drift_table(bank.iloc[:cut], bank.iloc[cut:], *features(bank, "y", ("duration",)), PARAMS)
    found = drift.dataset_drift(table, PARAMS)
    assert found.detected and found.share >= 0.5
    assert {"nr.employed", "euribor3m", "emp.var.rate", "month", "poutcome"} <= set(found.names)
    assert not table.set_index("column").loc["loan", "drifted"]


@pytest.mark.shared
@pytest.mark.parametrize(("rows", "method"), [(3000, "test"), (None, "effect")])
def test_random_halves_rarely_raise_a_dataset_alarm(shared_data: Path, rows: int | None, method: str) -> None:
    data = adult(shared_data, "adult_train.csv")
    data = data.sample(rows, random_state=0) if rows else data
    numeric, categorical = features(data, "income")
    alarms = 0
    for seed in range(25):
        order = np.random.default_rng(seed).permutation(len(data))
        half = len(data) // 2
        table = drift.drift_table(data.iloc[order[:half]], data.iloc[order[half:]], numeric, categorical, PARAMS)
        assert set(table["method"]) == {method}
        alarms += drift.dataset_drift(table, PARAMS).detected
    assert alarms / 25 <= 0.05
