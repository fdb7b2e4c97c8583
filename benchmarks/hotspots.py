"""The two per-row hot spots of issue 13.7 before and after, side by side in one process on the same synthetic rows.

1. reading.row_lines: the line each CSV row starts on and its width check. Before: the csv module's reader,
   record by record (`reading.walked_lines`, still the path for files with quotes). After: plain files
   counted with NumPy (`reading.row_lines`). Both read the same gzip file; both results are compared.
2. The ordinal encoding of the native families (HGB, LightGBM): fit_transform of `features.ordinal_preprocessor`
   with max_categories=255. Before: a spec without `levels` (as older preprocess.json), so scikit-learn counts
   every value of every categorical column to find infrequent levels. After: the spec with `levels` (what
   stage preprocess now records), which skips the count when no column has more than 255 levels. Both outputs
   are compared.
3. reading.check_frame's test for numbers left as text (thousands separators, decimal commas) on every text column.
   Before: each row's value converted to text and stripped, then counted (`texts_per_row`, the code before).
   After: each distinct value counted, then converted and stripped once (`reading.distinct_texts`). Both counts
   are compared.
The rows are Adult resampled with noise (benchmarks/scale.py's `synthetic`), written to a temporary folder.
Each measurement runs `--repeats` times and keeps its fastest; the load average is printed with the figures.
Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hotspots.py [--rows 300000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scale import synthetic  # type: ignore[import-not-found]  # benchmarks/ is on the path of its scripts

from mlworkflow import reading
from mlworkflow.core import features
from mlworkflow.params import ReadOptions

TARGET = "income"


def fastest(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest of `repeats` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return min(times), result


def walked(path: Path) -> np.ndarray:
    """Row lines by the csv module's reader (the path before, kept for quoted files)."""
    with reading.open_text(path, "utf-8") as handle:
        return reading.walked_lines(io.StringIO(handle.read(), newline=""), ",", str(path))


def row_lines(path: Path, repeats: int) -> dict[str, Any]:
    """The row walk before and after on one file."""
    before, old = fastest(lambda: walked(path), repeats)
    after, new = fastest(lambda: reading.row_lines(path, ",", ReadOptions()), repeats)
    return {"hot spot": "reading.row_lines", "before s": before, "after s": after, "same": np.array_equal(old, new)}


def texts_per_row(values: pd.Series) -> pd.Series:
    """The distinct stripped texts' counts as check_grouped_numbers made them before: per row, then counted."""
    texts = values.dropna().astype(str).str.strip()
    return texts[texts != ""].value_counts()


def text_numbers(frame: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """The distinct texts of every text column, per row before and per distinct value after."""
    columns = [frame[c] for c in frame.columns if features.is_text(frame[c])]
    before, old = fastest(lambda: [texts_per_row(v) for v in columns], repeats)
    after, new = fastest(lambda: [reading.distinct_texts(v) for v in columns], repeats)
    same = all(a.sort_index().to_dict() == b.sort_index().to_dict() for a, b in zip(old, new, strict=True))
    return {"hot spot": "reading.check_frame text numbers", "before s": before, "after s": after, "same": same}


def spec_of(frame: pd.DataFrame, known: bool) -> features.FeatureSpec:
    """Adult's feature spec, with the categorical columns' `levels` recorded or not (an older record)."""
    categorical = tuple(c for c in frame.columns if c != TARGET and features.is_text(frame[c]))
    numeric = tuple(c for c in frame.columns if c not in categorical and c != TARGET)
    levels = features.most_levels(frame, categorical) if known else None
    return features.FeatureSpec(target=TARGET, task="binary", numeric=numeric, categorical=categorical, levels=levels)


def encoding(frame: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """The native families' ordinal encoding before and after on the same rows."""
    X = frame.drop(columns=[TARGET])
    runs = {known: fastest(lambda k=known: features.ordinal_preprocessor(spec_of(frame, k), 255).fit_transform(X),
                           repeats) for known in (False, True)}
    same = runs[False][1].equals(runs[True][1])
    return {"hot spot": "ordinal encoding fit", "before s": runs[False][0], "after s": runs[True][0], "same": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    frame = features.replace_markers(synthetic(args.rows, seed=args.rows), ["?"])
    with tempfile.TemporaryDirectory(prefix="mlw-hotspots-") as folder:
        path = Path(folder) / "adult.csv.gz"
        frame.to_csv(path, index=False)
        print(f"{args.rows:,} rows; load average before: {os.getloadavg()}", flush=True)
        read = pd.read_csv(path, skipinitialspace=True)  # as the data stage reads it (pyarrow-backed text)
        found = [row_lines(path, args.repeats), encoding(frame, args.repeats), text_numbers(read, args.repeats)]
        table = pd.DataFrame(found).set_index("hot spot")
    table["speed-up"] = table["before s"] / table["after s"]
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
