"""Stage `train`: tune the chosen model families, check over/underfitting, refit the best on all rows.

Four searches, chosen by `train.search` and run by `core.strategies`: "grid" (a few points per range),
"random" (scipy distributions), "halving" (scikit-learn's HalvingRandomSearchCV) and "optuna" (TPE,
a Bayesian search). Every search cross-validates the whole pipeline, so the preprocessor is fitted inside each
fold. Scores keep scikit-learn's sign (higher is better) until they are shown: errors such as
`neg_root_mean_squared_error` are reported as positive numbers under their plain name.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import learning_curve, train_test_split, validation_curve

from mlworkflow.core import (
    calibration,
    crossval,
    ensemble,
    families,
    imbalance,
    metrics,
    oof,
    parallel,
    searches,
    selection,
    steps,
    strategies,
    trials,
)
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.names import metric_label, tuning_words
from mlworkflow.errors import DataError, MlwError, ParamsError, ParamsIssue, did_you_mean
from mlworkflow.params import TrainParams
from mlworkflow.records import SELECT, TRAIN_SPLIT, TrainRecord

CURVE_POINTS = 4
LEARNING_SIZES = (0.25, 0.5)  # shares of each fold's training rows; the whole of them is the search's own fits
CURVE_ROWS = 10_000  # the validation curve runs on a stratified sample of this many rows when there are more
LARGE_DATA_FOLDS = 3  # at most this many folds from `train.large_data_rows` training rows on
CHECK_ROWS = 10_000  # the reload check predicts at most this many training rows
OVERFIT_GAP = 0.05  # relative train–validation gap above which the model overfits
STILL_LEARNING = 0.01  # relative validation gain over the last step above which more data would help


# --- inputs and metric ---------------------------------------------------------------------------


def split_xy(frame: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, pd.Series]:
    """The spec's feature columns and the target of a training frame."""
    missing = [c for c in (*spec.features, spec.target) if c not in frame.columns]
    if missing:
        raise DataError(f"is missing from the training frame; re-run stage '{TRAIN_SPLIT.stage}'", missing[0], TRAIN_SPLIT.name)
    return frame[list(spec.features)], frame[spec.target]


def families_to_tune(chosen: Sequence[str], top_k: int, task: str) -> tuple[str, ...]:
    """The first `top_k` families select chose (select.json's `chosen`), each checked to fit the task."""
    names = list(chosen)
    if not names:
        raise DataError(f"has no 'chosen' model family; re-run stage '{SELECT.stage}'", source=SELECT.name)
    for name in names[:top_k]:
        families.check_family(str(name), task, key=f"{SELECT.name}: chosen")
    return tuple(str(name) for name in names[:top_k])


def families_at_defaults(chosen: Sequence[str], top_k: int, task: str) -> tuple[str, ...]:
    """The families cross-validated with their defaults only — select's other chosen ones (after the first `top_k`)
    and the reference family, when not tuned: one fit per fold each, they compete with the tuned ones and join the
    ensemble."""
    names = [str(name) for name in chosen]
    return tuple(searches.at_defaults(names[:top_k], names[top_k:], task))


# --- tuning ---------------------------------------------------------------------------------------


def fold_count(params: TrainParams, rows: int | None) -> int:
    """The folds train cross-validates on: `folds`, at most LARGE_DATA_FOLDS from `large_data_rows` rows on (each
    held-out fold then has thousands of rows, so fewer folds barely widen the score's spread but save fits)."""
    large = params.large_data_rows is not None and rows is not None and rows >= params.large_data_rows
    return min(params.folds, LARGE_DATA_FOLDS) if large else params.folds


def search_settings(params: TrainParams, rows: int | None = None) -> trials.SearchSettings:
    """The search the train params ask for on `rows` training rows (None: as many folds as `folds` says)."""
    return trials.SearchSettings(
        params.search, params.n_iter, params.grid_points, fold_count(params, rows), parallel.fit_jobs(params.n_jobs),
        params.time_budget_s, params.space, params.patience,
    )


def search_rows(X: pd.DataFrame, y: pd.Series, params: TrainParams, task: str, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The rows the searches, the probability check, the ensemble and the learning curve read: all training rows, or
    a seeded (stratified) sample of `search_rows`; the kept configuration is refitted once on all rows (`fit_final`)."""
    kept = crossval.sample_positions(y, task, params.search_rows, seed)
    return (X, y) if len(kept) == len(y) else (X.iloc[kept], y.iloc[kept])


def search_rows_sentence(rows: int, params: TrainParams) -> str | None:
    """What the page and train.json say when the searches read a sample (None: they read every row)."""
    if params.search_rows is None or rows <= params.search_rows:
        return None
    return (f"{params.search_rows:,} of {rows:,} rows (seeded, stratified; `search_rows`), "
            f"the kept configuration refitted on all (a bagged forest's trees drawing {params.search_rows:,} each)")


def tune_all(
    spec: FeatureSpec, names: Sequence[str], X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int,
    metric: str, progress: bool = False, also: Sequence[str] = (),
) -> tuple[searches.SearchResult, ...]:
    """Tune each chosen family with the configured search, plus `also` (`families_at_defaults`) and the reference
    family with their defaults when not tuned, on `search_rows` (all training rows up to `train.search_rows`)."""
    X, y = search_rows(X, y, params, spec.task, seed)
    return searches.tune_all(spec, names, X, y, search_settings(params, len(X)), seed, metric, progress, also)


def searched_rows(result: searches.SearchResult) -> int | None:
    """How many rows the search read (its out-of-fold predictions' rows; None when it kept none)."""
    return None if result.oof is None else len(result.oof.fold)


def bagged_draws(estimator: Any, searched: int | None, rows: int) -> dict[str, int]:
    """`max_samples` for every bagged model inside `estimator` (bootstrap on, no draw size of its own) refitted on more
    rows than the search read: each tree then draws as many rows as the search read (`searched`), as a refit on the
    search's rows would, so the tuned leaf sizes keep their meaning and the refit's cost stops growing with the rows."""
    if searched is None or rows <= searched:
        return {}
    found = estimator.get_params(deep=True)
    owners = [key.removesuffix("max_samples") for key in found if key.rsplit("__", 1)[-1] == "max_samples"]
    return {f"{owner}max_samples": searched for owner in owners
            if found[f"{owner}max_samples"] is None and found.get(f"{owner}bootstrap") is True}


def fit_final(spec: FeatureSpec, result: searches.SearchResult, X: pd.DataFrame, y: pd.Series, seed: int,
              checked: calibration.Check | None = None) -> Any:
    """The tuned pipeline fitted on all training rows, calibrated when the probability check chose to (`keep`); a
    bagged forest draws per tree as many rows as the search read (`bagged_draws`)."""
    pipeline = searches.tuned_pipeline(spec, result, seed)
    pipeline.set_params(**bagged_draws(pipeline, searched_rows(result), len(X)))
    with searches.quiet():
        return calibration.calibrate(pipeline, checked).fit(X, y)


# --- probabilities no worse than the class prior's ------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """The search whose model is kept, its probability check (None for regression), the better ones passed over."""

    result: searches.SearchResult
    check: calibration.Check | None
    passed_over: Mapping[str, str]

    @property
    def sentence(self) -> str:
        """What the check measured and decided, and which better-scoring families it passed over."""
        if self.check is None:
            return "Regression: no probabilities to check."
        passed = "".join(f" Passed over: {why}" for why in self.passed_over.values())
        return f"{self.check.sentence}{passed}"

    def as_record(self) -> dict[str, Any] | None:
        """train.json's calibration part (None for regression)."""
        return None if self.check is None else {**self.check.as_dict(), "passed_over": dict(self.passed_over)}


def keep(spec: FeatureSpec, results: Sequence[searches.SearchResult], X: pd.DataFrame, y: pd.Series,
         params: TrainParams, seed: int) -> Kept:
    """The best search whose out-of-fold log-loss, calibrated where that helps, is no worse than the class prior's;
    a better-scoring family that stays worse is passed over, and none left is an error (regression: the best).
    The check reads the search's own out-of-fold predictions (`SearchResult.oof`): no model is refitted for it."""
    best = searches.best_of(results)
    if spec.task == "regression":
        return Kept(best, None, {})
    X, y = search_rows(X, y, params, spec.task, seed)
    passed: dict[str, str] = {}
    with searches.quiet():
        for result in searches.ranked(results):
            checked = probability_check(spec, result, X, y, params, seed)
            if checked.trusted:
                return Kept(result, checked, passed)
            passed[result.family] = checked.sentence
    raise DataError(f"no tuned family's probabilities beat the class prior's — {' '.join(passed.values())}",
                    source="train")


def probability_check(spec: FeatureSpec, result: searches.SearchResult, X: pd.DataFrame, y: pd.Series,
                      params: TrainParams, seed: int) -> calibration.Check:
    """The probability check of a search's best configuration: from its out-of-fold predictions, or (none kept) from
    one cross-validation of it on the same folds."""
    if result.oof is not None:
        return calibration.check_out_of_fold(result.family, result.oof)
    pipeline = searches.tuned_pipeline(spec, result, seed)
    return calibration.check(result.family, pipeline, X, y, fold_count(params, len(X)), seed,
                             parallel.fit_jobs(params.n_jobs))


def kept_out_of_fold(kept: Kept) -> oof.OutOfFold:
    """The kept model's out-of-fold predictions (calibrated when the check calibrates it), for `records.OOF`."""
    found = kept.result.oof
    if found is None:
        raise MlwError(f"search for '{kept.result.family}' kept no out-of-fold predictions ({kept.result.status})")
    return found if kept.check is None else calibration.kept_out_of_fold(found, kept.check)


def same_predictions(model: Any, other: Any, X: pd.DataFrame) -> bool:
    """Whether two fitted pipelines predict exactly the same on X, or on CHECK_ROWS rows spread evenly over a larger X
    (a model that saving changed has other trees or weights: it differs on most rows, not on a few)."""
    if len(X) > CHECK_ROWS:
        X = X.iloc[np.linspace(0, len(X) - 1, CHECK_ROWS).astype(int)]
    return bool(np.array_equal(np.asarray(model.predict(X)), np.asarray(other.predict(X))))


# --- an ensemble of the tuned families (core.ensemble) -------------------------------------------


def try_ensemble(spec: FeatureSpec, results: Sequence[searches.SearchResult], kept: Kept, y: pd.Series,
                 params: TrainParams, seed: int) -> ensemble.Choice:
    """The ensemble `train.ensemble` asks for of the searches' out-of-fold predictions — the tuned families' and the
    reference's defaults, which join whenever that family is not tuned — kept only when it beats the kept model in
    nested cross-validation."""
    y = y.iloc[crossval.sample_positions(y, spec.task, params.search_rows, seed)]  # the searches' rows
    tuned = ensemble.members(spec, results, seed) if params.ensemble != "none" else []
    return ensemble.choose(params.ensemble, tuned, kept.result.family, kept.result.metric, y, spec, seed,
                           parallel.fit_jobs(params.n_jobs))


def kept_predictions(kept: Kept, chosen: ensemble.Choice) -> oof.OutOfFold:
    """The kept model's out-of-fold predictions for `records.OOF`: a kept ensemble's held-out ones, else the single's."""
    return ensemble.out_of_fold(chosen, kept_out_of_fold(kept))


def fit_ensemble(chosen: ensemble.Choice, X: pd.DataFrame, y: pd.Series) -> Any:
    """The kept ensemble fitted on all training rows (every member refitted on them, a bagged forest drawing per tree
    as many rows as the search read: `bagged_draws`)."""
    searched = None if chosen.scores is None else len(chosen.scores.predictions)
    estimator = clone(chosen.estimator)
    estimator.set_params(**bagged_draws(estimator, searched, len(X)))
    return ensemble.fit(dataclasses.replace(chosen, estimator=estimator), X, y)


def with_ensemble(record: TrainRecord, chosen: ensemble.Choice, results: Sequence[searches.SearchResult]) -> TrainRecord:
    """train.json with the ensemble's part; a kept ensemble is the family, with its members' parameters, its nested
    CV score and its held-out probabilities' check."""
    content = {**record.model_dump(), "ensemble": chosen.as_dict()}
    if chosen.kept and chosen.scores is not None:
        scores = metrics.sign(chosen.metric) * np.asarray(chosen.scores.ensemble)
        content |= {
            "family": ensemble.NAME, "cv_score": {"mean": scores.mean(), "std": scores.std(), "train_mean": None},
            "best_params": {r.family: searches.best_trial(r).params for r in results if r.family in chosen.members},
            "calibration": chosen.calibration_record(),
            "headline": {**record.headline, "model": chosen.label,
                         f"cv {record.score_name}": f"{scores.mean():.4f} ± {scores.std():.4f}", **chosen.headline()},
        }
    return TrainRecord.model_validate(json_ready(content))


# --- tables (train.json keeps them) ---------------------------------------------------------------


def display_value(value: Any) -> Any:
    """A parameter value for a table cell (lists and None as text, floats to 4 significant digits)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value if isinstance(value, int | str | bool) else "None" if value is None else json.dumps(value)


def trials_table(result: searches.SearchResult, top: int = 10, decimals: int = 4) -> pd.DataFrame:
    """The `top` best trials, best first: parameters, CV score (mean, sd) and the train score."""
    name, sign = metrics.display_name(result.metric), metrics.sign(result.metric)
    rows = [
        {
            "trial": number,
            **({"round": t.iteration, "rows": t.resources} if result.search == "halving" else {}),
            **{searches.short_name(k): display_value(v) for k, v in t.params.items()},
            name: sign * t.score, "sd": t.std, f"train {name}": sign * t.train_score, "note": t.error,
        }
        for number, t in enumerate(result.trials, start=1)
    ]
    keys = [(-t.iteration, -t.score if math.isfinite(t.score) else math.inf) for t in result.trials]
    order = sorted(range(len(rows)), key=lambda i: keys[i])
    table = pd.DataFrame([rows[i] for i in order[:top]]).set_index("trial")
    if not table["note"].astype(bool).any():
        table = table.drop(columns="note")
    scores = [name, "sd", f"train {name}"]  # parameters already show 4 significant digits
    table[scores] = table[scores].round(decimals)
    return table


def search_table(results: Sequence[searches.SearchResult], decimals: int = 4) -> pd.DataFrame:
    """One row per tuned family: trials run, best CV score (mean, sd) and how the search ended."""
    rows = []
    for result in results:
        best, sign = result.best, metrics.sign(result.metric)
        rows.append({
            "family": result.family,
            "search": result.search,
            "trials": len(result.trials),
            f"cv {metrics.display_name(result.metric)}": sign * best.score if best else math.nan,
            "sd": best.std if best else math.nan,
            "status": result.status,
        })
    return pd.DataFrame(rows).set_index("family").round(decimals)


# --- learning and validation curves ----------------------------------------------------------------


def is_number(value: Any) -> bool:
    """Whether a parameter value is a real number (booleans and None are choices)."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def curve_frame(x_name: str, x: Sequence[Any], train: Any, valid: Any, metric: str) -> pd.DataFrame:
    """Mean and sd of train and validation scores (display sign) per point of a curve."""
    train, valid, sign = np.asarray(train, dtype=float), np.asarray(valid, dtype=float), metrics.sign(metric)
    numeric = all(is_number(v) for v in x)
    return pd.DataFrame({
        x_name: pd.Series(list(x), dtype=None if numeric else object),  # keep None a choice, not NaN
        "train": sign * train.mean(axis=1),
        "train sd": train.std(axis=1),
        "validation": sign * valid.mean(axis=1),
        "validation sd": valid.std(axis=1),
    })


def learning_curve_frame(
    spec: FeatureSpec, result: searches.SearchResult, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int
) -> pd.DataFrame:
    """Train and validation scores of the tuned pipeline as the number of training rows grows: a quarter and half
    of each fold's training rows, then all of them — the search's own fits of the best trial, not refitted (on the
    searches' rows, `search_rows`)."""
    X, y = search_rows(X, y, params, spec.task, seed)
    best = searches.best_trial(result)
    reused = len(best.fold_scores) == fold_count(params, len(X))
    shares = LEARNING_SIZES if reused else (*LEARNING_SIZES, 1.0)
    cv = crossval.make_cv(spec.task, fold_count(params, len(X)), seed)
    with searches.quiet(), parallel.configured():  # local processes, or the run's Dask cluster
        sizes, train, valid = learning_curve(
            searches.tuned_pipeline(spec, result, seed), X, y, train_sizes=np.array(shares), cv=cv,
            scoring=searches.scorer(result.metric, y, spec, key="train.metric"),
            n_jobs=parallel.fit_jobs(params.n_jobs), shuffle=True, random_state=seed, error_score=np.nan,
        )
    if reused:
        full = len(X) - len(next(cv.split(X, y))[1])
        sizes, train = np.append(sizes, full), np.vstack([train, best.fold_train_scores])
        valid = np.vstack([valid, best.fold_scores])
    return curve_frame("training rows", [int(s) for s in sizes], train, valid, result.metric)


def curve_rows(X: pd.DataFrame, y: pd.Series, task: str, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The rows a validation curve sweeps on: all of them, or a (stratified) seeded sample of CURVE_ROWS."""
    if len(X) <= CURVE_ROWS:
        return X, y
    stratify = None if task == "regression" else y
    sample, _, sample_y, _ = train_test_split(X, y, train_size=CURVE_ROWS, random_state=seed, stratify=stratify)
    return sample, sample_y


def curve_param(family: str, task: str, space: Mapping[str, Any], requested: str | None) -> str:
    """The validation curve's parameter: the requested one, else the family's usual complexity knob."""
    if requested is not None:
        matches = [name for name in space if requested in (name, searches.short_name(name))]
        if not matches:
            names = [searches.short_name(name) for name in space]
            hint = did_you_mean(requested, names)
            issue = ParamsIssue("train.validation_param", f"a parameter of the search space ({', '.join(names)})",
                                repr(requested), hint)
            raise ParamsError("train", [issue])
        return matches[0]
    knob = families.get(family, task).curve_param
    preferred = [name for name in space if searches.short_name(name) == knob]
    ranges = [name for name, spec in space.items() if isinstance(spec, Mapping)]
    candidates = preferred or ranges or list(space)
    if not candidates:
        raise ParamsError("train", [ParamsIssue(f"train.space.{family}", "at least one parameter", "none")])
    return candidates[0]


def validation_curve_frame(
    spec: FeatureSpec, result: searches.SearchResult, X: pd.DataFrame, y: pd.Series, params: TrainParams, seed: int
) -> pd.DataFrame:
    """Train and validation scores as one parameter sweeps its range, the others at their tuned values (on at most
    CURVE_ROWS rows: the curve's shape, not its last digit, is what it shows)."""
    space = searches.merge_space(result.family, spec.task, params.space)
    name = curve_param(result.family, spec.task, space, params.validation_param)
    values = strategies.grid_values(space[name], CURVE_POINTS)
    rows, target = curve_rows(X, y, spec.task, seed)
    with searches.quiet(), parallel.configured():
        train, valid = validation_curve(
            searches.tuned_pipeline(spec, result, seed), rows, target, param_name=name, param_range=values,
            cv=crossval.make_cv(spec.task, fold_count(params, len(X)), seed),
            scoring=searches.scorer(result.metric, y, spec, key="train.metric"),
            n_jobs=parallel.fit_jobs(params.n_jobs), error_score=np.nan,
        )
    return curve_frame(searches.short_name(name), values, train, valid, result.metric)


@dataclass(frozen=True)
class Diagnosis:
    """A short verdict and the sentence that explains it."""

    verdict: str
    sentence: str


NOT_CHECKED = Diagnosis("not checked", "The learning curve was skipped (`learning_curve = False`).")
NOT_SWEPT = Diagnosis("not checked", "The validation curve was skipped (`validation_curve = False`).")


def gap(row: pd.Series, metric: str) -> float:
    """How much better the train score is than the validation score (positive = train better)."""
    return float(metrics.sign(metric) * (row["train"] - row["validation"]))


def learning_diagnosis(curve: pd.DataFrame, metric: str) -> Diagnosis:
    """Over- or underfitting read from the learning curve: the final gap and the last gain."""
    last, name = curve.iloc[-1], metric_label(metric)
    rows, train_score, valid_score = int(last.iloc[0]), float(last["train"]), float(last["validation"])
    absolute = gap(last, metric)
    relative = absolute / max(abs(valid_score), 1e-12)
    scores = f"train {name} {train_score:.4f} vs validation {valid_score:.4f} with {rows} rows"
    if relative > OVERFIT_GAP:
        verdict = "overfitting"
        text = (f"Overfitting: {scores}, a gap of {absolute:.4f} ({relative:.0%}); more data or stronger "
                "regularisation would help.")
    else:
        verdict = "no overfitting"
        text = (f"No sign of overfitting: {scores}, a gap of only {absolute:.4f} ({relative:.0%}); if the score "
                "is too low, the model underfits (try a more flexible model or less regularisation).")
    gain = 0.0 if len(curve) < 2 else metrics.sign(metric) * (valid_score - float(curve["validation"].iloc[-2]))
    if gain / max(abs(valid_score), 1e-12) > STILL_LEARNING:
        return Diagnosis(f"{verdict}, still learning", f"{text} The validation score still improves with more rows.")
    return Diagnosis(verdict, f"{text} The validation score has levelled off: more rows alone would help little.")


def value_label(value: Any) -> str:
    """A parameter value as short text."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def validation_diagnosis(curve: pd.DataFrame, metric: str) -> Diagnosis:
    """Where the validation score peaks, and which side of the range over- or underfits."""
    param, name, sign = str(curve.columns[0]), metric_label(metric), metrics.sign(metric)
    valid = sign * curve["validation"].to_numpy(dtype=float)
    if not np.isfinite(valid).any():
        return Diagnosis("failed", f"Every fit of the {param} sweep failed.")
    best = int(np.nanargmax(valid))
    gaps = np.array([gap(row, metric) for _, row in curve.iterrows()])
    parts = [f"Validation {name} peaks at {param}={value_label(curve.iloc[best, 0])} "
             f"({curve['validation'].iloc[best]:.4f}, train {curve['train'].iloc[best]:.4f})."]
    widest = int(np.nanargmax(gaps))
    if widest != best and gaps[widest] > gaps[best]:
        parts.append(f"At {param}={value_label(curve.iloc[widest, 0])} the train–validation gap grows to "
                     f"{gaps[widest]:.4f}: overfitting.")
    weakest = int(np.nanargmin(sign * curve["train"].to_numpy(dtype=float)))
    if weakest not in (best, widest):
        parts.append(f"At {param}={value_label(curve.iloc[weakest, 0])} even the train score drops to "
                     f"{curve['train'].iloc[weakest]:.4f}: underfitting.")
    edge = best in (0, len(curve) - 1)
    if edge:
        parts.append(f"The peak is at the edge of the range tried: consider widening the range of {param}.")
    return Diagnosis("peak at edge" if edge else "peak inside range", " ".join(parts))


# --- what the optional steps did to the final model ------------------------------------------------


def step_choice(spec: FeatureSpec, family: str, model: Any) -> dict[str, Any] | None:
    """The final model's kept and dropped features and its imbalance handling (None without either step)."""
    settings = spec.transformer
    if settings.feature_selection == "none" and settings.imbalance == "none":
        return None
    kept, dropped = selection.chosen_features(ensemble.member(model, family)) or ([], [])
    return {
        "feature_selection": settings.feature_selection,
        "imbalance": settings.imbalance,
        "cost": steps.selection_cost(settings.feature_selection),
        "kept": kept,
        "dropped": dropped,
        "imbalance_note": imbalance.family_note(settings.imbalance, family, families.BY_NAME[family].class_weight),
    }


# --- the artifact --------------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """NaN as None and NumPy scalars as Python values, recursively (train.json stays strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    value = trials.plain(value)
    return None if isinstance(value, float) and not math.isfinite(value) else value


def probability_headline(kept: Kept | None) -> dict[str, str]:
    """The headline's line on the kept model's probabilities (none for regression or without a check)."""
    if kept is None or kept.check is None:
        return {}
    shown = kept.check.chosen
    how = "uncalibrated" if kept.check.method == calibration.UNCALIBRATED else f"{kept.check.method} calibration"
    return {"probabilities": f"{how}, out-of-fold log-loss {shown.log_loss:.4f} (prior {kept.check.prior.log_loss:.4f})"}


def record(
    result: searches.SearchResult, results: Sequence[searches.SearchResult], diagnoses: Mapping[str, Diagnosis], top: int = 10,
    steps: Mapping[str, Any] | None = None, kept: Kept | None = None, sample: str | None = None,
) -> TrainRecord:
    """The content of train.json: the chosen family, its best parameters and CV score, the trials; `steps`: `step_choice`;
    `kept`: the probability check of the kept model (`keep`); `sample`: `search_rows_sentence`, when the searches read one."""
    best, name, sign = searches.best_trial(result), metrics.display_name(result.metric), metrics.sign(result.metric)
    mean = sign * best.score
    fit = diagnoses["learning"].verdict if "learning" in diagnoses else "not checked"
    tuning = searches.defaults_sentence(result)
    headline = {
        "model": result.family,
        f"cv {name}": f"{mean:.4f} ± {best.std:.4f}",
        "search": tuning_words(result.search, len(result.trials)),
        "fit": fit,
        **({"tuning": tuning} if tuning else {}),
        **({"search rows": sample} if sample else {}),
    }
    return TrainRecord.model_validate(json_ready({
        "family": result.family,
        "best_params": best.params,
        "cv_score": {"mean": mean, "std": best.std, "train_mean": sign * best.train_score},
        "metric": result.metric,
        "score_name": name,
        "greater_is_better": sign > 0,
        "search": result.search,
        "status": result.status,
        "n_trials": len(result.trials),
        "trials": trials_table(result, top).reset_index().to_dict(orient="records"),
        "searches": search_table(results).reset_index().to_dict(orient="records"),
        "diagnosis": {key: {"verdict": d.verdict, "sentence": d.sentence} for key, d in diagnoses.items()},
        "steps": steps,
        "calibration": kept.as_record() if kept is not None else None,
        "headline": {**headline, **probability_headline(kept),
                     **({} if steps is None or not steps["kept"] else {"features kept": len(steps["kept"])})},
    }))
