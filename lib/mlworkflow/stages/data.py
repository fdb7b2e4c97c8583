"""Stage `data`: collect the source, check the target, profile the columns, flag identifiers and leaks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_float_dtype, is_numeric_dtype

from mlworkflow import io
from mlworkflow.core import derived, expressions, roles
from mlworkflow.core.features import Task
from mlworkflow.core.roles import ColumnRole
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError, did_you_mean
from mlworkflow.params import DataParams
from mlworkflow.reading import Parsed
from mlworkflow.records import DataRecord, ReadReport

MAX_CLASSES = 20  # an integer target with more distinct values than this is a regression target
MIN_CLASS_ROWS = 2  # a stratified split and cross-validation need two rows of every class
LEAK_SAMPLE = 5000  # rows used to score single-column predictiveness (keeps it well under 2 s)
LEAK_FOLDS = 5
CORRELATION_ROWS = 100_000  # a seeded sample past this: a correlation's standard error there is ~0.003, below its rounding
LEAK_BINS = 50
TOP_LEVELS = 10


@dataclass(frozen=True)
class Profile:
    """The data profile: tables for the notebook, `to_json()` for data.json."""

    columns: pd.DataFrame
    balance: pd.DataFrame
    numeric: pd.DataFrame
    categories: pd.DataFrame
    pearson: pd.DataFrame
    spearman: pd.DataFrame
    leak_scores: pd.DataFrame
    identifiers: dict[str, str] = field(default_factory=dict)
    leaks: dict[str, str] = field(default_factory=dict)
    roles: dict[str, ColumnRole] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (NaN becomes null)."""
        return {
            "columns": _json(self.columns, "index"),
            "balance": _json(self.balance, "index"),
            "numeric": _json(self.numeric, "index"),
            "categories": _json(self.categories, "records"),
            "pearson": _json(self.pearson, "index"),
            "spearman": _json(self.spearman, "index"),
            "leak_scores": _json(self.leak_scores, "index"),
            "identifiers": dict(self.identifiers),
            "leaks": dict(self.leaks),
            "roles": {name: {"role": found.role, "reason": found.reason} for name, found in self.roles.items()},
        }


def _json(table: pd.DataFrame, orient: Literal["index", "records"]) -> Any:
    return json.loads(table.to_json(orient=orient, double_precision=6))


# --- collect -------------------------------------------------------------------------------------


def source_label(params: DataParams) -> str:
    """A short, shareable name for the source: the file name, or the SQL URL without its password."""
    if params.path is not None:
        return Path(params.path).name
    from sqlalchemy.engine import make_url

    return make_url(str(params.sql_url)).render_as_string(hide_password=True)


def read_table(params: DataParams) -> tuple[Parsed, str]:
    """Read the whole source with `read`'s options: the frame and how it was parsed, and its SHA-256
    (file bytes, or frame content for SQL)."""
    if params.path is not None:
        return io.read_table(params.path, params.read), io.file_sha256(Path(params.path))
    if params.sql_url is None or params.sql_query is None:
        raise DataError("no source: set 'path', or both 'sql_url' and 'sql_query'")
    parsed = io.read_sql_table(params.sql_url, params.sql_query, params.read)
    return parsed, io.frame_sha256(parsed.frame)


def read_source(params: DataParams) -> tuple[pd.DataFrame, str]:
    """Read the whole source; return the frame and its SHA-256."""
    parsed, sha = read_table(params)
    return parsed.frame, sha


def sample(frame: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of `rows` rows in source order (the whole frame when rows is None)."""
    if rows is None or rows >= len(frame):
        return frame
    return frame.sample(rows, random_state=seed).sort_index().reset_index(drop=True)


def collect(params: DataParams, seed: int) -> tuple[pd.DataFrame, str]:
    """Read the source and sample it: the frame to work on and the source's SHA-256."""
    frame, sha = read_source(params)
    return sample(frame, params.sample_rows, seed), sha


# --- target --------------------------------------------------------------------------------------


def _is_number(values: pd.Series) -> bool:
    return is_numeric_dtype(values) and not is_bool_dtype(values)


def _integer_valued(values: pd.Series) -> bool:
    if not is_float_dtype(values):
        return True
    finite = values.dropna().to_numpy(dtype=float)
    return bool(np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)))


def class_labels(y: pd.Series) -> tuple[str, ...]:
    """The sorted distinct values of a target, as strings."""
    return tuple(sorted({str(value) for value in y.dropna().unique()}))


def detect_task(y: pd.Series, requested: str = "auto") -> Task:
    """The task for a target with no missing values: the requested one, checked, or inferred."""
    name, labels = str(y.name), class_labels(y)
    if len(labels) < 2:
        shown = labels[0] if labels else "nothing"
        raise DataError(f"target is constant (every row is '{shown}'); a model needs 2 or more values", name)
    if requested == "regression" and not _is_number(y):
        raise DataError(f"task 'regression' needs a numeric target, found dtype {y.dtype}", name)
    if requested == "binary" and len(labels) != 2:
        raise DataError(f"task 'binary' needs exactly 2 classes, found {len(labels)}: {_few(labels)}", name)
    if requested == "multiclass" and len(labels) < 3:
        raise DataError(f"task 'multiclass' needs 3 or more classes, found {list(labels)}; use 'binary'", name)
    if requested in ("binary", "multiclass", "regression"):
        return requested  # type: ignore[return-value]
    if _is_number(y) and (len(labels) > MAX_CLASSES or not _integer_valued(y)):
        return "regression"
    return "binary" if len(labels) == 2 else "multiclass"


def _few(labels: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(f"'{label}'" for label in labels[:limit])
    return shown + (f", ... ({len(labels) - limit} more)" if len(labels) > limit else "")


def check_class_sizes(y: pd.Series) -> None:
    """Every class needs at least MIN_CLASS_ROWS rows."""
    counts = y.astype(str).value_counts()
    small = counts[counts < MIN_CLASS_ROWS]
    if not small.empty:
        label, rows = str(small.index[0]), int(small.iloc[0])
        reason = f"class '{label}' has only {rows} row; every class needs {MIN_CLASS_ROWS} or more rows"
        raise DataError(reason + f" ({len(small)} such classes)", str(y.name))


def positive_class(y: pd.Series, requested: str | None) -> str:
    """A binary target's positive class: the requested one (checked) or the minority class."""
    labels = class_labels(y)
    if requested is not None:
        if requested not in labels:
            hint = did_you_mean(requested, labels)
            raise DataError(f"positive_class '{requested}' is not a class; classes are {list(labels)}.{hint}",
                            str(y.name))
        return requested
    counts = y.astype(str).value_counts()
    return min(labels, key=lambda label: (counts[label], -labels.index(label)))


def _target_column(frame: pd.DataFrame, name: str, source: str | None) -> pd.Series:
    if name not in frame.columns:
        columns = [str(c) for c in frame.columns]
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        reason = f"target column not found among the {len(columns)} columns ({shown}).{did_you_mean(name, columns)}"
        raise DataError(reason, name, source)
    y = frame[name]
    if y.isna().all():
        raise DataError("target is missing in every row", name, source)
    return y


def derive_target(frame: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    """The frame with the target computed by `data.target_expression` (if set) in place of the columns it reads.

    The columns the formula reads are removed: they hold the target by construction (`num` in "num > 0").
    A comparison gives 1 or 0, missing where an input is (such rows are then dropped like unlabelled ones).
    """
    if params.target_expression is None:
        return frame
    try:
        parsed = expressions.parse(params.target_expression)
        values = derived.numbers(parsed, frame)
    except expressions.ExpressionError as exc:
        raise DataError(str(exc), params.target, "data.target_expression") from None
    return frame.drop(columns=list(parsed.columns)).assign(**{params.target: values})


def check_target(frame: pd.DataFrame, params: DataParams) -> tuple[pd.DataFrame, Target, int]:
    """Check the target (derived first by `data.target_expression`); drop rows where it is missing.

    Returns the frame, the target's description and the rows dropped.
    """
    source = source_label(params)
    frame = derive_target(frame, params)
    y = _target_column(frame, params.target, source)
    kept = frame.loc[y.notna()].reset_index(drop=True)
    try:
        task = detect_task(kept[params.target], params.task)
        if task != "regression" and is_float_dtype(kept[params.target]):
            kept[params.target] = kept[params.target].astype("int64")  # labels '1', not '1.0'
        y = kept[params.target]
        positive = _positive(y, task, params.positive_class)
        if task != "regression":
            check_class_sizes(y)
    except DataError as exc:
        raise DataError(exc.reason, exc.column, source) from None
    classes = () if task == "regression" else class_labels(y)
    return kept, Target(params.target, task, classes, positive), len(frame) - len(kept)


def _positive(y: pd.Series, task: Task, requested: str | None) -> str | None:
    if task == "binary":
        return positive_class(y, requested)
    if requested is not None:
        raise DataError(f"positive_class '{requested}' is only used for a binary target; this is {task}",
                        str(y.name))
    return None


def describe_target(target: Target) -> str:
    """'income (binary)'."""
    return f"{target.name} ({target.task})"


# --- profile tables ------------------------------------------------------------------------------


def numeric_columns(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Numeric (not boolean) columns, in frame order."""
    return [str(c) for c in frame.columns if c not in exclude and _is_number(frame[c])]


def categorical_columns(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Every other non-datetime column: text, category, boolean."""
    numeric = set(numeric_columns(frame))
    return [
        str(c) for c in frame.columns
        if c not in exclude and c not in numeric and not is_datetime64_any_dtype(frame[c])
    ]


def column_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: dtype, missing count and share, distinct values."""
    missing = frame.isna().sum()
    return pd.DataFrame(
        {
            "dtype": [str(t) for t in frame.dtypes],
            "missing": missing.astype(int),
            "missing share": (missing / max(len(frame), 1)).round(4),
            "distinct": frame.nunique().astype(int),
        },
        index=pd.Index([str(c) for c in frame.columns], name="column"),
    )


def balance_table(frame: pd.DataFrame, target: Target) -> pd.DataFrame:
    """Classification: rows and share per class; regression: the target's summary statistics."""
    y = frame[target.name]
    if target.task == "regression":
        return y.describe().round(4).to_frame(target.name)
    counts = y.astype(str).value_counts().reindex(list(target.classes), fill_value=0)
    table = pd.DataFrame({"rows": counts.astype(int), "share": (counts / len(y)).round(4)})
    return table.rename_axis(target.name)


def numeric_table(frame: pd.DataFrame, target: Target) -> pd.DataFrame:
    """Summary statistics of each numeric feature (one row per column)."""
    columns = numeric_columns(frame, (target.name,))
    if not columns:
        return pd.DataFrame(columns=["count", "mean", "std", "min", "25%", "50%", "75%", "max"])
    return frame[columns].describe().T.round(4).rename_axis("column")


def category_table(frame: pd.DataFrame, target: Target, top: int = TOP_LEVELS) -> pd.DataFrame:
    """The `top` most frequent levels of each categorical feature (missing shown as a level)."""
    parts = []
    for column in categorical_columns(frame, (target.name,)):
        counts = frame[column].astype(str).where(frame[column].notna(), "(missing)").value_counts()
        head = counts.head(top)
        parts.append(pd.DataFrame({"column": column, "level": head.index, "rows": head.to_numpy(),
                                   "share": (head / len(frame)).round(4).to_numpy(),
                                   "levels": len(counts)}))
    if not parts:
        return pd.DataFrame(columns=["column", "level", "rows", "share", "levels"])
    return pd.concat(parts, ignore_index=True)


def correlation_frame(frame: pd.DataFrame, target: Target) -> pd.DataFrame:
    """Numeric features plus the target when it is a number (binary: 1 for the positive class)."""
    numeric = frame[numeric_columns(frame, (target.name,))].astype(float)
    if target.task == "binary":
        y = (frame[target.name].astype(str) == target.positive).astype(float)
        return numeric.assign(**{target.name: y})
    if target.task == "regression":
        return numeric.assign(**{target.name: frame[target.name].astype(float)})
    return numeric


def correlations(frame: pd.DataFrame, target: Target, method: Literal["pearson", "spearman"]) -> pd.DataFrame:
    """Pairwise correlations of the numeric columns (and a numeric target)."""
    return correlation_frame(frame, target).corr(method=method).round(3)


# --- identifiers ---------------------------------------------------------------------------------


def identifier_reason(values: pd.Series) -> str | None:
    """Why a column looks like an identifier (unique per row, no words shared between rows), or None."""
    found = roles.detect(values)
    return found.reason if found.role == "identifier" else None


def find_identifiers(frame: pd.DataFrame, target: str) -> dict[str, str]:
    """Columns that identify rows: {column: reason} (free text is a feature, not an identifier)."""
    found = roles.detect_all(frame, target)
    return {column: role.reason for column, role in found.items() if role.role == "identifier"}


# --- leaks ---------------------------------------------------------------------------------------


def group_codes(values: pd.Series, bins: int = LEAK_BINS) -> np.ndarray:
    """Integer groups: each value of a category or few-valued number, else a quantile bin; NaN is a group."""
    if _is_number(values) and values.nunique() > bins:
        values = pd.qcut(values, q=bins, duplicates="drop")
    elif not _is_number(values):
        values = values.astype(str).where(values.notna(), None)
    codes, _ = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


def out_of_fold_means(codes: np.ndarray, folds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each row, the mean of `y` (n×m) over rows of its group in the other folds (their mean if none)."""
    n_groups, n_folds = int(codes.max()) + 1, int(folds.max()) + 1
    key = folds * n_groups + codes
    count = np.bincount(key, minlength=n_folds * n_groups).reshape(n_folds, n_groups).astype(float)
    sums = np.stack(
        [np.bincount(key, weights=y[:, j], minlength=n_folds * n_groups) for j in range(y.shape[1])], axis=-1
    ).reshape(n_folds, n_groups, y.shape[1])
    train_count = count.sum(0)[codes] - count[folds, codes]
    train_sum = sums.sum(0)[codes] - sums[folds, codes]
    fold_total = sums.sum(1)
    prior = (fold_total.sum(0) - fold_total[folds]) / (len(codes) - count.sum(1)[folds])[:, None]
    has = train_count > 0
    result: np.ndarray = np.where(has[:, None], train_sum / np.maximum(train_count, 1.0)[:, None], prior)
    return result


def _target_matrix(y: pd.Series, target: Target) -> np.ndarray:
    """The target as an n×m float matrix: the value, the positive-class indicator, or one-hot classes."""
    if target.task == "regression":
        return np.asarray(y.to_numpy(dtype=float)).reshape(-1, 1)
    labels = np.asarray(y.astype(str).to_numpy())
    classes = [target.positive] if target.task == "binary" else list(target.classes)
    return np.asarray(labels[:, None] == np.asarray(classes)[None, :], dtype=float)


def _score(truth: np.ndarray, predicted: np.ndarray, task: Task) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(truth[:, 0], predicted[:, 0]))
    both = (truth.min(0) == 0) & (truth.max(0) == 1)  # classes with positives and negatives here
    if not both.any():
        return float("nan")
    return float(roc_auc_score(truth[:, both], predicted[:, both], average="macro"))


LEAK_METRICS: dict[str, str] = {"binary": "ROC AUC", "multiclass": "macro ROC AUC (one-vs-rest)",
                                "regression": "R² (or |Spearman ρ|)"}


def column_score(values: pd.Series, y: pd.Series, target: Target, folds: np.ndarray) -> float:
    """How well one column alone predicts the target, out of fold (a grouped-target purity score)."""
    values = roles.as_numbers(values)
    truth = _target_matrix(y, target)
    score = _score(truth, out_of_fold_means(group_codes(values), folds, truth), target.task)
    if target.task == "regression" and _is_number(values):
        rho = values.astype(float).corr(y.astype(float), method="spearman")
        score = max(score, abs(float(rho)) if pd.notna(rho) else 0.0)
    return score


def leak_scores(frame: pd.DataFrame, target: Target, seed: int) -> pd.DataFrame:
    """Each feature's single-column predictive score on a seeded sample, highest first."""
    rows = sample(frame, LEAK_SAMPLE, seed)
    folds = np.random.default_rng(seed).permutation(len(rows)) % LEAK_FOLDS
    y = rows[target.name]
    scores = {str(c): column_score(rows[c], y, target, folds) for c in rows.columns if c != target.name}
    table = pd.DataFrame({"score": pd.Series(scores, dtype=float).round(4)}).rename_axis("column")
    table["metric"] = LEAK_METRICS[target.task]
    return table.sort_values("score", ascending=False, kind="stable")


def recovered_leaks(frame: pd.DataFrame, target: Target, scores: pd.DataFrame, threshold: float, seed: int) -> dict[str, str]:
    """Columns from which a numeric target is recovered almost exactly with one or two others (`roles.identity_leaks`)."""
    if target.task != "regression":  # an identity adds amounts; a class is no sum of columns
        return {}
    rows = sample(frame, roles.IDENTITY_ROWS, seed)
    folds = np.random.default_rng(seed).permutation(len(rows)) % LEAK_FOLDS
    return roles.identity_leaks(rows, target.name, [str(c) for c in scores.index], threshold, folds)


def find_leaks(scores: pd.DataFrame, threshold: float) -> dict[str, str]:
    """Columns whose single-column score reaches the threshold: {column: reason}."""
    flagged = scores[scores["score"] >= threshold]
    return {
        str(column): f"alone predicts the target: {row['metric']} {row['score']:.3f} ≥ {threshold}"
        for column, row in flagged.iterrows()
    }


# --- profile and data.json -----------------------------------------------------------------------


def profile(frame: pd.DataFrame, target: Target, leak_threshold: float, seed: int) -> Profile:
    """Every profile table, the suspected identifiers and the suspected leaks."""
    scores = leak_scores(frame, target, seed)
    leaks = recovered_leaks(frame, target, scores, leak_threshold, seed) | find_leaks(scores, leak_threshold)
    found = roles.detect_all(frame, target.name, leaks)
    text = [column for column, role in found.items() if role.role == "text"]  # messages are not levels to count
    paired = sample(frame, CORRELATION_ROWS, seed)
    return Profile(
        columns=column_table(frame),
        balance=balance_table(frame, target),
        numeric=numeric_table(frame, target),
        categories=category_table(frame.drop(columns=text), target),
        pearson=correlations(paired, target, "pearson"),
        spearman=correlations(paired, target, "spearman"),
        leak_scores=scores,
        identifiers={column: role.reason for column, role in found.items() if role.role == "identifier"},
        leaks=leaks,
        roles=found,
    )


def headline(frame: pd.DataFrame, target: Target, result: Profile) -> dict[str, str | int]:
    """The 3–6 figures shown for this stage on the run's index page."""
    line: dict[str, str | int] = {"rows": len(frame), "columns": frame.shape[1], "target": describe_target(target)}
    y = frame[target.name]
    if target.task == "binary":
        line["positive rate"] = f"{(y.astype(str) == target.positive).mean():.1%}"
    elif target.task == "multiclass":
        line["classes"] = len(target.classes)
    else:
        line["target mean"] = f"{float(y.mean()):.4g}"
    line["flags"] = f"{len(result.identifiers)} identifiers, {len(result.leaks)} leaks"
    return line


def summary(
    params: DataParams, sha: str, frame: pd.DataFrame, target: Target, result: Profile, source_rows: int,
    dropped_rows: int, reading: ReadReport | None = None,
) -> DataRecord:
    """The content of data.json (the contract read by later stages); `reading` says how the source was parsed."""
    return DataRecord(
        source=params.path if params.path is not None else source_label(params),
        sql_query=params.sql_query,
        sha256=sha,
        source_rows=source_rows,
        dropped_rows=dropped_rows,
        rows=len(frame),
        columns=frame.shape[1],
        column_names=[str(c) for c in frame.columns],
        target=target.name,
        task=target.task,
        classes=list(target.classes),
        positive_class=target.positive,
        identifiers=sorted(result.identifiers),
        leaks=sorted(result.leaks),
        roles={column: found.role for column, found in result.roles.items()},
        profile=result.to_json(),
        headline=headline(frame, target, result),
        reading=reading,
    )
