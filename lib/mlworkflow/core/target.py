"""What a model predicts: the target column, the task, the classes, the positive class, the decision threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlworkflow.core import metrics
from mlworkflow.core.spec import FeatureSpec, Task
from mlworkflow.errors import DataError

if TYPE_CHECKING:  # records import Target: reading one needs no pandas
    import pandas as pd

TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
PROBABILITY_THRESHOLD = 0.5  # binary: call the positive class when its probability reaches this, unless chosen
MARGIN_THRESHOLD = 0.0  # binary: the same for margins (decision_function), which are centred on zero


@dataclass(frozen=True)
class Target:
    """What the model predicts, as data.json, preprocess.json and a bundle's metadata describe it."""

    name: str
    task: Task
    classes: tuple[str, ...] = ()
    positive: str | None = None

    @classmethod
    def from_spec(cls, spec: FeatureSpec) -> Target:
        """What the feature spec (preprocess.json's record is one) says the model predicts."""
        return cls(spec.target, spec.task, spec.classes, spec.positive_class)

    @property
    def labels(self) -> tuple[str, ...]:
        """Class labels in code order; binary: (negative, positive), the last class positive when none is named."""
        if self.task != "binary":
            return self.classes
        positive = self.positive if self.positive in self.classes else self.classes[-1]
        return (next(label for label in self.classes if label != positive), positive)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names evaluate reports for this task."""
        return metrics.evaluated(self.task)


def threshold_or_default(task: str, chosen: float | None, probabilistic: bool) -> float | None:
    """The binary decision threshold: the chosen one, else the default for probabilities or margins; None otherwise."""
    if task != "binary":
        return None
    if chosen is not None:
        return float(chosen)
    return PROBABILITY_THRESHOLD if probabilistic else MARGIN_THRESHOLD


def positive_label(y: pd.Series, task: str, positive: str | None) -> Any:
    """The label value (with y's type) of the positive class for a binary task (default: the last label), else None."""
    if task != "binary":
        return None
    labels = sorted(y.dropna().unique().tolist(), key=str)
    wanted = positive if positive is not None else str(labels[-1])
    matches = [label for label in labels if str(label) == wanted]
    if not matches:
        raise DataError(f"positive class {wanted!r} is not one of the labels {labels}", str(y.name), "preprocess.json")
    return matches[0]
