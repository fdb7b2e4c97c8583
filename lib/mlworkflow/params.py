"""The one typed params schema: a section per stage plus run-level settings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlworkflow.core import expressions, metrics, sql, yamlfile
from mlworkflow.core.families import DEFAULT_CANDIDATES, FAMILIES
from mlworkflow.core.steps import Imbalance, Selection
from mlworkflow.errors import ParamsError, ParamsIssue, did_you_mean

Task = Literal["auto", "binary", "multiclass", "regression"]
Role = Literal["numeric", "categorical", "text", "datetime", "identifier", "ignore"]  # preprocess.roles
RUN_NAMES = ("seed", "artifacts", "params_file")  # injected into every notebook besides its section


def _formula(text: str) -> str:
    """A formula of the grammar in core.expressions (checked without data; its columns are checked on the data)."""
    try:
        expressions.parse(text)
    except expressions.ExpressionError as exc:
        raise ValueError(f"a formula of the grammar ({exc.problem} at position {exc.position})") from None
    return text


Formula = Annotated[str, AfterValidator(_formula)]


class Section(BaseModel):
    """Base of every params section: strict keys, immutable values."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base", "."))


def resolve_path(value: str, base: Path) -> str:
    """Resolve a path relative to the params file's folder; it must exist."""
    path = (base / value).resolve()
    if not path.is_file():
        raise ValueError(f"an existing file (looked for {path})")
    return str(path)


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative SQLite file URL absolute against the params file's folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == prefix + ":memory:":
        return url
    return prefix + resolve_path(url[len(prefix) :], base)


SCHEDULER_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):[0-9]{1,5}")


def _scheduler_address(value: str | None) -> str | None:
    if value is not None and not SCHEDULER_ADDRESS.fullmatch(value):
        raise ValueError("a Dask scheduler address tcp://HOST:PORT or tls://HOST:PORT, e.g. tcp://10.0.0.5:8786")
    return value


class RunParams(Section):
    """Run-level settings. `cluster` is a dask.distributed scheduler's address (`--cluster`): cross-validation and
    search fits then run on its workers, the notebooks on this machine; results are the same as without it, so
    it is no part of a stage's cache key. `cluster_timeout_s` bounds the connection check made before a run."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    seed: int = Field(42, ge=0, le=2**32 - 1)
    cluster: Annotated[str, AfterValidator(_scheduler_address)] | None = None
    cluster_timeout_s: float = Field(10.0, gt=0, le=600)


def _one_character(value: str | None) -> str | None:
    if value is not None and (len(value) != 1 or value in "\"\r\n"):
        raise ValueError(f"one character other than a quote or a line break, e.g. ',' or '\\t' (found {value!r})")
    return value


OneCharacter = Annotated[str, AfterValidator(_one_character)]


class ReadOptions(Section):
    """How a CSV file is parsed, with pandas.read_csv's names; the model keeps them, so predict, monitor and
    the service read files the same way. `sep` is sniffed from the file when null ('\\t' for .tsv);
    `na_values` are read as missing besides pandas' defaults (none of those when `keep_default_na` is false);
    `parse_dates` columns must parse as times (with `date_format` when given). Parquet and SQL sources are
    typed already: only `parse_dates` applies to them."""

    sep: OneCharacter | None = None
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    keep_default_na: bool = True
    thousands: OneCharacter | None = None
    decimal: OneCharacter = "."
    parse_dates: tuple[str, ...] = ()
    date_format: str | None = Field(None, min_length=2)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"a Python codec name, e.g. 'utf-8', 'latin-1' or 'cp1252' ('{value}' is unknown)") from None
        return value

    @field_validator("date_format")
    @classmethod
    def _strftime(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value and value not in ("ISO8601", "mixed"):
            raise ValueError("a strftime format such as '%Y-%m-%d %H:%M', or 'ISO8601' or 'mixed' (as in pandas)")
        return value

    @model_validator(mode="after")
    def _distinct_marks(self) -> ReadOptions:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f"'thousands' and 'decimal' must differ (both are {self.decimal!r})")
        if self.sep is not None and self.sep == self.decimal:
            raise ValueError(f"'sep' and 'decimal' must differ (both are {self.sep!r})")
        return self


class DataParams(Section):
    """Stage `data`: where the data comes from and what to predict."""

    path: str | None = None
    sql_url: str | None = None
    sql_query: str | None = None
    target: str = Field(min_length=1)
    task: Task = "auto"
    positive_class: str | None = None
    sample_rows: int | None = Field(None, ge=20)
    leak_threshold: float = Field(0.98, gt=0.5, le=1.0)
    target_expression: Formula | None = None  # derives `target` from other columns, e.g. "num > 0"
    read: ReadOptions = ReadOptions()

    @field_validator("path")
    @classmethod
    def _path_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, _base_dir(info))

    @field_validator("positive_class", mode="before")
    @classmethod
    def _label_as_text(cls, value: Any) -> Any:
        # `positive_class: 1` in YAML or `-p positive_class 1` means the class whose label is '1'
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("sql_url")
    @classmethod
    def _sqlite_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_sqlite_url(value, _base_dir(info))

    @field_validator("sql_query")
    @classmethod
    def _a_query(cls, value: str | None) -> str | None:
        problem = None if value is None else sql.statement_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DataParams:
        has_sql = self.sql_url is not None or self.sql_query is not None
        if (self.path is None) == (not has_sql):
            raise ValueError("either 'path' or both 'sql_url' and 'sql_query'")
        if has_sql and (self.sql_url is None or self.sql_query is None):
            raise ValueError("both 'sql_url' and 'sql_query' for a SQL source")
        return self


class PreprocessParams(Section):
    """Stage `preprocess`: cleaning, the train/test split and the feature transformer."""

    drop: tuple[str, ...] = ()
    drop_identifiers: bool = True
    drop_leaks: bool = True
    missing_markers: tuple[str, ...] = ("?",)
    deduplicate: bool = True
    split: Literal["stratified", "random", "time"] = "stratified"
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    time_column: str | None = None
    stratify_column: str | None = None
    stratify_bins: tuple[float, ...] = ()
    numeric_imputer: Literal["median", "mean"] = "median"
    scale: bool = True
    min_frequency: float = Field(0.01, ge=0.0, lt=1.0)
    max_categories: int | None = Field(30, ge=2)
    feature_selection: Selection = "none"  # a pipeline step after the transformer, fitted in every fold
    imbalance: Imbalance = "none"  # class weights, or resampling in fit only (classification)
    roles: dict[str, Role] = Field(default_factory=dict)  # {column: role}: overrides the detected role
    features: dict[Annotated[str, Field(min_length=1)], Formula] = Field(default_factory=dict)  # {name: formula}
    text_ngrams: tuple[int, int] = (1, 2)  # word n-grams of a text column's TF-IDF
    text_char_ngrams: tuple[int, int] | None = (2, 5)  # character n-grams within words (sparse TF-IDF only), or null
    text_max_features: int = Field(20_000, ge=10)  # TF-IDF terms kept per text column and analyzer
    text_components: int = Field(100, ge=2)  # SVD components of a text column for models that need dense input

    @field_validator("text_ngrams", "text_char_ngrams")
    @classmethod
    def _ngram_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1] <= 10:
            raise ValueError(f"an n-gram range [low, high] with 1 ≤ low ≤ high ≤ 10, not {list(value)}")
        return value


class SelectParams(Section):
    """Stage `select`: compare model families by repeated cross-validation on the training split.

    `candidates` are family names (mlworkflow.core.families.FAMILIES; those that do not fit the task,
    e.g. naive_bayes for regression, are skipped with a note; the default is every family); `metrics` are scikit-learn scorer
    names, "auto" expanding to the task's default set; `metric` decides the ranking ("auto": the
    task's default); `time_budget_s` is per candidate; `max_rows` subsamples the training split
    (seeded, stratified for classification; null = all rows); `top_k` families go to `train`. `repeats` "auto"
    repeats the folds until rows × repeats reaches 10,000 held-out predictions (at most 10; repeats after the
    first run only while `time_budget_s` allows, mlworkflow.core.stability), an integer fixes them.
    """

    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    folds: int = Field(5, ge=2, le=20)
    repeats: int | Literal["auto"] = "auto"
    metrics: tuple[str, ...] = ("auto",)
    metric: str = "auto"
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    time_budget_s: float | None = Field(300.0, gt=0)
    max_rows: int | None = Field(5000, ge=50)
    top_k: int = Field(2, ge=1, le=10)
    n_jobs: int = Field(1, ge=-1, le=64)

    @field_validator("candidates")
    @classmethod
    def _known_families(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in FAMILIES:
                hint = did_you_mean(name, FAMILIES)
                raise ValueError(f"family names from {', '.join(FAMILIES)} ('{name}' is unknown.{hint})")
        if not value or len(set(value)) != len(value):
            raise ValueError("at least one family, each listed once")
        return value

    @field_validator("metrics", "metric")
    @classmethod
    def _known_scorers(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        known = ["auto", *metrics.scorers()]
        for name in (value,) if isinstance(value, str) else value:
            if name not in known and metrics.find(name) is None:
                raise ValueError(f"'auto' or scikit-learn scorer names ('{name}' is unknown.{did_you_mean(name, known)})")
        return value

    @field_validator("n_jobs")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a number of processes ≥ 1, or -1 for all cores")
        return value

    @field_validator("repeats", mode="before")
    @classmethod
    def _auto_or_count(cls, value: Any) -> Any:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 20):
            return value
        raise ValueError("'auto' or a whole number of repeats from 1 to 20")


RANGE_KEYS = frozenset({"low", "high", "log", "type"})


def space_spec_problem(spec: Any) -> str | None:
    """Why a search-space entry is invalid, or None: a non-empty list, or {low, high[, log][, type]}."""
    if isinstance(spec, list | tuple):
        return None if spec else "an empty list of choices"
    if not isinstance(spec, dict) or not {"low", "high"} <= set(spec) <= RANGE_KEYS:
        return "neither a list of choices nor a range {low, high[, log][, type]}"
    low, high = spec["low"], spec["high"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or low >= high:
        return f"a range with numbers low < high, not low={low!r}, high={high!r}"
    if spec.get("type", "float") not in ("int", "float") or (spec.get("log") and low <= 0):
        return "type 'int' or 'float', and low > 0 for a log range"
    return None


class TrainParams(Section):
    """Stage `train`: tune the selected families, check over/underfitting, refit the best.

    `space` overrides the default search space per family and parameter, e.g.
    {"svm": {"C": {"low": 0.1, "high": 100, "log": True}, "kernel": ["rbf"]}}; `n_iter` is the
    number of candidates (random, halving) or trials (optuna); `time_budget_s` is the wall time of
    all the families' searches together. From `large_data_rows` training rows on (null: never), at most 3
    folds. With more than `search_rows` training rows (null: never), the searches, the probability check, the
    ensemble and the learning curve read a seeded, stratified sample of that many, and the kept configuration
    is refitted once on all rows. `n_jobs` fits folds in that many processes (-1: every core `core.parallel` allows).
    `learning_curve` and `validation_curve` switch the two diagnostic curves off. `patience` stops an Optuna
    search after that many trials in a row without a gain above the best's fold standard error (null: never).
    A tuned configuration replaces its family's defaults, and an ensemble the single model, only when its paired
    per-fold gain exceeds one corrected standard error (mlworkflow.core.searches.clearly_better).
    Select's other chosen families (after the first `top_k`) and the HGB reference are cross-validated on the same
    folds with their defaults; `ensemble` combines every family cross-validated there, when two or more are.
    """

    search: Literal["grid", "random", "halving", "optuna"] = "optuna"
    n_iter: int = Field(30, ge=1, le=10_000)
    patience: int | None = Field(10, ge=1, le=10_000)
    grid_points: int = Field(3, ge=2, le=20)
    folds: int = Field(5, ge=2, le=20)
    metric: str = "auto"
    top_k: int = Field(1, ge=1, le=10)
    space: dict[str, dict[str, Any]] = Field(default_factory=dict)
    time_budget_s: float | None = Field(600.0, gt=0)
    n_jobs: int = Field(-1, ge=-1, le=64)
    learning_curve: bool = True
    validation_curve: bool = True
    validation_param: str | None = None
    large_data_rows: int | None = Field(20_000, ge=100)
    search_rows: int | None = Field(100_000, ge=1000)  # the searches' seeded, stratified sample; refit on all rows
    ensemble: Literal["none", "greedy", "stack"] = "greedy"  # of the searches sharing folds, kept when it wins (core.ensemble)

    @field_validator("space")
    @classmethod
    def _valid_specs(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for family, specs in value.items():
            for name, spec in specs.items():
                if (problem := space_spec_problem(spec)) is not None:
                    raise ValueError(f"space.{family}.{name}: {problem}")
        return value


class EvaluateParams(Section):
    """Stage `evaluate`: test-set metrics with intervals, the decision threshold, groups."""

    bootstrap: int = Field(1000, ge=50, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    threshold_rule: Literal["max_f1", "cost", "min_precision"] = "max_f1"
    cost_fp: float = Field(1.0, ge=0.0)
    cost_fn: float = Field(1.0, ge=0.0)
    min_precision: float = Field(0.8, gt=0.0, le=1.0)
    threshold_folds: int = Field(3, ge=2, le=20)
    group_columns: tuple[str, ...] = ()
    group_tolerance: float = Field(0.05, ge=0.0, le=1.0)
    group_min_rows: int = Field(30, ge=1, le=1_000_000)  # smaller groups get a caution, not a verdict
    permutation_repeats: int = Field(5, ge=1, le=100)
    permutation_rows: int | None = Field(10_000, ge=100)  # a seeded stratified sample of the test rows (null: all)
    explain_rows: int = Field(200, ge=10, le=100_000)  # the seeded sample of test rows SHAP (or partial dependence) reads
    n_jobs: int = Field(1, ge=-1, le=64)


class DeployParams(Section):
    """Stage `deploy`: the model bundle and its registry; the checks and limits of `serve` and `predict`.

    A relative `registry` folder lies in the run's root folder for the stage (`mlworkflow run
    --root`, the current folder by default) and in the current folder for `serve`, `predict` and
    `promote`. `alias` is given to the new version (null: none). `log_url` is the prediction log's
    SQLAlchemy URL (null: the SQLite file `<registry>/<name>/predictions.sqlite`). Requests of at
    most `fast_path_rows` rows skip pandas and scikit-learn's input checks (same numbers: fastpath.py).
    """

    name: str = Field("model", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    registry: str = Field("models", min_length=1)
    alias: Literal["champion", "challenger"] | None = "challenger"
    intended_use: str = "Scoring records like the training data, to support a person's decision, not to replace it."
    limitations: tuple[str, ...] = ()
    unseen_categories: Literal["reject", "flag"] = "reject"
    max_rows: int = Field(10_000, ge=1, le=1_000_000)
    max_body_bytes: int = Field(8_388_608, ge=1024, le=1_073_741_824)
    fast_path_rows: int = Field(1000, ge=0, le=100_000)
    log_url: str | None = None
    allow_version_mismatch: bool = False


class MonitorParams(Section):
    """Stage `monitor`: drift of inputs and predictions, performance decay, a verdict; the retrain gate.

    Current data: `current` (a CSV/Parquet batch, relative to the params file; labelled rows give
    realized metrics), or the prediction log at `log_url` from `since` to `until` (ISO times, UTC
    unless a zone is given); with neither, the held-out test split of the model's run. `model` is
    the monitored registry reference (NAME@ALIAS or NAME@VERSION; null: the version the run's
    deploy stage registered) in `registry` (null: the deploy stage's registry). `reference` is a
    file of reference records (null: the training split of the model's run).

    Drift per column: with fewer than `test_rows` rows on either side, a KS (numeric) or
    chi-squared (categorical) test, p-values corrected across columns by Benjamini–Hochberg at
    `alpha`; otherwise an effect size: the Wasserstein distance in reference standard deviations
    (`wasserstein_threshold`) or the Jensen–Shannon distance, base 2 (`js_threshold`). A change of
    the missing share by `missing_threshold` or more is drift too. PSI (`bins` reference quantile
    bins) is reported with its `psi_bands`. The data drifted when at least `drift_share` of the
    columns did. Decay: the deciding `metric` ("auto": the evaluate stage's) per chunk (`chunks`
    equal parts of the current data in time order), realized from labels or estimated from
    probabilities (CBPE); a relative loss of `decay_tolerance` or more, beyond the intervals, means
    retrain. Gate (`mlworkflow retrain`): the latest `holdout_share` of the new data is held out;
    the challenger must gain at least `gate_min_gain` (absolute) and `gate_min_relative_gain`
    (relative to the champion) on each metric named there, significantly when `gate_significant`,
    and lose at most `gate_tolerance` on each of `gate_no_worse`; `auto_promote` then makes it champion.
    """

    current: str | None = None
    log_url: str | None = None
    since: str | None = None
    until: str | None = None
    time_column: str | None = None
    model: str | None = None
    registry: str | None = None
    reference: str | None = None
    missing_markers: tuple[str, ...] = ("?",)
    test_rows: int = Field(5000, ge=10)
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    wasserstein_threshold: float = Field(0.1, gt=0.0)
    js_threshold: float = Field(0.1, gt=0.0, le=1.0)
    missing_threshold: float = Field(0.1, gt=0.0, le=1.0)
    psi_bands: tuple[float, float] = (0.1, 0.25)
    bins: int = Field(10, ge=2, le=100)
    drift_share: float = Field(0.3, gt=0.0, le=1.0)
    metric: str = "auto"
    decay_tolerance: float = Field(0.05, ge=0.0, lt=1.0)
    chunks: int = Field(8, ge=1, le=100)
    min_rows: int = Field(50, ge=1)
    bootstrap: int = Field(200, ge=50, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    holdout_share: float = Field(0.5, gt=0.0, lt=1.0)
    gate_min_gain: dict[str, float] = Field(default_factory=lambda: {"auto": 0.0})
    gate_min_relative_gain: dict[str, float] = Field(default_factory=dict)
    gate_significant: bool = True
    gate_no_worse: tuple[str, ...] = ()
    gate_tolerance: float = Field(0.0, ge=0.0)
    auto_promote: bool = False

    @field_validator("current", "reference")
    @classmethod
    def _file_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, _base_dir(info))

    @field_validator("log_url")
    @classmethod
    def _sqlite_log(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_sqlite_url(value, _base_dir(info))

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        from datetime import date, datetime

        if isinstance(value, date):  # YAML reads an unquoted 2026-01-31 as a date
            return value.isoformat()
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("an ISO date or time, e.g. 2026-01-31 or 2026-01-31T12:00") from None
        return value

    @field_validator("metric", "gate_min_gain", "gate_min_relative_gain", "gate_no_worse")
    @classmethod
    def _known_metrics(cls, value: Any) -> Any:
        known = ["auto", *sorted(metrics.evaluated())]
        for name in [value] if isinstance(value, str) else value:
            if name not in known:
                raise ValueError(f"'auto' or a metric of the evaluate stage ('{name}' is unknown.{did_you_mean(name, known)})")
        return value

    @model_validator(mode="after")
    def _one_current(self) -> MonitorParams:
        if self.current is not None and self.log_url is not None:
            raise ValueError("either 'current' (a file) or 'log_url' (the prediction log), not both")
        if self.psi_bands[0] >= self.psi_bands[1]:
            raise ValueError("psi_bands as (moderate, major) with moderate < major")
        return self


class SweepParams(Section):
    """`mlworkflow sweep`: the params to vary, each `section.key` with its values (one variant per combination,
    added to by `--vary`), and how many variants run at once (null: as many as the cores allow). `mlworkflow
    run` ignores this section."""

    vary: dict[Annotated[str, Field(pattern=r"^[a-z]+(\.[A-Za-z0-9_]+)+$")], tuple[Any, ...]] = Field(default_factory=dict)
    parallel: int | None = Field(None, ge=1, le=64)

    @field_validator("vary")
    @classmethod
    def _values(cls, value: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
        import json

        for key, values in value.items():
            if key.split(".")[0] == "sweep" or key == "run.name":
                raise ValueError(f"keys of the stages' sections or run.seed ('{key}' cannot vary)")
            if not values or len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
                raise ValueError(f"'{key}' with at least one value, each listed once")
        return value


class Params(Section):
    """A whole params file: run settings, then one section per stage, in run order."""

    run: RunParams
    data: DataParams
    preprocess: PreprocessParams = PreprocessParams()
    select: SelectParams = SelectParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    deploy: DeployParams = DeployParams()
    monitor: MonitorParams = MonitorParams()
    sweep: SweepParams = SweepParams()


STAGES: tuple[str, ...] = tuple(name for name in Params.model_fields if name not in ("run", "sweep"))


def section_class(stage: str) -> type[Section]:
    """The params class of a stage, e.g. DataParams for 'data'."""
    annotation = Params.model_fields[stage].annotation
    assert isinstance(annotation, type) and issubclass(annotation, Section)
    return annotation


def _fields_at(loc: Sequence[str | int]) -> list[str]:
    model: type[BaseModel] = Params
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return list(model.model_fields)
        model = annotation
    return list(model.model_fields)


def _issue(error: Mapping[str, Any], overridden: Iterable[str]) -> ParamsIssue:
    loc = tuple(error["loc"])
    key = ".".join(str(part) for part in loc) or "(top level)"
    origin = " (set by --set)" if key in set(overridden) else ""
    if error["type"] == "extra_forbidden":
        known = _fields_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), known)
        return ParamsIssue(key, f"one of {', '.join(known)}", "an unknown key" + origin, hint)
    if error["type"] == "missing":
        return ParamsIssue(key, "a value (the key is required)", "nothing")
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    found = repr(error.get("input"))
    return ParamsIssue(key, message, f"{found}{origin}")


def _parse_value(text: str, key: str, source: str) -> Any:
    """An override's value read as YAML (text that is not YAML stays text); a duplicate key is an error."""
    try:
        return yamlfile.loads(text)
    except yamlfile.DuplicateKeyError as exc:
        issue = ParamsIssue(f"{key}.{exc.path}", "each key once (set by --set)", f"'{exc.path}' twice in {text!r}")
        raise ParamsError(source, [issue]) from None
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str], source: str) -> list[str]:
    """Apply `section.key=value` overrides in place; return the keys they set."""
    keys = []
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            issue = ParamsIssue("--set", "section.key=value", repr(item))
            raise ParamsError(source, [issue])
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ParamsError(source, [ParamsIssue(key, "a section", repr(target))])
        target[parts[-1]] = _parse_value(value, key.strip(), source)
        keys.append(".".join(parts))
    return keys


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a params file into a dict, with one-line errors that name the file (and the line, key or byte)."""
    if not path.is_file():
        raise ParamsError(str(path), [ParamsIssue("(file)", "an existing params file", "no file")])
    try:
        raw = yamlfile.loads(_decoded(path))
    except yamlfile.DuplicateKeyError as exc:
        lines = f"lines {exc.first_line} and {exc.second_line}"
        raise ParamsError(str(path), [ParamsIssue(exc.path, "each key once", f"it twice ({lines})")]) from None
    except yaml.YAMLError as exc:
        raise ParamsError(str(path), [ParamsIssue("(file)", "valid YAML", _yaml_problem(exc))]) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        found = f"a {type(raw).__name__}"
        raise ParamsError(str(path), [ParamsIssue("(file)", "a mapping of sections", found)])
    return raw


def _decoded(path: Path) -> str:
    """A params file's text: UTF-8 (a byte-order mark allowed), else an error naming the first bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = f"byte 0x{data[exc.start]:02x} at offset {exc.start}, which is not UTF-8"
        raise ParamsError(str(path), [ParamsIssue("(file)", "UTF-8 text", found)]) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error on one line: the problem and where it is."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return _first_line(str(exc))
    mark = exc.problem_mark
    return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"


def _first_line(text: str) -> str:
    """The first non-empty line of a message."""
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def validate(raw: Mapping[str, Any], source: str, base: Path, overridden: Sequence[str] = ()) -> Params:
    """Validate a raw mapping against the schema, or raise one ParamsError listing every issue."""
    try:
        return Params.model_validate(raw, context={"base": base})
    except ValidationError as exc:
        issues = [_issue(error, overridden) for error in exc.errors()]
        raise ParamsError(source, issues) from None


def load_params(path: Path | str, overrides: Sequence[str] = ()) -> Params:
    """Load, override and validate a params file; relative paths resolve against its folder."""
    path = Path(path)
    raw = read_yaml(path)
    overridden = apply_overrides(raw, overrides, str(path))
    return validate(raw, str(path), path.resolve().parent, overridden)


def stage_parameters(params: Params, stage: str, artifacts: Path, params_file: str) -> dict[str, Any]:
    """The papermill parameters of one stage: its section plus the run-level names (`RUN_NAMES`)."""
    section = getattr(params, stage).model_dump(mode="json")
    return {**section, "seed": params.run.seed, "artifacts": str(artifacts), "params_file": params_file}


def section_from_namespace(stage: str, namespace: Mapping[str, Any]) -> Section:
    """Build a stage's params from a notebook's variables (its `parameters` cell); errors name the params file."""
    cls = section_class(stage)
    values = {name: namespace[name] for name in cls.model_fields if name in namespace}
    try:
        return cls.model_validate(values, context={"base": Path.cwd()})
    except ValidationError as exc:
        source = str(namespace.get("params_file") or f"notebook '{stage}' parameters")
        raise ParamsError(source, [_issue({**e, "loc": (stage, *e["loc"])}, ()) for e in exc.errors()]) from None
