"""Ensembles of the tuned families, kept only when they beat the kept single model in cross-validation.

Two methods, both built from the families' out-of-fold predictions on the search's folds:

- "greedy": Caruana et al.'s ensemble selection with replacement (ICML 2004; what auto-sklearn and
  AutoGluon fit last): `ROUNDS` times, add the member whose addition gives the best deciding score of
  the averaged predictions; a member's weight is the share of rounds that picked it. The model is
  scikit-learn's soft-voting `VotingClassifier` (or `VotingRegressor`) over the members' full pipelines.
- "stack": scikit-learn's `StackingClassifier` (`StackingRegressor`): a logistic regression (ridge) on
  the members' out-of-fold probabilities (predictions), with scikit-learn's default final estimators.

Weights chosen on out-of-fold predictions flatter the ensemble, so the comparison is nested: for every
fold, the weights (or the final estimator) are chosen on the other folds' out-of-fold predictions and
scored on the held-out fold, beside the single model's predictions of the same fold. The ensemble is kept
only when its paired gain over the folds exceeds one corrected standard error (`searches.CLEAR_GAIN_T`, the
bar tuned settings clear over the defaults) and (classification) its held-out log-loss is no worse than
the class prior's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import StackingClassifier, StackingRegressor, VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import PredefinedSplit

from mlworkflow.core import calibration, crossval, metrics, oof, searches
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.names import family_label, metric_label

FloatArray = npt.NDArray[np.float64]
Method = Literal["none", "greedy", "stack"]
Rows = npt.NDArray[np.intp]
Score = Callable[[FloatArray, Rows], float]

ROUNDS = 25  # greedy rounds: weights are multiples of 1/25 (auto-sklearn takes 50 over many more members)
NAME = "ensemble"  # train.json's family of a kept ensemble
TRUSTED_TYPES = ("sklearn.utils._bunch.Bunch",)  # VotingClassifier keeps its fitted members in a Bunch
METHOD_NAMES = {"greedy": "greedy ensemble", "stack": "stack"}


class GivenPredictions(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """A regressor whose input is its prediction: lets a scorer score given predictions."""

    def fit(self, X: Any, y: Any) -> GivenPredictions:
        """Nothing to learn."""
        return self

    def predict(self, X: Any) -> FloatArray:
        """The input's single column."""
        return np.asarray(X, dtype=np.float64)[:, 0]


# --- out-of-fold predictions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A tuned family: its unfitted pipeline and its out-of-fold predictions on the search's folds."""

    family: str
    estimator: Any
    oof: FloatArray  # classification: predict_proba, columns the sorted classes; regression: (n, 1) predictions
    fold: Rows  # the fold that held each row out


def members(spec: FeatureSpec, results: Sequence[searches.SearchResult], seed: int) -> list[Member]:
    """The searches that kept out-of-fold predictions (`SearchResult.oof`), each with its tuned pipeline: no refit."""
    found = [(r, r.oof) for r in results]
    return [Member(r.family, searches.tuned_pipeline(spec, r, seed), np.asarray(o.predictions).reshape(len(o.fold), -1),
                   o.fold) for r, o in found if o is not None]


def fold_splits(fold: Rows) -> list[crossval.Split]:
    """The (fitted, held-out) row positions of each fold."""
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(int(fold.max()) + 1)]


def scorer_of(metric: str, y: pd.Series, spec: FeatureSpec) -> Score:
    """The deciding metric of predictions on some rows (scikit-learn sign, the positive class as in the search)."""
    scorer = searches.scorer(metric, y, spec, key="train.metric")
    given = GivenPredictions() if spec.task == "regression" else calibration.GivenProbabilities().fit(None, y)
    truth = np.asarray(y)

    def score(predictions: FloatArray, rows: Rows) -> float:
        return float(scorer(given, predictions[rows], truth[rows]))

    return score


# --- combining predictions -------------------------------------------------------------------------


def blend(oofs: Sequence[FloatArray], weights: FloatArray) -> FloatArray:
    """The weighted average of the members' predictions."""
    return np.tensordot(weights / weights.sum(), np.stack(oofs), axes=1)


def greedy_weights(oofs: Sequence[FloatArray], rows: Rows, score: Score, rounds: int = ROUNDS) -> FloatArray:
    """Ensemble selection with replacement on `rows`: each round adds the member that scores best with the rest
    (ties: the earlier, better-ranked member); weights are the shares of rounds."""
    counts, total = np.zeros(len(oofs)), np.zeros_like(oofs[0])
    for done in range(rounds):
        tried = [score((total + oof) / (done + 1), rows) for oof in oofs]
        pick = int(np.argmax(np.nan_to_num(tried, nan=-np.inf)))
        counts[pick] += 1
        total += oofs[pick]
    return counts / rounds


def meta_features(oofs: Sequence[FloatArray]) -> FloatArray:
    """The final estimator's inputs as StackingClassifier builds them: a binary member's positive column only."""
    return np.hstack([oof[:, 1:] if oof.shape[1] == 2 else oof for oof in oofs])


def final_estimator(task: str) -> Any:
    """scikit-learn's default final estimator of a stack."""
    return RidgeCV() if task == "regression" else LogisticRegression()


def stacked(oofs: Sequence[FloatArray], y: pd.Series, task: str, fit_rows: Rows, rows: Rows) -> FloatArray:
    """Predictions for `rows` of a final estimator fitted on the members' predictions of `fit_rows`."""
    meta = meta_features(oofs)
    model = final_estimator(task).fit(meta[fit_rows], np.asarray(y)[fit_rows])
    return np.asarray(model.predict(meta[rows]) if task == "regression" else model.predict_proba(meta[rows]),
                      dtype=np.float64).reshape(len(rows), -1)


# --- the nested comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class Nested:
    """The ensemble and the single model, each scored on every held-out fold, and the ensemble's held-out predictions."""

    ensemble: tuple[float, ...]
    single: tuple[float, ...]
    predictions: FloatArray


def held_out(method: Method, oofs: Sequence[FloatArray], y: pd.Series, task: str, score: Score,
             fit_rows: Rows, rows: Rows) -> FloatArray:
    """The ensemble's predictions for `rows`, chosen on `fit_rows` only."""
    if method == "stack":
        return stacked(oofs, y, task, fit_rows, rows)
    return blend([oof[rows] for oof in oofs], greedy_weights(oofs, fit_rows, score))


def nested(method: Method, oofs: Sequence[FloatArray], single: int, y: pd.Series, task: str, score: Score,
           splits: Sequence[crossval.Split]) -> Nested:
    """Per fold: the ensemble chosen on the other folds' predictions and the single model, scored on the fold."""
    predictions = np.zeros_like(oofs[0])
    ensemble, alone = [], []
    for fit_rows, rows in splits:
        predictions[rows] = held_out(method, oofs, y, task, score, fit_rows, rows)
        ensemble.append(score(predictions, rows))
        alone.append(score(oofs[single], rows))
    return Nested(tuple(ensemble), tuple(alone), predictions)


# --- the choice ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What was tried, the nested scores, and the unfitted ensemble when it is kept."""

    method: str
    metric: str
    single: str
    members: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()  # greedy: chosen on every row's out-of-fold predictions
    scores: Nested | None = None
    log_loss: calibration.Losses | None = None
    prior: calibration.Losses | None = None
    why_not: str = ""  # empty when kept
    estimator: Any = None

    @property
    def kept(self) -> bool:
        """Whether the ensemble replaces the single model."""
        return self.estimator is not None

    @property
    def sentence(self) -> str:
        """What was tried and decided, in one or two sentences."""
        if self.scores is None:
            return f"No ensemble: {self.why_not}."
        name = metric_label(self.metric)
        ensemble, single = self.shown(self.scores.ensemble), self.shown(self.scores.single)
        head = (f"The {METHOD_NAMES[self.method]} of {self.parts()} scores {name} {ensemble} in cross-validation "
                f"(chosen on the other folds' out-of-fold predictions, scored on the held-out fold) against {single} "
                f"for {family_label(self.single)} alone on the same folds")
        return f"{head}: kept." if self.kept else f"{head}: not kept, {self.why_not}."

    def shown(self, scores: Sequence[float]) -> str:
        """Mean ± sd of fold scores, display sign."""
        values = metrics.sign(self.metric) * np.asarray(scores)
        return f"{values.mean():.4f} ± {values.std():.4f}"

    def parts(self) -> str:
        """The members, with their weights for a greedy ensemble."""
        if not self.weights:
            return ", ".join(map(family_label, self.members))
        return ", ".join(f"{family_label(m)} {w:.2f}" for m, w in zip(self.members, self.weights, strict=True))

    @property
    def label(self) -> str:
        """The kept model in a few words: 'greedy ensemble: Logistic regression 0.24, Random forest 0.76'."""
        weights = self.weights or (None,) * len(self.members)
        parts = [family_label(m) if w is None else f"{family_label(m)} {w:.2f}"
                 for m, w in zip(self.members, weights, strict=True)]
        return f"{METHOD_NAMES.get(self.method, self.method)}: {', '.join(parts)}"

    def headline(self) -> dict[str, str]:
        """The headline's line on a kept ensemble's probabilities (none for regression)."""
        if self.log_loss is None or self.prior is None:
            return {}
        return {"probabilities": f"ensemble, held-out log-loss {self.log_loss.log_loss:.4f} (prior {self.prior.log_loss:.4f})"}

    def calibration_record(self) -> dict[str, Any] | None:
        """train.json's probability check of a kept ensemble: its held-out losses, uncalibrated (None: regression)."""
        if self.log_loss is None or self.prior is None:
            return None
        sentence = (f"The {METHOD_NAMES[self.method]}'s held-out log-loss {self.log_loss.log_loss:.4f} (Brier "
                    f"{self.log_loss.brier:.4f}) is no worse than the class prior's {self.prior.log_loss:.4f}; it averages "
                    "its members' probabilities as the search measured them, uncalibrated.")
        return {"family": NAME, "method": calibration.UNCALIBRATED, "trusted": True, "prior": vars(self.prior),
                "uncalibrated": vars(self.log_loss), "tried": {}, "sentence": sentence}

    def as_dict(self) -> dict[str, Any]:
        """The choice as train.json keeps it."""
        sign = metrics.sign(self.metric)
        folds = {} if self.scores is None else {
            "cv_score": {"ensemble": [sign * s for s in self.scores.ensemble], "single": [sign * s for s in self.scores.single]}}
        losses = {} if self.log_loss is None or self.prior is None else {"log_loss": self.log_loss.log_loss, "prior_log_loss": self.prior.log_loss}
        return {"method": self.method, "kept": self.kept, "single": self.single, "members": list(self.members),
                "weights": list(self.weights), **folds, **losses, "sentence": self.sentence}


def build(method: Method, members: Sequence[Member], weights: Sequence[float], task: str, cv: Any, n_jobs: int) -> Any:
    """The unfitted ensemble over the members' pipelines: soft voting with the weights, or a stack on the folds."""
    estimators = [(m.family, clone(m.estimator)) for m in members]
    if method == "stack":
        kind = StackingRegressor if task == "regression" else StackingClassifier
        return kind(estimators, final_estimator=final_estimator(task), cv=cv, n_jobs=n_jobs)
    if task == "regression":
        return VotingRegressor(estimators, weights=list(weights), n_jobs=n_jobs)
    return VotingClassifier(estimators, voting="soft", weights=list(weights), n_jobs=n_jobs)


def probability_gate(task: str, y: pd.Series, predictions: FloatArray, cv: Any) -> tuple[calibration.Losses | None, calibration.Losses | None]:
    """The ensemble's held-out log-loss and Brier score and the class prior's on the same folds (None: regression)."""
    if task == "regression":
        return None, None
    classes = np.unique(np.asarray(y)).tolist()
    return calibration.losses(y, predictions, classes), calibration.losses(y, calibration.prior_out_of_fold(y, cv), classes)


def gain_statistic(scores: Nested) -> float:
    """The corrected t statistic of the ensemble's paired per-fold gain over the single model (k folds: each holds
    out 1/k of the rows; `crossval.corrected_ttest`)."""
    return crossval.fold_gain_t(scores.ensemble, scores.single)


def verdict(scores: Nested, losses: calibration.Losses | None, prior: calibration.Losses | None, used: int) -> str:
    """Why the ensemble is not kept, or '' when it is."""
    if used < 2:
        return "its weights fall on one family only"
    if losses is not None and prior is not None and losses.log_loss > prior.log_loss:
        return f"its held-out log-loss {losses.log_loss:.4f} is worse than the class prior's {prior.log_loss:.4f}"
    statistic = gain_statistic(scores)
    if statistic <= searches.CLEAR_GAIN_T:
        return (f"it does not beat the single model by more than {searches.CLEAR_GAIN_T:g} corrected standard error "
                f"of the paired fold gains (t = {statistic:.2f}), the bar a tuned model must clear over the defaults")
    return ""


def choose(method: Method, candidates: Sequence[Member], single: str, metric: str, y: pd.Series, spec: FeatureSpec,
           seed: int, n_jobs: int = 1) -> Choice:
    """Try the ensemble of the candidates (the search's order) on the folds of the `single` model kept without one."""
    if method == "none":
        return Choice(method, metric, single, why_not="`train.ensemble` is none")
    two = ("it needs at least two families cross-validated on the same folds (`train.top_k` ≥ 2, or select's "
           "other chosen families or the reference at their defaults)")
    base = next((m for m in candidates if m.family == single), None)
    if base is None and len(candidates) >= 2:
        return Choice(method, metric, single, why_not=f"{family_label(single)} kept no out-of-fold predictions")
    members = [m for m in candidates if base is not None and np.array_equal(m.fold, base.fold)]  # scores pair up
    if base is None or len(members) < 2:
        return Choice(method, metric, single, why_not=two)
    score, oofs = scorer_of(metric, y, spec), [m.oof for m in members]
    scores = nested(method, oofs, members.index(base), y, spec.task, score, fold_splits(base.fold))
    losses, prior = probability_gate(spec.task, y, scores.predictions, PredefinedSplit(base.fold))
    weights = greedy_weights(oofs, np.arange(len(y)), score) if method == "greedy" else np.ones(len(members))
    used = [i for i, w in enumerate(weights) if w > 0]
    chosen = Choice(method, metric, single, tuple(members[i].family for i in used),
                    tuple(float(weights[i]) for i in used) if method == "greedy" else (), scores, losses, prior)
    if why_not := verdict(scores, losses, prior, len(used)):
        return replace(chosen, why_not=why_not)
    cv = crossval.make_cv(spec.task, int(base.fold.max()) + 1, seed)  # the search's folds, for a stack's own
    return replace(chosen, estimator=build(method, [members[i] for i in used], chosen.weights, spec.task, cv, n_jobs))

def fit(chosen: Choice, X: pd.DataFrame, y: pd.Series) -> Any:
    """The kept ensemble fitted on all rows (every member refitted on them)."""
    with searches.quiet():
        return clone(chosen.estimator).fit(X, y)


def member(model: Any, family: str) -> Any:
    """A fitted ensemble's member of the family (else its first), or the model itself when it is no ensemble."""
    fitted = getattr(model, "named_estimators_", None)
    if not isinstance(fitted, dict):
        return model
    return fitted.get(family, next(iter(fitted.values())))


def out_of_fold(chosen: Choice, single: oof.OutOfFold) -> oof.OutOfFold:
    """The kept model's out-of-fold predictions: a kept ensemble's held-out ones (nested), else the single model's."""
    if not chosen.kept or chosen.scores is None:
        return single
    predictions = chosen.scores.predictions.reshape(single.predictions.shape)
    return replace(single, predictions=predictions, margins=None)
