"""Probabilities to trust: out-of-fold log-loss and Brier score against the class prior's, and calibration.

A classifier whose out-of-fold log-loss is worse than predicting the class prior (the dummy baseline)
misleads whoever reads its probabilities, whatever metric chose it. `check` measures a tuned pipeline
on out-of-fold probabilities, tries scikit-learn's `CalibratedClassifierCV` on them — sigmoid always,
isotonic only with at least `MIN_ISOTONIC_ROWS` rows in every class, as isotonic regression's steps
overfit smaller sets (scikit-learn's user guide: "isotonic … with less than 1000 calibration samples
… tends to overfit") — and keeps a calibration only when it improves the out-of-fold log-loss or Brier
score without worsening the other. A calibrator is always fitted on held-out probabilities of other rows,
so the estimate is as honest as the cross-validated score; `calibrate` builds the model that behaves so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.dummy import DummyClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import PredefinedSplit, StratifiedKFold, cross_val_predict, cross_validate

from mlworkflow.core import parallel
from mlworkflow.core.names import family_label
from mlworkflow.core.oof import OutOfFold

FloatArray = npt.NDArray[np.float64]

MIN_ISOTONIC_ROWS = 1000  # per class: below it isotonic calibration overfits (scikit-learn's guide)
UNCALIBRATED = "none"
PRIOR = "class prior"
RELIABILITY_BINS = 10


@dataclass(frozen=True)
class Losses:
    """Log-loss and Brier score of probabilities (lower is better; Brier as scikit-learn defines it)."""

    log_loss: float
    brier: float

    def improves_on(self, other: Losses) -> bool:
        """Better on one of the two without being worse on the other."""
        return (self.log_loss < other.log_loss and self.brier <= other.brier) or (
            self.brier < other.brier and self.log_loss <= other.log_loss
        )


def losses(y: Any, proba: FloatArray, classes: Sequence[Any]) -> Losses:
    """Log-loss and Brier score of class probabilities whose columns follow `classes`."""
    labels = list(classes)
    matrix = np.asarray(proba, dtype=np.float64)
    return Losses(float(log_loss(y, matrix, labels=labels)), float(brier_score_loss(y, matrix, labels=labels)))


class GivenProbabilities(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """A classifier whose input is its class probabilities: lets CalibratedClassifierCV calibrate given predictions."""

    def fit(self, X: Any, y: Any) -> GivenProbabilities:
        """Learn the classes only."""
        self.classes_ = np.unique(np.asarray(y))
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """The input itself."""
        return np.asarray(X, dtype=np.float64)

    def predict(self, X: Any) -> Any:
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class GivenMargins(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """A classifier whose input is its decision function (one column for binary): what CalibratedClassifierCV
    calibrates for a model that has one."""

    def fit(self, X: Any, y: Any) -> GivenMargins:
        """Learn the classes only."""
        self.classes_ = np.unique(np.asarray(y))
        return self

    def decision_function(self, X: Any) -> FloatArray:
        """The input itself (a vector for binary)."""
        margins = np.asarray(X, dtype=np.float64)
        return margins[:, 0] if margins.shape[1] == 1 else margins

    def predict(self, X: Any) -> Any:
        """The class with the highest margin."""
        margins = self.decision_function(X)
        return self.classes_[(margins > 0).astype(int) if margins.ndim == 1 else np.argmax(margins, axis=1)]


# --- out-of-fold probabilities ------------------------------------------------------------------------


def folds(n_folds: int, seed: int) -> StratifiedKFold:
    """Shuffled stratified folds (those train cross-validates on)."""
    return StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)


def response(estimator: Any) -> str:
    """What CalibratedClassifierCV calibrates: the model's decision function if it has one, else its probabilities."""
    return "decision_function" if hasattr(estimator, "decision_function") else "predict_proba"


def no_score(estimator: Any, X: Any, y: Any) -> float:
    """A scorer that computes nothing: the folds' fitted models are what is wanted."""
    return 0.0


def out_of_fold(estimator: Any, X: pd.DataFrame, y: pd.Series, cv: Any, n_jobs: int = 1) -> tuple[FloatArray, FloatArray]:
    """For every row, from a clone fitted without its fold: the class probabilities (columns: sorted classes) and
    the response calibration reads (`response`; a column for a binary margin), from the same fits."""
    with parallel.configured():  # local processes, or the run's Dask cluster
        fitted = cross_validate(clone(estimator), X, y, cv=cv, n_jobs=n_jobs, scoring=no_score, return_estimator=True,
                                return_indices=True)
    method = response(estimator)
    proba, scores = np.zeros((len(y), y.nunique())), None
    for model, rows in zip(fitted["estimator"], fitted["indices"]["test"], strict=True):
        proba[rows] = model.predict_proba(X.iloc[rows])
        raw = np.asarray(getattr(model, method)(X.iloc[rows]), dtype=np.float64)
        scores = np.zeros((len(y), 1 if raw.ndim == 1 else raw.shape[1])) if scores is None else scores
        scores[rows] = raw.reshape(len(rows), -1)
    return proba, proba if scores is None else scores


def prior_out_of_fold(y: pd.Series, cv: Any) -> FloatArray:
    """The class prior of each fold's training rows, for its held-out rows (the dummy baseline's probabilities)."""
    return out_of_fold(DummyClassifier(strategy="prior"), pd.DataFrame(index=y.index), y, cv)[0]


def calibrated_out_of_fold(scores: FloatArray, y: pd.Series, method: str, cv: Any,
                           kind: str = "predict_proba") -> FloatArray:
    """Out-of-fold probabilities calibrated by `method` from held-out `scores` (probabilities, or margins when `kind`
    is 'decision_function'), each fold's calibrator fitted on the other rows' scores."""
    codes = np.unique(np.asarray(y), return_inverse=True)[1]  # cross_val_predict hands classifiers class codes
    given = (GivenMargins() if kind == "decision_function" else GivenProbabilities()).fit(scores, codes)
    calibrated = cross_val_predict(CalibratedClassifierCV(FrozenEstimator(given), method=method), scores, codes,
                                   cv=cv, method="predict_proba")
    return np.asarray(calibrated, dtype=np.float64)


def methods(y: pd.Series) -> tuple[str, ...]:
    """The calibrations worth trying: sigmoid, and isotonic when every class has MIN_ISOTONIC_ROWS rows."""
    return ("sigmoid", "isotonic") if int(y.value_counts().min()) >= MIN_ISOTONIC_ROWS else ("sigmoid",)


# --- the check --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A model's out-of-fold probabilities against the prior's, each calibration tried, and the choice."""

    family: str
    prior: Losses
    raw: Losses
    tried: Mapping[str, Losses]  # calibration method: out-of-fold losses
    method: str  # the chosen calibration, or UNCALIBRATED
    n_folds: int = 5  # the folds measured on, and those the calibrated model's calibrator is fitted over

    @property
    def chosen(self) -> Losses:
        """The losses of the model as it will be kept."""
        return self.raw if self.method == UNCALIBRATED else self.tried[self.method]

    @property
    def trusted(self) -> bool:
        """Whether the kept model's out-of-fold log-loss is no worse than the class prior's."""
        return self.chosen.log_loss <= self.prior.log_loss

    @property
    def sentence(self) -> str:
        """What was measured and decided, in one or two sentences."""
        raw = f"out-of-fold log-loss {self.raw.log_loss:.4f}, Brier {self.raw.brier:.4f}"
        prior = f"the class prior's {self.prior.log_loss:.4f}"
        if self.method == UNCALIBRATED:
            tried = ", ".join(f"{m} {v.log_loss:.4f}" for m, v in self.tried.items())
            head = f"{family_label(self.family)}: {raw}; calibration ({tried}) did not improve it"
        else:
            head = (f"{family_label(self.family)}: {raw}; {self.method} calibration improves it to log-loss "
                    f"{self.chosen.log_loss:.4f}, Brier {self.chosen.brier:.4f}, so the calibrated model is kept")
        verdict = "no worse than" if self.trusted else "worse than"
        return f"{head}. Its log-loss is {verdict} {prior}."

    def as_dict(self) -> dict[str, Any]:
        """The check as train.json keeps it."""
        return {
            "family": self.family, "method": self.method, "trusted": self.trusted,
            "prior": vars(self.prior), "uncalibrated": vars(self.raw),
            "tried": {name: vars(value) for name, value in self.tried.items()}, "sentence": self.sentence,
        }


def choose(raw: Losses, tried: Mapping[str, Losses], prior: Losses) -> str:
    """The calibration to keep: the lowest log-loss among those that improve on the uncalibrated model; when that
    one is worse than the prior, any lower log-loss counts as an improvement (trust comes first)."""
    better = {m: v for m, v in tried.items() if v.improves_on(raw) or
              (raw.log_loss > prior.log_loss and v.log_loss < raw.log_loss)}
    return min(better, key=lambda m: better[m].log_loss) if better else UNCALIBRATED


def judge(family: str, y: pd.Series, proba: FloatArray, scores: FloatArray, kind: str, cv: Any) -> Check:
    """The prior's out-of-fold probabilities on the folds `cv`, each calibration of `scores` tried on them, the
    choice (`proba`, `scores`: the model's held-out probabilities and the response `kind` calibration reads)."""
    classes = np.unique(np.asarray(y)).tolist()
    prior = losses(y, prior_out_of_fold(y, cv), classes)
    raw = losses(y, proba, classes)
    tried = {m: losses(y, calibrated_out_of_fold(scores, y, m, cv, kind), classes) for m in methods(y)}
    return Check(family, prior, raw, tried, choose(raw, tried, prior), cv.get_n_splits())


def check(family: str, estimator: Any, X: pd.DataFrame, y: pd.Series, n_folds: int, seed: int,
          n_jobs: int = 1) -> Check:
    """Measure the estimator's and the prior's out-of-fold probabilities, try each calibration, choose."""
    cv = folds(n_folds, seed)
    proba, scores = out_of_fold(estimator, X, y, cv, n_jobs)
    return judge(family, y, proba, scores, response(estimator), cv)


def check_out_of_fold(family: str, predictions: OutOfFold) -> Check:
    """`check` from a search's out-of-fold predictions (`searches.SearchResult.oof`), on the search's folds: no fit
    of the model at all, only the prior's and the calibrators' (on one column of scores per class or one margin)."""
    y = pd.Series(predictions.target)
    kind = "predict_proba" if predictions.margins is None else "decision_function"
    return judge(family, y, predictions.predictions, predictions.response(), kind, PredefinedSplit(predictions.fold))


def kept_out_of_fold(predictions: OutOfFold, checked: Check) -> OutOfFold:
    """The out-of-fold probabilities of the model as the check keeps it: calibrated ones (each row's calibrator
    fitted on the other folds' scores) when it chose a calibration, else the given ones."""
    if checked.method == UNCALIBRATED:
        return predictions
    kind = "predict_proba" if predictions.margins is None else "decision_function"
    calibrated = calibrated_out_of_fold(predictions.response(), pd.Series(predictions.target), checked.method,
                                        PredefinedSplit(predictions.fold), kind)
    return dataclasses.replace(predictions, predictions=calibrated, margins=None)


# --- the calibrated model ---------------------------------------------------------------------------


def calibrate(pipeline: Any, checked: Check | None) -> Any:
    """The unfitted pipeline as the check chose to keep it: its model step wrapped in CalibratedClassifierCV, so the
    model is fitted on all rows and the calibrator on its out-of-fold scores (`ensemble=False`), or as it is.

    The preprocessing before the model is fitted once on all rows, and the calibrator's folds reuse it (the check
    refitted it per fold): its steps learn from features, not from the held-out fold's labels."""
    if checked is None or checked.method == UNCALIBRATED:
        return pipeline
    name, model = pipeline.steps[-1]
    calibrated = CalibratedClassifierCV(clone(model), method=checked.method, cv=checked.n_folds, ensemble=False)
    return clone(pipeline).set_params(**{name: calibrated})


def uncalibrated(model: Any) -> Any:
    """A fitted pipeline that `calibrate` built, without its calibrator: the same model, fitted on all rows.

    Of the same class as the pipeline: an imbalanced-learn Pipeline (`preprocess.imbalance`) skips its sampler
    at predict, where a scikit-learn one would call the sampler's (missing) transform."""
    name, step = model.steps[-1]
    if not isinstance(step, CalibratedClassifierCV) or step.ensemble:
        raise ValueError(f"the model's last step is {type(step).__name__}, not a CalibratedClassifierCV(ensemble=False)")
    return type(model)([*model.steps[:-1], (name, step.calibrated_classifiers_[0].estimator)])


def reliability(truth: npt.NDArray[np.bool_], proba: FloatArray, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Reliability points: mean predicted probability against the observed frequency, per quantile bin."""
    observed, predicted = calibration_curve(truth, proba, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"predicted": predicted, "observed": observed})
