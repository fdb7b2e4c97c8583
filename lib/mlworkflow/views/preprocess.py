"""Presentation for stage `preprocess`: what cleaning did, the split's balance, the transformer's steps and output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlworkflow.core import derived, expressions
from mlworkflow.core.features import FeatureSpec, as_text, is_text
from mlworkflow.views import tables
from mlworkflow.views.labels import kind_label


def clean_summary(raw: pd.DataFrame, cleaned: pd.DataFrame, dropped: Mapping[str, str]) -> pd.DataFrame:
    """One row per raw column: what it holds and its missing values before and after cleaning, and what happened."""
    rows = []
    for column in raw.columns:
        after = cleaned[column] if column in cleaned.columns else None
        coerced = after is not None and is_text(raw[column]) and pd.api.types.is_numeric_dtype(after.dtype)
        action = (
            f"dropped: {dropped[column]}" if column in dropped else "text → number" if coerced else "kept"
        )
        rows.append(
            {
                "column": column,
                "holds": kind_label(raw[column].dtype),
                "holds after": kind_label(after.dtype) if after is not None else pd.NA,
                "missing": int(raw[column].isna().sum()),
                "missing after": int(after.isna().sum()) if after is not None else pd.NA,
                "action": action,
            }
        )
    return pd.DataFrame(rows).set_index("column")


def row_summary(raw: pd.DataFrame, cleaned: pd.DataFrame, target: str) -> pd.Series:
    """Rows in, rows removed (no target, duplicates) and rows out."""
    unlabeled = int(raw[target].isna().sum())
    counts = {
        "rows in": len(raw),
        "rows without a target": unlabeled,
        "duplicate rows removed": len(raw) - unlabeled - len(cleaned),
        "rows out": len(cleaned),
    }
    return pd.Series(counts, name="rows")


def class_balance(train: pd.DataFrame, test: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows and share of each class in train and test."""
    counts = pd.DataFrame({"train": train[target].value_counts(), "test": test[target].value_counts()})
    counts = counts.fillna(0).astype(int).sort_index(key=lambda index: index.astype(str))
    shares = (counts / counts.sum()).round(3)
    table = pd.concat([counts.add_suffix(" rows"), shares.add_suffix(" share")], axis=1)
    shown = table[["train rows", "train share", "test rows", "test share"]].rename_axis(target)
    return tables.table(shown, percent=["train share", "test share"])


def target_summary(train: pd.DataFrame, test: pd.DataFrame, target: str) -> pd.DataFrame:
    """Distribution of a numeric target in train and test."""
    table = pd.DataFrame({"train": train[target].describe(), "test": test[target].describe()})
    return table.round(3).rename_axis(target)


def balance(train: pd.DataFrame, test: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Class balance per split (classification) or the target's distribution (regression)."""
    if spec.task == "regression":
        return target_summary(train, test, spec.target)
    return class_balance(train, test, spec.target)


def describe_step(step: Any) -> str:
    """A short human label for one pipeline step."""
    if isinstance(step, SimpleImputer):
        fill = f" {step.fill_value!r}" if step.strategy == "constant" else ""
        return f"impute {step.strategy}{fill}" + (" + missing indicators" if step.add_indicator else "")
    if isinstance(step, OneHotEncoder):
        return f"one-hot (min_frequency={step.min_frequency}, max_categories={step.max_categories})"
    if isinstance(step, FunctionTransformer):
        return "values as text"
    if hasattr(step, "ngram_range") and hasattr(step, "analyzer"):  # TF-IDF, or skrub's StringEncoder (TF-IDF + SVD)
        low, high = step.ngram_range
        reduced = f", reduced to {step.n_components} SVD components" if hasattr(step, "n_components") else ""
        bound = f", the {step.max_features:,} most frequent" if getattr(step, "max_features", None) else ""
        return f"TF-IDF of {step.analyzer} {low}–{high}-grams{bound}{reduced}"
    return "scale to mean 0, sd 1" if isinstance(step, StandardScaler) else type(step).__name__


def column_count(columns: Any) -> int:
    """How many input columns a block takes (a text block takes one, named as a string)."""
    return 1 if isinstance(columns, str) else len(columns)


def preprocessor_steps(preprocessor: ColumnTransformer) -> pd.DataFrame:
    """One row per step of each block of the transformer, in order, with the block's input count."""
    rows = [
        {"block": name, "step": number, "features in": column_count(columns), "does": describe_step(step)}
        for name, pipe, columns in preprocessor.transformers
        for number, (_, step) in enumerate(getattr(pipe, "steps", [("", pipe)]), start=1)
    ]
    return pd.DataFrame(rows).set_index(["block", "step"])


def feature_table(train: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """One row per feature: kind, what it holds, distinct values and missing share in train (shown as %)."""
    rows = [
        {
            "feature": name,
            "kind": "numeric" if name in spec.numeric else "text" if name in spec.text
            else "datetime" if name in spec.datetime else "categorical",
            "holds": kind_label(train[name].dtype),
            "distinct": int(train[name].nunique()),
            "missing share": round(float(train[name].isna().mean()), 3),
        }
        for name in spec.features
    ]
    rows += [derived_row(train, name, formula) for name, formula in spec.derived.items()]
    return tables.table(pd.DataFrame(rows).set_index("feature"), percent=["missing share"])


def derived_row(train: pd.DataFrame, name: str, formula: str) -> dict[str, Any]:
    """A derived feature's row of the feature table, its values computed on train as the pipeline does."""
    values = pd.Series(derived.numbers(expressions.parse(formula), train))
    return {"feature": name, "kind": f"derived: {formula}", "holds": kind_label(values.dtype), "distinct": int(values.nunique()),
            "missing share": round(float(values.isna().mean()), 3)}


def output_summary(fitted: ColumnTransformer | Pipeline) -> pd.DataFrame:
    """Features in and columns out per block of a fitted preprocessor (after its derive step, if any), with a total."""
    fitted = fitted[-1] if isinstance(fitted, Pipeline) else fitted
    rows = []
    for name, _, columns in fitted.transformers_:
        out = fitted.output_indices_[name]
        if name != "remainder":
            rows.append({"block": name, "features in": column_count(columns), "columns out": out.stop - out.start})
    table = pd.DataFrame(rows).set_index("block")
    table.loc["total"] = table.sum()
    return table


def matrix_checks(train_matrix: pd.DataFrame, test_matrix: pd.DataFrame,
                  split_rows: tuple[int, int] | None = None) -> pd.DataFrame:
    """Rows, columns and missing values of the transformed train and test matrices; with `split_rows` (the splits'
    sizes) also the rows of each split, which a matrix of a sample (`preprocess.preview_rows`) has fewer of."""
    rows = {
        name: {"rows": len(m), "columns": m.shape[1], "missing values": int(m.isna().sum().sum())}
        for name, m in [("train", train_matrix), ("test", test_matrix)]
    }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("matrix")
    return table if split_rows is None else table.assign(**{"rows in split": list(split_rows)})


def matrix_sample(matrix: pd.DataFrame, rows: int, seed: int, decimals: int = 3) -> pd.DataFrame:
    """A reproducible sample of transformed rows, rounded for display (without their row numbers, which mean
    nothing to a reader)."""
    return matrix.sample(min(rows, len(matrix)), random_state=seed).round(decimals).reset_index(drop=True)


def unseen_categories(train: pd.DataFrame, test: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Per categorical feature: test values never seen in train, and how many test rows have one."""
    rows = []
    for name in spec.categorical:
        seen = set(as_text(train[[name]])[name].dropna())
        values = as_text(test[[name]])[name].dropna()
        new = values[~values.isin(seen)]
        rows.append({"feature": name, "unseen values": int(new.nunique()), "test rows": len(new)})
    return pd.DataFrame(rows, columns=["feature", "unseen values", "test rows"]).set_index("feature")

