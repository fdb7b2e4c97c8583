"""Lift and gains by score decile, and the expected cost of errors per 1,000 rows across thresholds (binary)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlworkflow.core.scoring import FloatArray


def gains_table(truth: FloatArray, scores: FloatArray, bins: int = 10) -> pd.DataFrame:
    """Rows ranked by score, highest first, cut into `bins` equal parts: each part's positive rate and lift over the
    overall rate, and the cumulative share of all positives found by then (the gains curve)."""
    order = np.argsort(-scores, kind="stable")
    parts = np.array_split(truth[order] == 1, bins)
    rows = np.array([part.size for part in parts], dtype=np.float64)
    positives = np.array([part.sum() for part in parts], dtype=np.float64)
    overall = positives.sum() / rows.sum()
    rate = positives / np.maximum(rows, 1.0)
    return pd.DataFrame({
        "decile": np.arange(1, bins + 1), "rows": rows.astype(int), "positives": positives.astype(int),
        "positive_rate": rate, "lift": rate / overall if overall else np.nan,
        "share_of_rows": np.cumsum(rows) / rows.sum(),
        "share_of_positives": np.cumsum(positives) / positives.sum() if positives.sum() else np.nan,
        "cumulative_lift": (np.cumsum(positives) / np.cumsum(rows)) / overall if overall else np.nan,
    })


def cost_per_1000(fp: FloatArray, fn: FloatArray, n_rows: int, cost_fp: float, cost_fn: float) -> FloatArray:
    """The expected cost of errors per 1,000 rows: (cost_fp·FP + cost_fn·FN) / rows × 1,000."""
    cost: FloatArray = (cost_fp * fp + cost_fn * fn) / n_rows * 1000.0
    return cost
