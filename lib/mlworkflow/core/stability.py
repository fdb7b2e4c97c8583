"""Small-data robustness for model selection: how many repeats of k-fold, and which tied candidate varies least.

Repeats: on few rows, one k-fold partition gives an estimate that depends on how the rows happened to fall into
folds; repeating it with fresh partitions averages that out (Kohavi 1995; Bouckaert & Frank 2004 compare learners
on 10 × 10-fold cross-validation). `auto_repeats` repeats until the candidates have made TARGET_PREDICTIONS
held-out predictions (each repeat predicts every row once), at most MAX_REPEATS: 10 repeats at 1,000 rows and
below, 2 at 5,000 rows (select's default subsample, so large data keeps its two repeats), 1 from 10,000 rows on.

Stability: among candidates whose gap to the best is not significant, the scores cannot tell them apart, so the
one whose fold scores vary least is preferred — its score depends less on which rows it was trained and tested
on. Standard deviations estimated from n fold scores are noisy themselves (standard error about
sd / √(2(n − 1)), normal approximation), so a candidate counts as steadier only when its standard deviation is
below the best's by more than twice that: a ratio below 1 − √(2 / (n − 1)) (0.53 at 10 folds, 0.80 at 50).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlworkflow.core.crossval import corrected_ttest

TARGET_PREDICTIONS = 10_000  # held-out predictions per candidate that auto repeats aim for
MAX_REPEATS = 10  # Bouckaert & Frank's 10 × 10: beyond it, repeats add time more than information
RULE = (
    "among the candidates whose gap to the best is not significant (corrected t-test, p ≥ alpha), the one whose fold "
    "scores vary least is chosen first when their standard deviation is below the best's by more than twice its "
    "standard error: a ratio below 1 − √(2/(n − 1)) for n fold scores"
)


def auto_repeats(rows: int) -> int:
    """Repeats of k-fold so that rows × repeats reaches TARGET_PREDICTIONS, between 1 and MAX_REPEATS."""
    return max(1, min(MAX_REPEATS, math.ceil(TARGET_PREDICTIONS / max(rows, 1))))


@dataclass(frozen=True)
class FoldDesign:
    """The folds a comparison runs: k folds × repeats of `rows` rows; `auto` when `auto_repeats` set the repeats."""

    folds: int
    repeats: int
    rows: int
    auto: bool

    @property
    def optional_after(self) -> int | None:
        """With auto repeats, the folds after which repeats run only while the time budget allows; else None."""
        return self.folds if self.auto and self.repeats > 1 else None

    @property
    def rule(self) -> str:
        """How the repeats were set, in one sentence."""
        if not self.auto:
            return f"{self.repeats} repeats of {self.folds} folds, as set"
        return (f"auto: {self.repeats} repeats of {self.folds} folds, so that {self.rows:,} rows × repeats reaches "
                f"{TARGET_PREDICTIONS:,} held-out predictions (at most {MAX_REPEATS}); repeats after the first run "
                "only while the time budget allows")


def design(folds: int, repeats: int | str, rows: int) -> FoldDesign:
    """The folds for `rows` rows: `repeats` as given, or "auto" (`auto_repeats`)."""
    if repeats == "auto":
        return FoldDesign(folds, auto_repeats(rows), rows, True)
    return FoldDesign(folds, int(repeats), rows, False)


def steadier_ratio(n_scores: int) -> float:
    """The largest ratio of standard deviations (candidate / best) that counts as steadier, for n fold scores."""
    return max(0.0, 1.0 - math.sqrt(2.0 / max(n_scores - 1, 1)))


@dataclass(frozen=True)
class Preference:
    """A steadier family preferred over the best one: the gap and its p-value, both fold-score deviations."""

    family: str
    over: str
    gap: float  # mean score of `over` minus this family's (scorer sign, ≥ 0 when `over` is better)
    p_value: float
    std: float
    std_over: float
    ratio_bar: float  # std / std_over had to be below it
    folds: int

    def as_dict(self) -> dict[str, float | str | int]:
        """select.json's record of the preference."""
        return {
            "family": self.family, "over": self.over, "gap": round(self.gap, 6), "p_value": round(self.p_value, 6),
            "std": round(self.std, 6), "std_over": round(self.std_over, 6), "ratio_bar": round(self.ratio_bar, 4),
            "folds": self.folds,
        }


def compared(best: Sequence[float], other: Sequence[float], sizes: tuple[int, int]) -> tuple[float, float]:
    """Gap (mean of best minus the other's, on their common folds) and the corrected t-test's one-sided p-value."""
    n = min(len(best), len(other))
    theirs, mine = np.asarray(best[:n], dtype=float), np.asarray(other[:n], dtype=float)
    return float(theirs.mean() - mine.mean()), corrected_ttest(theirs - mine, *sizes)[1]


def steadiest(
    best: str, scores: Mapping[str, Sequence[float]], candidates: Sequence[str], sizes: tuple[int, int], alpha: float
) -> Preference | None:
    """The candidate not significantly worse than `best` whose fold scores vary clearly least, or None."""
    reference = np.asarray(scores[best], dtype=float)
    if len(reference) < 3 or float(reference.std()) == 0.0:
        return None
    bar = steadier_ratio(len(reference))
    found: list[Preference] = []
    for family in (name for name in candidates if name != best):
        gap, p_value = compared(scores[best], scores[family], sizes)
        std = float(np.std(scores[family]))
        if p_value >= alpha and std < bar * float(reference.std()):
            found.append(Preference(family, best, gap, p_value, std, float(reference.std()), bar, len(reference)))
    return min(found, key=lambda p: p.std) if found else None
