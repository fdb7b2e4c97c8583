"""Drift between a reference and a current sample, per column and on predictions, fast on large data.

Each column is first summarised once (`profile`): a numeric column as its sorted present values,
a categorical one as its value counts (missing values counted as a level of their own). Every
statistic is then computed from the two summaries, which keeps a million rows to a sort or a
hash count per column:

- KS statistic: exact, as `scipy.stats.ks_2samp` computes it (both ECDFs evaluated with
  `np.searchsorted` at every reference value and just below it).
- KS p-value (small samples only): `scipy.stats.ks_2samp` on the present values themselves.
- Chi-squared p-value (small samples only): `scipy.stats.chi2_contingency` on the 2 × levels count
  table, exact from the counts; levels expected fewer than 5 times are pooled (Cochran's rule).
- Wasserstein distance (numeric effect size): BINNED — `scipy.stats.wasserstein_distance` between
  the two quantile functions on a grid of `QUANTILES` probabilities, divided by the reference's
  standard deviation (so 0.1 means a shift of a tenth of a standard deviation).
- Jensen–Shannon distance (categorical effect size): exact from the counts
  (`scipy.spatial.distance.jensenshannon`, base 2, so it lies in [0, 1]).
- PSI: BINNED — reference quantile bins for numeric columns (plus a missing bin), levels for
  categorical ones; shares floored at `PSI_FLOOR`; Σ (c − r) ln(c / r) via `scipy.special.rel_entr`.

Which statistic decides depends on the sample size: below `test_rows` rows on either side a
significance test, corrected across columns by Benjamini–Hochberg (`scipy.stats.false_discovery_control`);
above it an effect size, so that trivial shifts on huge samples do not alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats
from scipy.spatial import distance

from mlworkflow.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Kind = Literal["numeric", "categorical"]
Method = Literal["test", "effect"]

QUANTILES = 1000  # probabilities on which the Wasserstein distance compares quantile functions
PSI_FLOOR = 1e-4  # share given to an empty bin, so PSI stays finite
MIN_EXPECTED = 5.0  # chi-squared: levels expected fewer times than this are pooled
MISSING = "(missing)"
OTHER = "(other)"
COLUMNS = (
    "column", "kind", "method", "rows_reference", "rows_current", "effect", "effect_name", "psi", "psi_band",
    "ks", "p_value", "p_adjusted", "missing_reference", "missing_current", "drifted", "why",
)


@dataclass(frozen=True)
class DriftSettings:
    """When a column and the data drifted: the size that switches tests to effect sizes, thresholds, PSI bins."""

    test_rows: int
    alpha: float
    wasserstein_threshold: float
    js_threshold: float
    missing_threshold: float
    psi_bands: tuple[float, float]
    bins: int
    drift_share: float


# --- summaries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericSummary:
    """A numeric column: its present values sorted, and how many were missing."""

    values: FloatArray
    missing: int

    @property
    def rows(self) -> int:
        """Rows, missing ones included."""
        return int(self.values.size) + self.missing


@dataclass(frozen=True)
class CategoricalSummary:
    """A categorical column: the count of each level, missing values as the level MISSING."""

    counts: pd.Series

    @property
    def rows(self) -> int:
        """Rows, missing ones included."""
        return int(self.counts.sum())

    @property
    def missing(self) -> int:
        """Rows without a value."""
        return int(self.counts.get(MISSING, 0))


Summary = NumericSummary | CategoricalSummary


def summarize_numeric(values: Any) -> NumericSummary:
    """Sort the present values of a numeric column (text that is not a number counts as missing)."""
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = array[np.isfinite(array)]
    return NumericSummary(np.sort(present), int(array.size - present.size))


def summarize_categorical(values: Any) -> CategoricalSummary:
    """Count each level of a categorical column as text; missing values become the level MISSING."""
    series = pd.Series(values)
    counts = series.value_counts(dropna=True)
    counts.index = counts.index.map(str)
    counts = counts.groupby(level=0).sum()  # 1 and "1" are one level once read as text
    missing = int(series.isna().sum())
    if missing:
        counts = pd.concat([counts, pd.Series({MISSING: missing})])
    return CategoricalSummary(counts.astype(np.int64))


def profile(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> dict[str, Summary]:
    """Summaries of the named columns; a DataError names a column the frame lacks."""
    profiles: dict[str, Summary] = {}
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        for name in names:
            if name not in frame.columns:
                raise DataError(f"is not a column of the data (a {kind} feature of the model)", name)
            column = frame[name]
            profiles[name] = summarize_numeric(column) if kind == "numeric" else summarize_categorical(column)
    return profiles


# --- numeric statistics ------------------------------------------------------------------------------


def ks_statistic(reference: FloatArray, current: FloatArray) -> float:
    """Two-sample KS statistic of two sorted samples, exactly scipy.stats.ks_2samp's, in O(m log n)."""
    if reference.size == 0 or current.size == 0:
        return float("nan")
    levels = reference[np.r_[True, reference[1:] != reference[:-1]]]
    f_ref = np.searchsorted(reference, levels, side="right") / reference.size
    f_cur = np.searchsorted(current, levels, side="right") / current.size
    below = np.searchsorted(current, levels, side="left") / current.size  # the current ECDF just below each level
    f_ref_before = np.r_[0.0, f_ref[:-1]]
    return float(max(np.max(np.abs(f_ref - f_cur)), np.max(np.abs(f_ref_before - below))))


def quantile_function(values: FloatArray, points: int = QUANTILES) -> FloatArray:
    """The sample's quantiles (inverted ECDF) at `points` equally spaced mid-probabilities."""
    probabilities = (np.arange(points) + 0.5) / points
    index = np.clip(np.ceil(probabilities * values.size).astype(np.int64) - 1, 0, values.size - 1)
    return values[index]


def spread(reference: FloatArray) -> float:
    """The reference's standard deviation; for a constant column, max(|value|, 1) instead."""
    scale = float(np.std(reference)) if reference.size else 0.0
    return scale if scale > 0 else max(abs(float(reference[0])) if reference.size else 0.0, 1.0)


def wasserstein(reference: FloatArray, current: FloatArray, points: int = QUANTILES) -> float:
    """Wasserstein distance in reference standard deviations (binned: quantile functions on a grid)."""
    if reference.size == 0 or current.size == 0:
        return float("nan")
    distance_ = stats.wasserstein_distance(quantile_function(reference, points), quantile_function(current, points))
    return float(distance_) / spread(reference)


def quantile_edges(reference: FloatArray, bins: int) -> FloatArray:
    """Distinct inner bin edges at the reference's quantiles (ties merge bins)."""
    if reference.size == 0:
        return np.empty(0)
    probabilities = np.arange(1, bins) / bins
    index = np.clip(np.ceil(probabilities * reference.size).astype(np.int64) - 1, 0, reference.size - 1)
    inner = reference[index]
    return np.unique(inner[inner < reference[-1]])


def binned_counts(summary: NumericSummary, edges: FloatArray) -> IntArray:
    """Counts per bin (-inf, e1], (e1, e2], …, (ek, inf), then the missing count."""
    below = np.searchsorted(summary.values, edges, side="right")
    cumulative = np.r_[0, below, summary.values.size]
    counts: IntArray = np.r_[np.diff(cumulative), summary.missing].astype(np.int64)
    return counts


# --- categorical counts and shared statistics ---------------------------------------------------------


def aligned_counts(reference: CategoricalSummary, current: CategoricalSummary) -> tuple[IntArray, IntArray, list[str]]:
    """Both count vectors over the union of levels (reference levels first)."""
    levels = list(reference.counts.index) + [level for level in current.counts.index if level not in reference.counts.index]
    ref = reference.counts.reindex(levels, fill_value=0).to_numpy(dtype=np.int64)
    cur = current.counts.reindex(levels, fill_value=0).to_numpy(dtype=np.int64)
    return ref, cur, [str(level) for level in levels]


def shares(counts: IntArray) -> FloatArray:
    """Counts as shares (all zero for an empty sample)."""
    total = counts.sum()
    return counts / total if total else np.zeros(counts.size)


def psi(reference: IntArray, current: IntArray) -> float:
    """Population stability index of two count vectors over the same bins; shares floored at PSI_FLOOR."""
    ref = np.clip(shares(reference), PSI_FLOOR, None)
    cur = np.clip(shares(current), PSI_FLOOR, None)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum(special.rel_entr(cur, ref) + special.rel_entr(ref, cur)))


def psi_band(value: float, bands: tuple[float, float]) -> str:
    """'stable' below the first band, 'moderate' below the second, else 'major'."""
    if not np.isfinite(value):
        return "n/a"
    return "stable" if value < bands[0] else "moderate" if value < bands[1] else "major"


def js_distance(reference: IntArray, current: IntArray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) of two count vectors over the same levels."""
    if reference.sum() == 0 or current.sum() == 0:
        return float("nan")
    return float(distance.jensenshannon(shares(reference), shares(current), base=2))


def pooled_table(reference: IntArray, current: IntArray) -> npt.NDArray[np.int64]:
    """The 2 × levels table with levels expected fewer than MIN_EXPECTED times pooled into one."""
    total = reference + current
    smaller = min(reference.sum(), current.sum())
    rare = total * smaller / max(total.sum(), 1) < MIN_EXPECTED
    table = np.vstack([reference[~rare], current[~rare]])
    if rare.any():
        table = np.column_stack([table, [reference[rare].sum(), current[rare].sum()]])
    return table[:, table.sum(axis=0) > 0]


def chi2_pvalue(reference: IntArray, current: IntArray) -> float:
    """Chi-squared test of homogeneity on the pooled count table (1.0 when fewer than two levels remain)."""
    table = pooled_table(reference, current)
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        return 1.0
    return float(stats.chi2_contingency(table).pvalue)


def ks_pvalue(reference: FloatArray, current: FloatArray) -> float:
    """The KS test's p-value (scipy.stats.ks_2samp on the present values)."""
    if reference.size == 0 or current.size == 0:
        return 1.0
    return float(stats.ks_2samp(reference, current).pvalue)


# --- one column ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnDrift:
    """Every statistic of one column (`drifted` and `why` are decided later, across columns)."""

    column: str
    kind: Kind
    method: Method
    rows_reference: int
    rows_current: int
    effect: float
    effect_name: str
    psi: float
    psi_band: str
    ks: float | None
    p_value: float | None
    missing_reference: float
    missing_current: float


def choose_method(rows_reference: int, rows_current: int, settings: DriftSettings) -> Method:
    """A significance test when either sample has fewer than `test_rows` rows, else an effect size."""
    return "test" if min(rows_reference, rows_current) < settings.test_rows else "effect"


def missing_share(missing: int, rows: int) -> float:
    """Share of rows without a value (0 for no rows)."""
    return missing / rows if rows else 0.0


def numeric_drift(name: str, reference: NumericSummary, current: NumericSummary, method: Method,
                  settings: DriftSettings) -> ColumnDrift:
    """A numeric column's statistics: KS, normalised Wasserstein, PSI on reference quantile bins."""
    edges = quantile_edges(reference.values, settings.bins)
    value = psi(binned_counts(reference, edges), binned_counts(current, edges))
    return ColumnDrift(
        name, "numeric", method, reference.rows, current.rows,
        wasserstein(reference.values, current.values), "wasserstein / sd", value, psi_band(value, settings.psi_bands),
        ks_statistic(reference.values, current.values),
        ks_pvalue(reference.values, current.values) if method == "test" else None,
        missing_share(reference.missing, reference.rows), missing_share(current.missing, current.rows),
    )


def categorical_drift(name: str, reference: CategoricalSummary, current: CategoricalSummary, method: Method,
                      settings: DriftSettings) -> ColumnDrift:
    """A categorical column's statistics: chi-squared, Jensen–Shannon, PSI over the levels."""
    ref, cur, _levels = aligned_counts(reference, current)
    value = psi(ref, cur)
    return ColumnDrift(
        name, "categorical", method, reference.rows, current.rows,
        js_distance(ref, cur), "jensen-shannon", value, psi_band(value, settings.psi_bands), None,
        chi2_pvalue(ref, cur) if method == "test" else None,
        missing_share(reference.missing, reference.rows), missing_share(current.missing, current.rows),
    )


def column_drift(name: str, reference: Summary, current: Summary, method: Method, settings: DriftSettings) -> ColumnDrift:
    """The statistics of one column, numeric or categorical by its summaries."""
    if isinstance(reference, NumericSummary) and isinstance(current, NumericSummary):
        return numeric_drift(name, reference, current, method, settings)
    if isinstance(reference, CategoricalSummary) and isinstance(current, CategoricalSummary):
        return categorical_drift(name, reference, current, method, settings)
    raise DataError("is numeric on one side and categorical on the other", name)


# --- all columns: decide, correct, summarise ------------------------------------------------------------


def threshold(kind: str, settings: DriftSettings) -> float:
    """The effect size at or above which a column drifted."""
    return settings.wasserstein_threshold if kind == "numeric" else settings.js_threshold


def adjust(p_values: pd.Series) -> pd.Series:
    """Benjamini–Hochberg adjusted p-values (NaN where there was no test)."""
    adjusted = pd.Series(np.nan, index=p_values.index, dtype=np.float64)
    tested = p_values.notna()
    if tested.any():
        adjusted[tested] = stats.false_discovery_control(p_values[tested].to_numpy(dtype=np.float64), method="bh")
    return adjusted


def why(row: Mapping[str, Any], settings: DriftSettings) -> str:
    """Why a column drifted, in a few words ('' when it did not)."""
    missing = abs(row["missing_current"] - row["missing_reference"])
    if missing >= settings.missing_threshold:
        return f"missing share {row['missing_reference']:.0%} → {row['missing_current']:.0%}"
    if row["method"] == "test" and row["p_adjusted"] <= settings.alpha:
        test = "KS" if row["kind"] == "numeric" else "chi-squared"
        return f"{test} p = {row['p_adjusted']:.2g} after BH (≤ {settings.alpha:g})"
    if row["method"] == "effect" and row["effect"] >= threshold(row["kind"], settings):
        return f"{row['effect_name']} {row['effect']:.3f} (≥ {threshold(row['kind'], settings):g})"
    return ""


def decide(rows: Sequence[ColumnDrift], settings: DriftSettings) -> pd.DataFrame:
    """The drift table: one row per column, BH-adjusted p-values, `drifted` and `why`; largest effect first."""
    table = pd.DataFrame([asdict(row) for row in rows], columns=[c for c in COLUMNS if c not in ("p_adjusted", "drifted", "why")])
    table["p_value"] = pd.to_numeric(table["p_value"], errors="coerce")
    table["ks"] = pd.to_numeric(table["ks"], errors="coerce")
    table["p_adjusted"] = adjust(table["p_value"])
    table["why"] = [why({str(k): v for k, v in row.items()}, settings) for row in table.to_dict("records")]
    table["drifted"] = table["why"] != ""
    table = table.sort_values(["drifted", "effect"], ascending=[False, False], na_position="last", kind="stable")
    return table[list(COLUMNS)].reset_index(drop=True)


def compare(reference: Mapping[str, Summary], current: Mapping[str, Summary], settings: DriftSettings) -> pd.DataFrame:
    """The drift table of every column the reference profile holds."""
    missing = [name for name in reference if name not in current]
    if missing:
        raise DataError("is in the reference but not in the current data", missing[0])
    rows = []
    for name, summary in reference.items():
        method = choose_method(summary.rows, current[name].rows, settings)
        rows.append(column_drift(name, summary, current[name], method, settings))
    return decide(rows, settings)


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str],
                settings: DriftSettings) -> pd.DataFrame:
    """Profile both frames and compare them column by column."""
    return compare(profile(reference, numeric, categorical), profile(current, numeric, categorical), settings)


@dataclass(frozen=True)
class DatasetDrift:
    """The dataset-level rule applied: how many columns drifted, and whether that is enough."""

    columns: int
    drifted: int
    names: tuple[str, ...]
    share: float
    threshold: float
    method: str

    @property
    def detected(self) -> bool:
        """Whether at least `threshold` of the columns drifted (and at least one did)."""
        return self.drifted > 0 and self.share >= self.threshold


def dataset_drift(table: pd.DataFrame, settings: DriftSettings) -> DatasetDrift:
    """Apply the dataset-level rule (share of drifted columns) to a drift table."""
    drifted = table[table["drifted"]]
    methods = sorted(set(table["method"]))
    share = len(drifted) / len(table) if len(table) else 0.0
    return DatasetDrift(len(table), len(drifted), tuple(drifted["column"]), share, settings.drift_share, "+".join(methods))


def prediction_drift(reference: Any, current: Any, kind: Kind, name: str, settings: DriftSettings) -> pd.Series:
    """Drift of the model's outputs (scores or values numeric, labels categorical): one row, tested alone."""
    summarize = summarize_numeric if kind == "numeric" else summarize_categorical
    ref, cur = summarize(reference), summarize(current)
    row = column_drift(name, ref, cur, choose_method(ref.rows, cur.rows, settings), settings)
    return decide([row], settings).iloc[0]
