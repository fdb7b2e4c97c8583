"""Predictions for checked rows: labels at the deployment threshold, probabilities, and the path taken.

Rows come from `contract.Validator` (values in contract order, None for missing). Up to
`fast_path_rows` rows go through `fastpath.FastPipeline` (the same numbers without pandas and
scikit-learn's input checks); larger batches, and pipelines the fast path cannot replay, go
through the fitted scikit-learn pipeline itself. Labels follow the evaluate stage: binary
classifiers call the positive class when its score reaches the chosen threshold, multiclass ones
take the most probable class, regressors return the predicted value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlworkflow.bundle.contract import Contract, Validator, example_records, to_frame
from mlworkflow.core import families
from mlworkflow.core.target import PROBABILITY_THRESHOLD, Target, threshold_or_default
from mlworkflow.records import BundleMetadata
from mlworkflow.service import fastpath

Array = npt.NDArray[Any]
Path_ = Literal["fast", "sklearn"]
SELF_CHECK_ROWS = 64
# Models whose output for a row does not depend on the other rows of the call, so concurrent requests
# can share one call and still get exactly their own numbers (the family catalogue says which).
ROW_WISE_MODELS = families.row_wise_models()


@dataclass(frozen=True)
class Outputs:
    """Per-row predictions: labels (or values), class scores (classifiers), and which path computed them."""

    predictions: list[Any]
    scores: Array | None  # (n, k) class probabilities or margins, columns in `classes` order
    path: Path_


@dataclass(frozen=True)
class Labelling:
    """How the service answers: what the model predicts, its decision threshold, and the kind of class scores."""

    target: Target  # classes in the pipeline's (score column) order
    threshold: float | None
    probabilistic: bool

    @classmethod
    def of(cls, pipeline: Any, metadata: BundleMetadata) -> Labelling:
        """From the fitted pipeline (classes, predict_proba) and the bundle's metadata (task, threshold)."""
        task = metadata.task
        classes = tuple(str(c) for c in getattr(pipeline, "classes_", ()))  # the score columns' order
        probabilistic = task != "regression" and hasattr(pipeline, "predict_proba")
        target = replace(metadata.predicted_target, classes=classes)
        if task == "binary":
            target = replace(target, positive=target.labels[1])
        return cls(target, threshold_or_default(task, metadata.threshold, probabilistic), probabilistic)

    @property
    def score_key(self) -> str:
        """The JSON key of class scores: probabilities, or margins for non-probabilistic models."""
        return "probabilities" if self.probabilistic else "scores"

    def labels(self, scores: Array) -> list[Any]:
        """Labels from class scores: positive at the threshold (binary), else the highest."""
        classes = self.target.classes
        if self.target.task == "binary":
            positive = classes.index(str(self.target.positive))
            column = scores[:, positive] if scores.ndim == 2 else scores * (1 if positive == 1 else -1)
            calls = column >= float(self.threshold if self.threshold is not None else PROBABILITY_THRESHOLD)
            negative = classes[1 - positive]
            return [classes[positive] if call else negative for call in calls]
        return [classes[int(i)] for i in np.argmax(scores, axis=1)]


class Predictor:
    """Scores checked rows with a fitted pipeline, taking the fast path for small batches."""

    def __init__(self, pipeline: Any, metadata: BundleMetadata, contract: Contract, fast_path_rows: int) -> None:
        self.pipeline, self.contract = pipeline, contract
        self.labelling = Labelling.of(pipeline, metadata)
        self.target = self.labelling.target
        self.fast_path_rows = fast_path_rows
        self.fast: fastpath.FastPipeline | None = None
        self.fast_note = "off (fast_path_rows = 0)"
        if fast_path_rows > 0:
            self.fast, self.fast_note = self.compile()
        self.row_wise = self.fast is not None and is_row_wise(pipeline) and self.rows_independent()

    def compile(self) -> tuple[fastpath.FastPipeline | None, str]:
        """Compile the fast path and check it against the pipeline on example rows; None if it differs."""
        try:
            fast = fastpath.compile_pipeline(self.pipeline)
        except fastpath.Unsupported as exc:
            return None, f"off: {exc}"
        missing = [c for c in fast.columns if c not in self.contract.names]
        if missing:
            return None, f"off: the pipeline takes column '{missing[0]}', which the contract lacks"
        self.order = [self.contract.names.index(c) for c in fast.columns]
        checked = Validator(self.contract, "flag").records(example_records(self.contract, SELF_CHECK_ROWS))
        if not self.agree(fast, checked.rows):
            return None, "off: it did not reproduce the pipeline exactly on example rows"
        return fast, f"on for up to {self.fast_path_rows:,} rows"

    def agree(self, fast: fastpath.FastPipeline, rows: list[list[Any]]) -> bool:
        """Whether the fast path gives bit-identical scores to the pipeline, row by row and in a batch."""
        for chunk in (rows[:1], rows[1:9], rows):
            ours = self.raw(fast, self.values(chunk, fast))
            theirs = self.raw(self.pipeline, to_frame(self.contract, chunk))
            if not np.array_equal(ours, theirs):
                return False
        return True

    def rows_independent(self) -> bool:
        """Whether scoring example rows together gives exactly what scoring each alone gives."""
        rows = Validator(self.contract, "flag").records(example_records(self.contract, 9)).rows
        together = self.predict(rows).scores
        alone = [self.predict([row]).scores for row in rows]
        if together is None or any(a is None for a in alone):
            return together is None
        return bool(np.array_equal(together, np.concatenate([a for a in alone if a is not None])))

    def values(self, rows: Sequence[Sequence[Any]], fast: fastpath.FastPipeline) -> Array:
        """Rows as the fast path's object array, columns in the pipeline's order, NaN for missing."""
        array = np.empty((len(rows), len(fast.columns)), dtype=object)
        for i, row in enumerate(rows):
            array[i] = [np.nan if row[j] is None else row[j] for j in self.order]
        return array

    def raw(self, model: Any, X: Any) -> Array:
        """Class probabilities or margins (classifiers), or predictions (regressors)."""
        if self.target.task == "regression":
            return np.asarray(model.predict(X), dtype=np.float64)
        method = model.predict_proba if self.labelling.probabilistic else model.decision_function
        return np.asarray(method(X), dtype=np.float64)

    def path(self, n_rows: int) -> Path_:
        """Which path scores a batch of this size."""
        return "fast" if self.fast is not None and n_rows <= self.fast_path_rows else "sklearn"

    def predict(self, rows: Sequence[Sequence[Any]], path: Path_ | None = None) -> Outputs:
        """Predictions for checked rows (values in contract order), on the given path or the one for their number."""
        path = path if path is not None and self.fast is not None else self.path(len(rows))
        if path == "fast" and self.fast is not None:
            raw = self.raw(self.fast, self.values(rows, self.fast))
        else:
            raw = self.raw(self.pipeline, to_frame(self.contract, rows))
        if self.target.task == "regression":
            return Outputs([float(v) for v in raw], None, path)
        return Outputs(self.labelling.labels(raw), raw, path)

    def predict_each(self, batches: Sequence[Sequence[Sequence[Any]]]) -> list[Outputs]:
        """Predictions for several requests' rows in one call (row-wise models only), split back per request."""
        joined = self.predict([row for rows in batches for row in rows], "fast")
        outputs, start = [], 0
        for rows in batches:
            end = start + len(rows)
            scores = None if joined.scores is None else joined.scores[start:end]
            outputs.append(Outputs(joined.predictions[start:end], scores, joined.path))
            start = end
        return outputs

    def records(self, outputs: Outputs) -> list[dict[str, Any]]:
        """One JSON object per row: the prediction and, for classifiers, every class's score."""
        if outputs.scores is None:
            return [{"prediction": value} for value in outputs.predictions]
        key, classes = self.labelling.score_key, self.target.classes
        matrix = outputs.scores if outputs.scores.ndim == 2 else outputs.scores[:, None]
        names = classes if matrix.shape[1] == len(classes) else classes[-1:]
        return [
            {"prediction": label, key: dict(zip(names, map(float, row), strict=True))}
            for label, row in zip(outputs.predictions, matrix.tolist(), strict=True)
        ]

    def frame(self, outputs: Outputs) -> pd.DataFrame:
        """The predictions as columns: prediction, then one score column per class."""
        table = pd.DataFrame({"prediction": outputs.predictions})
        if outputs.scores is not None:
            matrix = outputs.scores if outputs.scores.ndim == 2 else outputs.scores[:, None]
            prefix = "proba" if self.labelling.probabilistic else "score"
            names = self.target.classes if matrix.shape[1] == len(self.target.classes) else self.target.classes[-1:]
            for j, name in enumerate(names):
                table[f"{prefix}_{name}"] = matrix[:, j]
        return table


def is_row_wise(pipeline: Any) -> bool:
    """Whether the pipeline's model scores each row on its own (see ROW_WISE_MODELS; one job only)."""
    model = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    return type(model).__name__ in ROW_WISE_MODELS and getattr(model, "n_jobs", None) in (None, 1)
