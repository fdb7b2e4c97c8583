"""The typed hand-offs between stages: one pydantic model per JSON record, and the catalogue of artifact files.

Every file a stage leaves in the run's artifact folder is one `Artifact` of `CATALOGUE`, which names the
stage that writes it; `mlworkflow.io.Artifacts` reads and writes them only through it. Tables that are data
(a profile, trials, a drift table) stay loosely typed rows; every key another module reads is a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlworkflow.core.spec import FeatureSpec, Task
from mlworkflow.core.target import Target
from mlworkflow.params import ReadOptions

Headline = dict[str, str | int | float]
Rows = list[dict[str, Any]]


class Part(BaseModel):
    """A nested part of a record: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Record(Part):
    """A stage's JSON record; `headline` holds the figures the run's index shows for it."""

    headline: Headline


# --- data.json ------------------------------------------------------------------------------------------


class ReadReport(Part):
    """How the source was parsed: its format, the separator (and where it came from), encoding, the text
    read as missing, the number marks and the columns parsed as times (column: format, or "inferred")."""

    format: Literal["csv", "parquet", "sql"]
    sep: str | None = None
    sep_from: Literal["given", "sniffed", "extension", "default"] | None = None
    encoding: str | None = None
    missing: list[str] = Field(default_factory=list)
    thousands: str | None = None
    decimal: str | None = None
    dates: dict[str, str] = Field(default_factory=dict)
    options: ReadOptions = ReadOptions()  # data.read as given: the model keeps it (contract.read)


class DataRecord(Record):
    """data.json: the source, its hash and size, the target, the flagged columns, the profile."""

    source: str
    sql_query: str | None
    sha256: str
    source_rows: int
    dropped_rows: int
    rows: int
    columns: int
    column_names: list[str]
    target: str
    task: Task
    classes: list[str]
    positive_class: str | None
    identifiers: list[str]
    leaks: list[str]
    profile: dict[str, Any]
    roles: dict[str, str] = Field(default_factory=dict, exclude_if=lambda value: not value)  # column: role (core.roles)
    reading: ReadReport | None = Field(None, exclude_if=lambda value: value is None)  # how the source was parsed


# --- preprocess.json -------------------------------------------------------------------------------------


class Split(Part):
    """How the rows were split into train and test."""

    method: str
    test_size: float
    time_column: str | None
    seed: int


class SplitRows(Part):
    """Rows in each split."""

    train: int
    test: int


class PreprocessRecord(FeatureSpec):
    """preprocess.json: the feature spec (its keys at the top level), what was dropped, the split."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dropped: dict[str, str]
    missing_markers: list[str]
    split: Split
    rows: SplitRows
    features_out: int
    headline: Headline

    @property
    def spec(self) -> FeatureSpec:
        """The feature spec alone."""
        return FeatureSpec.model_validate(self.model_dump(include=set(FeatureSpec.model_fields)))


# --- select.json -------------------------------------------------------------------------------------------


class MeanStd(Part):
    """A cross-validated score: mean and standard deviation over the folds (None when not computed)."""

    mean: float | None
    std: float | None


class Ranked(Part):
    """One candidate family's line of the ranking (scores in display units)."""

    family: str
    status: str
    message: str
    folds: int
    score: float | None
    score_std: float | None
    metrics: dict[str, MeanStd]
    fit_s: float | None
    predict_s: float | None
    peak_mb: float | None
    gap: float | None
    p_value: float | None
    significant: bool | None
    notes: list[str]


class CrossValidation(Part):
    """The folds select compared the candidates on."""

    folds: int
    repeats: int  # the repeats every completed candidate ran, on which they are compared
    rows: int
    seed: int
    n_train: int
    n_test: int
    planned: int | None = Field(None, exclude_if=lambda value: value is None)  # repeats asked (absent: older runs)
    rule: str | None = Field(None, exclude_if=lambda value: value is None)  # how they were chosen ("auto": why)


class StepEffect(Part):
    """What feature selection and imbalance handling did to the best family: CV scores with and without them."""

    family: str
    feature_selection: str
    imbalance: str
    families: dict[str, str]  # what the steps do to each candidate
    metrics: list[str]
    scores: dict[str, dict[str, MeanStd]]  # "with steps" / "without": {metric display name: mean, std}
    status: dict[str, str]
    p_value: float | None  # corrected t-test that the steps raise the deciding metric
    calibration: Rows  # reliability points per variant (classification with imbalance handling)
    distortion: str
    sentence: str


class PriorCheck(Part):
    """Select's check of the candidates' probabilities: out-of-fold log-loss against the class prior's."""

    prior_log_loss: float
    untrusted: dict[str, str]  # family: why it was not chosen (its log-loss is worse than the prior's)


class Preferred(Part):
    """A steadier family chosen over the best-scoring one (gap and deviations in score units)."""

    family: str
    over: str
    gap: float
    p_value: float
    std: float
    std_over: float
    ratio_bar: float  # std / std_over had to be below it
    folds: int


class Stability(Part):
    """Select's rule for candidates whose gap to the best is not significant, and what it chose (None: the best)."""

    rule: str
    preferred: Preferred | None
    sentence: str


class SelectRecord(Record):
    """select.json: the deciding metric, the ranking, the chosen families, the fold scores."""

    task: Task
    metric: str
    metrics: list[str]
    alpha: float
    cv: CrossValidation
    time_budget_s: float | None
    skipped: dict[str, str]
    ranking: list[Ranked]
    chosen: list[str]
    scores: dict[str, list[float]]
    steps: StepEffect | None = Field(None, exclude_if=lambda value: value is None)  # absent without the steps
    probabilities: PriorCheck | None = Field(None, exclude_if=lambda value: value is None)  # absent: regression
    stability: Stability | None = Field(None, exclude_if=lambda value: value is None)  # absent: older runs


# --- train.json ----------------------------------------------------------------------------------------------


class CvScore(Part):
    """The tuned model's cross-validated score (display sign) and its score on the training folds."""

    mean: float | None
    std: float | None
    train_mean: float | None


class Diagnosis(Part):
    """A learning or validation curve's verdict and its sentence."""

    verdict: str
    sentence: str


class StepChoice(Part):
    """What the optional steps did to the final model: the transformed features kept and dropped, the imbalance handling."""

    feature_selection: str
    imbalance: str
    cost: str
    kept: list[str]
    dropped: list[str]
    imbalance_note: str


class Losses(Part):
    """Out-of-fold log-loss and Brier score of a model's probabilities."""

    log_loss: float
    brier: float


class Calibration(Part):
    """Train's check of the kept model's probabilities (core.calibration.Check) and the families passed over."""

    family: str
    method: str  # the calibration kept: "sigmoid", "isotonic" or "none"
    trusted: bool
    prior: Losses
    uncalibrated: Losses
    tried: dict[str, Losses]
    sentence: str
    passed_over: dict[str, str] = {}  # better-scoring families whose probabilities stayed worse than the prior's


class Ensemble(Part):
    """Train's ensemble of the tuned families (core.ensemble.Choice): what was tried, its members and weights, the
    nested fold scores (display sign) beside the single model's, and whether it replaced it."""

    method: str  # "none", "greedy" or "stack"
    kept: bool
    single: str
    members: list[str]
    weights: list[float]  # greedy only
    cv_score: dict[str, list[float]] = {}  # "ensemble", "single": per fold; absent when not tried
    log_loss: float | None = None
    prior_log_loss: float | None = None
    sentence: str


class TrainRecord(Record):
    """train.json: the chosen family, its best parameters and CV score, the search and its trials."""

    family: str
    best_params: dict[str, Any]
    cv_score: CvScore
    metric: str
    score_name: str
    greater_is_better: bool
    search: str
    status: str
    n_trials: int
    trials: Rows
    searches: Rows
    diagnosis: dict[str, Diagnosis]
    steps: StepChoice | None = Field(None, exclude_if=lambda value: value is None)  # absent without the steps
    calibration: Calibration | None = Field(None, exclude_if=lambda value: value is None)  # absent: regression
    ensemble: Ensemble | None = Field(None, exclude_if=lambda value: value is None)  # absent: written before ensembles


# --- evaluate.json ---------------------------------------------------------------------------------------------


class Interval(Part):
    """A test metric with its bootstrap interval (None where it cannot be computed)."""

    value: float | None
    low: float | None
    high: float | None


class GroupRow(Part):
    """One group's line of the per-group table; its metric columns vary with the task."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    column: str
    group: str
    n: int
    flag: str


class Fairness(Part):
    """How the groups were judged: a gap is flagged only when its whole interval lies beyond the tolerance."""

    metric: str
    tolerance: str  # as a reader reads it: '±0.05', or '±5% of the overall rmse'
    min_rows: int
    confidence: float
    flagged: list[str]  # 'column=group: what was flagged'
    small: list[str]  # 'column=group', too few rows to judge
    glossary: dict[str, str]


class Drivers(Part):
    """What drives predictions: mean |SHAP| per input column, or the partial-dependence range of the top features."""

    method: str  # 'shap' or 'partial_dependence'
    rows: int
    note: str
    features: Rows


class CostView(Part):
    """Expected cost per 1,000 rows at the chosen threshold and at the cheapest one (binary tasks)."""

    cost_fp: float
    cost_fn: float
    threshold: float | None
    per_1000: float | None
    best_threshold: float
    best_per_1000: float


class EvaluateRecord(Record):
    """evaluate.json: the deciding metric and why, test metrics with intervals, threshold, groups, importance
    (fairness, drivers, gains and cost are optional so runs recorded before them still load)."""

    model: str
    metric: str
    why: str
    metric_source: str
    lower_is_better: bool
    metrics: dict[str, Interval]
    baseline: dict[str, Interval]
    difference: dict[str, Interval]
    threshold: float | None
    threshold_rule: str
    threshold_met: bool
    threshold_note: str
    groups: list[GroupRow]
    importance: Rows
    fairness: Fairness | None = Field(None, exclude_if=lambda value: value is None)  # absent: older runs
    drivers: Drivers | None = Field(None, exclude_if=lambda value: value is None)  # absent: older runs
    gains: Rows = Field(default_factory=list, exclude_if=lambda value: not value)  # absent: not binary, older runs
    cost: CostView | None = Field(None, exclude_if=lambda value: value is None)  # absent: not binary, older runs


# --- deploy.json -----------------------------------------------------------------------------------------------


class DeployRecord(Record):
    """deploy.json: the registered version, its registry and hash, the service's fast path."""

    name: str
    version: str
    ref: str
    sha256: str
    aliases: list[str]
    registry: str
    packages: dict[str, str]
    fast_path: str
    inputs: int


# --- monitor.json ----------------------------------------------------------------------------------------------


class CurrentData(Part):
    """Where the monitored rows came from and how many are labelled."""

    source: str
    rows: int
    labelled: int
    note: str


class DriftSummary(Part):
    """Dataset-level drift: how many columns drifted, by which rule, and the per-column table."""

    columns: int
    drifted: list[str]
    share: float
    rule: str
    method: str
    table: Rows


class Performance(Part):
    """The deciding metric now vs expected: its basis, interval, change, status, and the per-chunk table."""

    metric: str
    basis: Literal["realized", "estimated", "none"]
    value: float | None
    low: float | None
    high: float | None
    expected: Interval | None
    change: float | None
    status: Literal["OK", "WARN", "RETRAIN"]
    assumption: str | None
    chunks: Rows


class MonitorRecord(Record):
    """monitor.json: the verdict and its reasons, then drift, performance, sources and params."""

    verdict: Literal["OK", "WARN", "RETRAIN"]
    reasons: list[str]
    model: str
    reference: str
    current: CurrentData
    drift: DriftSummary
    prediction_drift: dict[str, Any]
    performance: Performance
    params: dict[str, Any]


# --- retrain.json ----------------------------------------------------------------------------------------------


class RetrainRecord(Part):
    """retrain.json: champion and challenger, the rows used, the comparison, the gate's decision."""

    champion: str | None
    challenger: str | None
    rows: dict[str, int]
    comparison: Rows | None
    passed: bool | None
    reasons: list[str]
    promoted: bool
    promote_command: str
    decision: str
    gate_params: dict[str, Any]


# --- a model bundle's metadata.json -------------------------------------------------------------------------


class BundleMetric(Interval):
    """A test metric of the bundled model: its value and bootstrap interval, and the baseline's value."""

    baseline: float | None


class BundleMetadata(Part):
    """A bundle's metadata.json: what the model predicts, how it decides, how well it did (in the registry).

    Its fields are the ones every bundle has had since the deploy stage first wrote them (the bundle in
    tests/fixtures/legacy_registry has each), so none needs a default for older bundles.
    """

    written_by: ClassVar[str] = "deploy"

    name: str
    target: str
    task: Task
    classes: list[str]
    positive_class: str | None
    threshold: float | None
    threshold_rule: str
    family: str
    best_params: dict[str, Any]
    metric: str
    metrics: dict[str, BundleMetric]
    groups: list[GroupRow]

    @property
    def predicted_target(self) -> Target:
        """What the model predicts: the target column, the task, the classes, the positive class."""
        return Target(self.target, self.task, tuple(self.classes), self.positive_class)


# --- the catalogue ---------------------------------------------------------------------------------------------

Kind = Literal["record", "frame", "model", "log"]
StageRecord = DataRecord | PreprocessRecord | SelectRecord | TrainRecord | EvaluateRecord | DeployRecord | MonitorRecord


@dataclass(frozen=True)
class Artifact:
    """One file a stage leaves in the artifact folder: its name, the stage writing it, its kind and model."""

    name: str
    stage: str
    kind: Kind
    model: type[BaseModel] | None = None


RAW = Artifact("raw.parquet", "data", "frame")
DATA = Artifact("data.json", "data", "record", DataRecord)
TRAIN_SPLIT = Artifact("train.parquet", "preprocess", "frame")
TEST_SPLIT = Artifact("test.parquet", "preprocess", "frame")
PREPROCESS = Artifact("preprocess.json", "preprocess", "record", PreprocessRecord)
SELECT = Artifact("select.json", "select", "record", SelectRecord)
MODEL = Artifact("model.skops", "train", "model")
TRAIN = Artifact("train.json", "train", "record", TrainRecord)
OOF = Artifact("oof.parquet", "train", "frame")  # the kept model's out-of-fold predictions (core.oof.OutOfFold.to_frame)
EVALUATE = Artifact("evaluate.json", "evaluate", "record", EvaluateRecord)
DEMO_LOG = Artifact("deploy-demo.sqlite", "deploy", "log")
DEPLOY = Artifact("deploy.json", "deploy", "record", DeployRecord)
MONITOR = Artifact("monitor.json", "monitor", "record", MonitorRecord)
RETRAIN = Artifact("retrain.json", "retrain", "record", RetrainRecord)
RETRAIN_DATA = Artifact("data.parquet", "retrain", "frame")  # in the run's retrain/ folder: old + new rows
HOLDOUT = Artifact("holdout.parquet", "retrain", "frame")  # in the run's retrain/ folder: new rows held out

CATALOGUE: tuple[Artifact, ...] = (
    RAW, DATA, TRAIN_SPLIT, TEST_SPLIT, PREPROCESS, SELECT, MODEL, TRAIN, OOF, EVALUATE, DEMO_LOG, DEPLOY, MONITOR,
    RETRAIN, RETRAIN_DATA, HOLDOUT,
)


STAGE_RECORDS: dict[str, type[StageRecord]] = {
    "data": DataRecord, "preprocess": PreprocessRecord, "select": SelectRecord, "train": TrainRecord,
    "evaluate": EvaluateRecord, "deploy": DeployRecord, "monitor": MonitorRecord,
}  # the record of each stage of a run, each with the headline the run's index shows


def artifact_of(model: type[BaseModel]) -> Artifact:
    """The catalogue entry of a record type."""
    return next(entry for entry in CATALOGUE if entry.model is model)


def record_of(stage: str) -> Artifact | None:
    """The JSON record a stage writes (None for a stage without one)."""
    return next((entry for entry in CATALOGUE if entry.stage == stage and entry.kind == "record"), None)
