"""A fast path for small requests: a fitted pipeline's preprocessing replayed with NumPy.

A one-row `pipeline.predict_proba` costs about 10 ms, nearly all of it scikit-learn's input
validation and per-column dispatch inside the ColumnTransformer, not the model. Here each fitted
step is compiled once into a plain NumPy function that performs the same floating-point operations
in the same order (imputation, `X -= mean_; X /= scale_`, …), and the encoders into lookup tables
computed by the fitted encoders themselves. The model then gets the same numbers as through the
pipeline, so its output is identical; `tests/service/test_fastpath.py` checks this bit for bit on thousands
of real rows, and `FastPipeline.agrees` lets a service check it again on start-up.

Supported steps: Pipeline, ColumnTransformer (dense), SimpleImputer, StandardScaler, OneHotEncoder,
OrdinalEncoder, FunctionTransformer (identity, `features.as_text`, `check_array`), "passthrough",
feature selectors (their fitted column mask) and imbalanced-learn samplers (skipped: a pipeline
resamples in fit only). Anything else raises `Unsupported`, and the caller keeps the scikit-learn path.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlworkflow.core import features
from mlworkflow.errors import MlwError

Array = npt.NDArray[Any]
Block = Callable[[Array], Array]


class Unsupported(MlwError):
    """A pipeline step the fast path cannot replay exactly."""


def is_missing(value: Any) -> bool:
    """None or NaN (any float NaN, not only the np.nan object)."""
    return value is None or (isinstance(value, float) and value != value)


# --- steps ---------------------------------------------------------------------------------------


def identity(X: Array) -> Array:
    """A passthrough block."""
    return X


def as_float(X: Array) -> Array:
    """Values as a float64 array (a copy, like check_array(dtype=float64))."""
    return np.array(X, dtype=np.float64)


def as_text(X: Array) -> Array:
    """features.as_text on an object array: missing stays NaN, everything else becomes str."""
    out = np.empty(X.shape, dtype=object)
    for index, value in np.ndenumerate(X):
        out[index] = np.nan if is_missing(value) or value is pd.NA else str(value)
    return out


def compile_function(step: Any) -> Block:
    """FunctionTransformer: identity, features.as_text or check_array(dtype=float64) only."""
    from sklearn.utils.validation import check_array

    func = step.func
    if step.kw_args:
        raise Unsupported("FunctionTransformer with kw_args")
    if func is None:
        return identity
    if func is features.as_text:
        return as_text
    partial = isinstance(func, functools.partial) and func.func is check_array and not func.args
    if partial and func.keywords.get("dtype") in ([np.float64], np.float64, "float64"):
        return as_float
    raise Unsupported(f"FunctionTransformer({getattr(func, '__name__', func)!r})")


def compile_imputer(step: Any) -> Block:
    """SimpleImputer (missing_values NaN): fill with statistics_, then append missing indicators."""
    statistics = step.statistics_
    if not is_missing(step.missing_values) or step.keep_empty_features:
        raise Unsupported("SimpleImputer with missing_values other than NaN or keep_empty_features")
    if any(is_missing(value) for value in statistics):
        raise Unsupported("SimpleImputer with a feature that had no values in fit")
    numeric = np.issubdtype(statistics.dtype, np.number)
    indicator = step.indicator_.features_ if step.add_indicator else None
    return functools.partial(impute, statistics=statistics, numeric=numeric, indicator=indicator)


def impute(X: Array, statistics: Array, numeric: bool, indicator: Array | None) -> Array:
    """Replace missing values column by column; add float indicator columns for `indicator` features."""
    values = np.array(X, dtype=np.float64 if numeric else object)
    mask = np.isnan(values) if numeric else np.vectorize(is_missing, otypes=[bool])(values)
    rows, columns = np.nonzero(mask)
    values[rows, columns] = statistics[columns]
    if indicator is None:
        return values
    return np.hstack((values, mask[:, indicator]))


def compile_scaler(step: Any) -> Block:
    """StandardScaler: subtract mean_, divide by scale_, in place on a float64 copy (as scikit-learn)."""
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None
    return functools.partial(scale_block, mean=mean, scale=scale)


def scale_block(X: Array, mean: Array | None, scale: Array | None) -> Array:
    """X -= mean; X /= scale (the same operations, so the same bits)."""
    values = np.array(X, dtype=np.float64)
    if mean is not None:
        values -= mean
    if scale is not None:
        values /= scale
    return values


@dataclass(frozen=True)
class Lookup:
    """One encoded feature: an output table and a row index per known value."""

    index: dict[Any, int]
    table: Array  # rows: each category, then unknown, then missing
    unknown: int
    missing: int

    def rows(self, values: Sequence[Any]) -> Array:
        """The output rows of a column of values."""
        get, unknown, missing = self.index.get, self.unknown, self.missing
        positions = [missing if is_missing(v) else get(v, unknown) for v in values]
        selected: Array = self.table[positions]
        return selected


def probe_value(categories: Array) -> Any:
    """A value the encoder never saw, of the categories' kind."""
    if np.issubdtype(categories.dtype, np.number):
        finite = categories[np.isfinite(categories)]
        return float(finite.max()) + 1.0 if finite.size else 0.0
    return "\x00mlworkflow-unseen\x00"


def probe_column(values: list[Any], categories: Array) -> pd.Series:
    """Probe values as a column of the categories' dtype (floats stay floats)."""
    numeric = np.issubdtype(np.asarray(categories).dtype, np.number)
    return pd.Series(values, dtype=np.float64 if numeric else object)


def encoder_widths(step: Any) -> list[int]:
    """Output columns per input feature of a fitted encoder."""
    if hasattr(step, "_n_features_outs"):
        return [int(n) for n in step._n_features_outs]
    return [1] * len(step.categories_)


def compile_encoder(step: Any) -> Block:
    """OneHotEncoder / OrdinalEncoder: the fitted encoder's own output for every category, as tables."""
    if step.handle_unknown == "error" or getattr(step, "sparse_output", False):
        raise Unsupported(f"{type(step).__name__} with handle_unknown='error' or sparse output")
    columns = [[*list(c), probe_value(np.asarray(c)), np.nan] for c in step.categories_]
    height = max(len(c) for c in columns)
    probe = {i: [c[min(r, len(c) - 1)] for r in range(height)] for i, c in enumerate(columns)}
    frame = pd.DataFrame({i: probe_column(v, step.categories_[i]) for i, v in probe.items()})
    names = getattr(step, "feature_names_in_", None)
    frame.columns = list(names) if names is not None else list(range(len(columns)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = np.asarray(step.transform(frame if names is not None else frame.to_numpy()), dtype=np.float64)
    edges = np.cumsum([0, *encoder_widths(step)])
    lookups = [lookup(columns[i], output[:, edges[i] : edges[i + 1]]) for i in range(len(columns))]
    return functools.partial(encode, lookups=lookups)


def lookup(values: list[Any], block: Array) -> Lookup:
    """The lookup of one feature from its probe rows (categories, unseen, missing)."""
    n = len(values) - 2
    index = {value: row for row, value in enumerate(values[:n]) if not is_missing(value)}
    missing = next((row for row, value in enumerate(values[:n]) if is_missing(value)), n + 1)
    return Lookup(index, block[: n + 2].copy(), n, missing)


def encode(X: Array, lookups: Sequence[Lookup]) -> Array:
    """Encode each column through its lookup and place the blocks side by side."""
    return np.hstack([lk.rows(X[:, i].tolist()) for i, lk in enumerate(lookups)])


def compile_columns(step: Any) -> Block:
    """ColumnTransformer (dense output, no weights): each transformer on its columns, then hstack."""
    if step.sparse_output_ or step.transformer_weights:
        raise Unsupported("ColumnTransformer with sparse output or transformer weights")
    parts: list[tuple[Array, Block]] = []
    for name, transformer, _columns in step.transformers_:
        indices = np.asarray(step._transformer_to_input_indices[name], dtype=np.intp)
        if (isinstance(transformer, str) and transformer == "drop") or indices.size == 0:
            continue
        passthrough = isinstance(transformer, str) and transformer == "passthrough"
        parts.append((indices, identity if passthrough else compile_step(transformer)))
    return functools.partial(stack_columns, parts=parts)


def stack_columns(X: Array, parts: Sequence[tuple[Array, Block]]) -> Array:
    """Run each block on its columns and stack the outputs left to right."""
    return np.hstack([block(X[:, indices]) for indices, block in parts])


def compile_chain(steps: Sequence[Any]) -> Block:
    """Steps applied in order."""
    blocks = [compile_step(step) for step in steps if not (isinstance(step, str) and step == "passthrough")]
    return functools.partial(chain, blocks=blocks)


def chain(X: Array, blocks: Sequence[Block]) -> Array:
    """Apply blocks in order."""
    for block in blocks:
        X = block(X)
    return X


def keep_columns(X: Array, mask: Array) -> Array:
    """A fitted selector's columns."""
    return X[:, mask]


def compile_step(step: Any) -> Block:
    """Compile one fitted transformer, or raise Unsupported."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectorMixin
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    if isinstance(step, Pipeline):
        return compile_chain([s for _, s in step.steps])
    if hasattr(step, "fit_resample"):  # a sampler: the pipeline skips it at predict
        return identity
    if isinstance(step, SelectorMixin):
        return functools.partial(keep_columns, mask=step.get_support())
    compilers: list[tuple[type, Callable[[Any], Block]]] = [
        (ColumnTransformer, compile_columns),
        (SimpleImputer, compile_imputer),
        (StandardScaler, compile_scaler),
        (OneHotEncoder, compile_encoder),
        (OrdinalEncoder, compile_encoder),
        (FunctionTransformer, compile_function),
    ]
    for kind, compiler in compilers:
        if type(step) is kind:
            return compiler(step)
    raise Unsupported(f"step {type(step).__name__}")


# --- the model -------------------------------------------------------------------------------------


def without_names(estimator: Any) -> Any:
    """A shallow copy that forgets the feature names it was fitted with (so arrays raise no warning)."""
    clone = copy.copy(estimator)
    if "feature_names_in_" in vars(clone):
        del clone.feature_names_in_
    return clone


def strip_model(model: Any) -> tuple[Any, Block]:
    """The model to call on arrays, and any input step it runs itself, compiled (HistGradientBoosting)."""
    stripped = without_names(model)
    inner: Block = identity
    if getattr(model, "_preprocessor", None) is not None:
        inner = compile_step(model._preprocessor)
        stripped._preprocessor = None
    if hasattr(model, "calibrated_classifiers_"):
        stripped.calibrated_classifiers_, inner = strip_calibrated(model.calibrated_classifiers_)
    if hasattr(model, "regressor_"):
        stripped.regressor_, regressor_inner = strip_model(model.regressor_)
        inner = functools.partial(chain, blocks=[inner, regressor_inner])
    return stripped, inner


def strip_calibrated(calibrated: list[Any]) -> tuple[list[Any], Block]:
    """Calibrated classifiers whose estimators forget their feature names; a single one (ensemble=False, as train's
    calibration builds it) is stripped like a model, so its input step (HistGradientBoosting's) is compiled too."""
    if len(calibrated) != 1:
        return [calibrated_without_names(c) for c in calibrated], identity
    only = copy.copy(calibrated[0])
    only.estimator, inner = strip_model(calibrated[0].estimator)
    return [only], inner


def calibrated_without_names(calibrated: Any) -> Any:
    """A calibrated classifier whose inner estimator forgets its feature names."""
    clone = copy.copy(calibrated)
    clone.estimator = without_names(calibrated.estimator)
    return clone


@dataclass(frozen=True)
class FastPipeline:
    """A compiled pipeline: `columns` in input order, the preprocessing as NumPy, and the model."""

    columns: tuple[str, ...]
    transform: Block
    model: Any

    def features(self, X: Array) -> Array:
        """The model's input matrix for an object array of raw values (columns in `columns` order)."""
        return np.asfortranarray(self.transform(X), dtype=np.float64)

    def predict_proba(self, X: Array) -> Array:
        """Class probabilities, as pipeline.predict_proba."""
        result: Array = self.model.predict_proba(self.features(X))
        return result

    def decision_function(self, X: Array) -> Array:
        """Decision scores, as pipeline.decision_function."""
        result: Array = self.model.decision_function(self.features(X))
        return result

    def predict(self, X: Array) -> Array:
        """Predictions, as pipeline.predict."""
        result: Array = self.model.predict(self.features(X))
        return result


def compile_pipeline(pipeline: Any) -> FastPipeline:
    """Compile a fitted Pipeline whose last step is the model; raise Unsupported if a step is not supported."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        raise Unsupported("not a Pipeline of preprocessing steps and a model")
    names = getattr(pipeline, "feature_names_in_", None)
    if names is None:
        raise Unsupported("the pipeline was not fitted on a DataFrame (no feature names)")
    outer = compile_chain([step for _, step in pipeline.steps[:-1]])
    model, inner = strip_model(pipeline.steps[-1][1])
    transform = functools.partial(chain, blocks=[outer, inner])
    return FastPipeline(tuple(str(n) for n in names), transform, model)


def frame_values(frame: pd.DataFrame, columns: Sequence[str]) -> Array:
    """A frame's columns as the fast path's object array (missing values as NaN)."""
    values = frame[list(columns)].astype(object).to_numpy()
    values[pd.isna(values)] = np.nan
    return values
