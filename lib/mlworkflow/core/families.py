"""The catalogue of model families that `select` compares and `train` tunes: one record per family.

Every family builds a Pipeline: ("preprocess", ColumnTransformer), the optional resampling and feature
selection steps `preprocess` asks for (`core.steps`), and ("model", estimator). Families and what they
map to, per task:

| family                   | classification (binary, multiclass)        | regression                          |
|--------------------------|--------------------------------------------|-------------------------------------|
| `logistic`               | LogisticRegression                         | Ridge (the linear family)           |
| `decision_tree`          | DecisionTreeClassifier                     | DecisionTreeRegressor               |
| `random_forest`          | RandomForestClassifier                     | RandomForestRegressor               |
| `hist_gradient_boosting` | HistGradientBoostingClassifier             | HistGradientBoostingRegressor       |
| `svm`                    | CalibratedClassifierCV(SVC, ensemble=False) | TransformedTargetRegressor(SVR)     |
| `knn`                    | KNeighborsClassifier                       | KNeighborsRegressor                 |
| `naive_bayes`            | GaussianNB                                 | (not available)                     |
| `mlp`                    | MLPClassifier                              | TransformedTargetRegressor(MLPRegressor) |
| `lightgbm`               | core.boosting.LGBMClassifier (early stopping) | core.boosting.LGBMRegressor      |

`hist_gradient_boosting` handles categories itself (`Family.native`): categorical columns are
ordinal-encoded (missing and unseen categories become NaN) and passed as `categorical_features`,
numeric columns as they are (the model handles NaN); `lightgbm` takes the same codes, told by
position (`categorical_column`: the ordinal transformer puts the categories first). Every other family uses
`features.build_preprocessor(spec)`. SVC is wrapped in a calibrator so every classifier has
`predict_proba` (SVC's own `probability` is deprecated); SVR and MLPRegressor learn a standardised
target, since their defaults assume one. Adding a family means adding one `Family` to `CATALOGUE`.

scikit-learn (and `features`, which imports it) is imported only when a model is built: `params`
imports this catalogue, and checking a params file must stay fast.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlworkflow.errors import ParamsError, ParamsIssue, did_you_mean

if TYPE_CHECKING:
    from mlworkflow.core.features import FeatureSpec

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
Wrapper = Literal["calibrate", "scale_target"]
WRAPPER_PREFIX: dict[str, str] = {"calibrate": "estimator__", "scale_target": "regressor__"}


def _range(low: float, high: float, log: bool = True, kind: str = "float") -> dict[str, Any]:
    return {"low": low, "high": high, "log": log, "type": kind}


@dataclass(frozen=True)
class Estimator:
    """A family's model for one kind of task: its class, defaults, wrapper, search space and curve knob.

    `space` maps the base estimator's parameter names to a list of choices or a range
    {"low", "high", "log", "type"}; `curve_param` is the parameter whose validation curve shows
    over/underfitting best; `seeded` says whether the class takes `random_state`.
    """

    cls: str
    space: Mapping[str, Any]
    curve_param: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    seeded: bool = True
    wrapper: Wrapper | None = None

    @property
    def prefix(self) -> str:
        """The parameter prefix of the base estimator inside the 'model' step ('' when unwrapped)."""
        return WRAPPER_PREFIX[self.wrapper] if self.wrapper else ""

    def build(self, seed: int) -> Any:
        """The unfitted base estimator with the family's defaults."""
        module, name = self.cls.rsplit(".", 1)
        seeded = {"random_state": seed} if self.seeded else {}
        return getattr(importlib.import_module(module), name)(**self.defaults, **seeded)


@dataclass(frozen=True)
class Native:
    """A model that encodes categories itself: the parameter naming them, and the levels it accepts."""

    param: str
    max_categories: int
    by_position: bool = False  # the parameter takes column indices, not names (LightGBM)


@dataclass(frozen=True)
class Family:
    """One model family: its models per task, how its inputs are prepared, the types its saved model holds.

    `trusted_types` are the types skops does not trust by default that a fitted model of this
    family contains (the registry trusts them, see `bundle.registry.default_trusted`). `row_wise`:
    the model's output for a row does not depend on the other rows of the call (trees, summed in a
    fixed order), so the service may score concurrent requests in one call. `class_weight`: its
    classifier takes `class_weight="balanced"` (`preprocess.imbalance: class_weight`). `sparse_text`:
    it takes text columns as sparse TF-IDF terms; the others get them as dense SVD components.
    """

    name: str
    classifier: Estimator | None
    regressor: Estimator | None
    native: Native | None = None
    trusted_types: tuple[str, ...] = ()
    row_wise: bool = False
    class_weight: bool = False
    sparse_text: bool = False

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this family can learn."""
        kinds = (("binary", self.classifier), ("multiclass", self.classifier), ("regression", self.regressor))
        return tuple(task for task, model in kinds if model is not None)

    def estimator(self, task: str) -> Estimator:
        """The model record for a task (check_family first: a missing one is a KeyError)."""
        model = self.regressor if task == "regression" else self.classifier
        if model is None:
            raise KeyError(f"{self.name} has no model for {task}")
        return model


MLP_DEFAULTS = {  # early stopping on a 10% split, patient enough (25 epochs) not to stop at once on small data
    "hidden_layer_sizes": (64,), "learning_rate_init": 3e-3, "early_stopping": True, "n_iter_no_change": 25,
    "max_iter": 500,
}
MLP_SPACE = {"hidden_layer_sizes": [32, 64, 128], "alpha": _range(1e-6, 1e-1), "learning_rate_init": _range(1e-4, 1e-2)}
TREE_SPACE = {"max_depth": _range(2, 30, kind="int"), "min_samples_leaf": _range(1, 100, kind="int")}
FOREST_SPACE = {"max_features": ["sqrt", 0.5, 1.0], "min_samples_leaf": _range(1, 30, kind="int"), "max_depth": [None, 8, 16]}
HGB_SPACE = {
    "learning_rate": _range(0.01, 0.3), "max_leaf_nodes": _range(8, 128, kind="int"),
    "min_samples_leaf": _range(5, 200, kind="int"), "l2_regularization": _range(1e-6, 10.0),
}
SVM_SPACE = {"C": _range(1e-2, 1e3), "gamma": _range(1e-4, 1.0)}
KNN_SPACE = {"n_neighbors": _range(1, 50, kind="int"), "weights": ["uniform", "distance"]}
KNN_DEFAULTS = {"n_neighbors": 15, "weights": "distance"}
FOREST_DEFAULTS = {"n_estimators": 100, "min_samples_leaf": 2, "n_jobs": 1}
TREE_TYPES = ("sklearn.tree._tree.Tree",)
# LightGBM: one thread (parallel CV runs folds in processes), deterministic and row-wise histograms so a
# seed gives the same model; early stopping on 10% of the rows held out inside fit (`core.boosting`), so
# n_estimators is a cap and not searched; small groups still split categories on small tables. The learning rate
# is searched from 0.03: below it the rounds early stopping needs approach the cap, and a trial costs up to ten
# times one at 0.1 (a search's time goes to its slowest trials) for gains within a fold's noise.
LGBM_DEFAULTS = {
    "n_estimators": 1000, "early_stopping": True, "n_iter_no_change": 20, "validation_fraction": 0.1,
    "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 10,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "min_data_per_group": 20,
    "categorical_column": None, "n_jobs": 1, "verbose": -1, "deterministic": True, "force_row_wise": True,
}
LGBM_SPACE = {
    "learning_rate": _range(0.03, 0.3), "num_leaves": _range(8, 128, kind="int"),
    "min_child_samples": _range(5, 100, kind="int"), "reg_lambda": _range(1e-6, 10.0),
    "colsample_bytree": _range(0.5, 1.0, log=False),
}
LGBM_TYPES = (  # the Booster pickles as its model string
    "collections.OrderedDict", "lightgbm.basic.Booster",
    "mlworkflow.core.boosting.LGBMClassifier", "mlworkflow.core.boosting.LGBMRegressor",
)
KNN_TYPES = (
    "sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.neighbors._ball_tree.BallTree", "sklearn.neighbors._kd_tree.KDTree",
)

CATALOGUE: tuple[Family, ...] = (
    Family(
        "logistic",
        Estimator("sklearn.linear_model.LogisticRegression", {"C": _range(1e-3, 1e2)}, "C", {"max_iter": 2000}),
        Estimator("sklearn.linear_model.Ridge", {"alpha": _range(1e-3, 1e3)}, "alpha", {"alpha": 1.0}, seeded=False),
        class_weight=True,
        sparse_text=True,
    ),
    Family(
        "decision_tree",
        Estimator("sklearn.tree.DecisionTreeClassifier", TREE_SPACE, "max_depth", {"min_samples_leaf": 5}),
        Estimator("sklearn.tree.DecisionTreeRegressor", TREE_SPACE, "max_depth", {"min_samples_leaf": 5}),
        trusted_types=TREE_TYPES,
        row_wise=True,
        class_weight=True,
    ),
    Family(
        "random_forest",
        Estimator("sklearn.ensemble.RandomForestClassifier", FOREST_SPACE, "min_samples_leaf", FOREST_DEFAULTS),
        Estimator("sklearn.ensemble.RandomForestRegressor", FOREST_SPACE, "min_samples_leaf", FOREST_DEFAULTS),
        trusted_types=TREE_TYPES,
        row_wise=True,
        class_weight=True,
    ),
    Family(
        "hist_gradient_boosting",
        Estimator("sklearn.ensemble.HistGradientBoostingClassifier", HGB_SPACE, "max_leaf_nodes"),
        Estimator("sklearn.ensemble.HistGradientBoostingRegressor", HGB_SPACE, "max_leaf_nodes"),
        native=Native("categorical_features", 255),  # its categorical codes must be < max_bins (255)
        trusted_types=(
            "functools.partial", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
            "sklearn.utils.validation.check_array",  # its own input step: FunctionTransformer(partial(check_array))
        ),
        row_wise=True,
        class_weight=True,  # scikit-learn ≥ 1.2
    ),
    Family(
        "svm",
        Estimator("sklearn.svm.SVC", SVM_SPACE, "C", {"kernel": "rbf"}, wrapper="calibrate"),
        Estimator("sklearn.svm.SVR", {**SVM_SPACE, "epsilon": _range(1e-3, 1.0)}, "C", {"kernel": "rbf"},
                  seeded=False, wrapper="scale_target"),
        trusted_types=("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"),
        class_weight=True,
        sparse_text=True,
    ),
    Family(
        "knn",
        Estimator("sklearn.neighbors.KNeighborsClassifier", KNN_SPACE, "n_neighbors", KNN_DEFAULTS, seeded=False),
        Estimator("sklearn.neighbors.KNeighborsRegressor", KNN_SPACE, "n_neighbors", KNN_DEFAULTS, seeded=False),
        trusted_types=KNN_TYPES,
    ),
    Family(
        "naive_bayes",
        Estimator("sklearn.naive_bayes.GaussianNB", {"var_smoothing": _range(1e-12, 1e-2)}, "var_smoothing",
                  seeded=False),
        None,
    ),
    Family(
        "mlp",
        Estimator("sklearn.neural_network.MLPClassifier", MLP_SPACE, "alpha", MLP_DEFAULTS),
        Estimator("sklearn.neural_network.MLPRegressor", MLP_SPACE, "alpha", MLP_DEFAULTS, wrapper="scale_target"),
        trusted_types=("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",),
    ),
    Family(
        "lightgbm",
        Estimator("mlworkflow.core.boosting.LGBMClassifier", LGBM_SPACE, "num_leaves", LGBM_DEFAULTS),
        Estimator("mlworkflow.core.boosting.LGBMRegressor", LGBM_SPACE, "num_leaves", LGBM_DEFAULTS),
        native=Native("categorical_column", 255, by_position=True),
        trusted_types=LGBM_TYPES,
        row_wise=True,
        class_weight=True,
    ),
)
BY_NAME: dict[str, Family] = {family.name: family for family in CATALOGUE}
FAMILIES: tuple[str, ...] = tuple(BY_NAME)
OPT_IN: tuple[str, ...] = ()  # families compared only when listed (none today: lightgbm joined the defaults)
DEFAULT_CANDIDATES: tuple[str, ...] = tuple(name for name in FAMILIES if name not in OPT_IN)
CLASSIFICATION_ONLY: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.regressor is None)
REFERENCE = "hist_gradient_boosting"  # the default model every tuned model must beat in CV


def check_task(task: str, key: str = "task") -> None:
    """Raise ParamsError at the params `key` that set the task unless it is binary, multiclass or regression."""
    if task not in TASKS:
        raise ParamsError("families", [ParamsIssue(key, f"one of {', '.join(TASKS)}", repr(task))])


def available(task: str) -> tuple[str, ...]:
    """The families that can learn this task, in catalogue order."""
    check_task(task)
    return tuple(family.name for family in CATALOGUE if task in family.tasks)


def check_family(family: str, task: str, key: str = "family") -> None:
    """Raise ParamsError (with a did-you-mean hint) unless the family exists and fits the task."""
    if family not in FAMILIES:
        hint = did_you_mean(family, FAMILIES)
        raise ParamsError("families", [ParamsIssue(key, f"one of {', '.join(FAMILIES)}", repr(family), hint)])
    if family not in available(task):
        found = f"{family!r} (classification only)"
        raise ParamsError("families", [ParamsIssue(key, f"a family for task '{task}'", found)])


def get(family: str, task: str) -> Estimator:
    """The checked model record of a family for a task."""
    check_family(family, task)
    return BY_NAME[family].estimator(task)


def row_wise_models() -> frozenset[str]:
    """Class names of the catalogue's models that score each row on its own (see `Family.row_wise`)."""
    models = [model for family in CATALOGUE if family.row_wise for model in (family.classifier, family.regressor)]
    return frozenset(model.cls.rsplit(".", 1)[-1] for model in models if model is not None)


def trusted_types() -> tuple[str, ...]:
    """Every type a fitted model of the catalogue holds that skops does not trust by default, steps included."""
    from mlworkflow.core import derived, imbalance, selection, timestamps

    steps = (*selection.TRUSTED_TYPES, *imbalance.TRUSTED_TYPES, *derived.TRUSTED_TYPES, *timestamps.TRUSTED_TYPES)
    return tuple(dict.fromkeys([*(name for family in CATALOGUE for name in family.trusted_types), *steps]))


# --- estimators --------------------------------------------------------------------------------


def wrapper_prefix(family: str, task: str) -> str:
    """The parameter prefix of the base estimator inside the 'model' step ('' when unwrapped)."""
    return get(family, task).prefix


def wrap(wrapper: Wrapper | None, base: Any) -> Any:
    """Put the base estimator in its wrapper: a calibrator (SVC) or target scaling (SVR, MLP)."""
    if wrapper == "calibrate":
        from sklearn.calibration import CalibratedClassifierCV

        return CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False)
    if wrapper == "scale_target":
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.preprocessing import StandardScaler

        return TransformedTargetRegressor(regressor=base, transformer=StandardScaler())
    return base


def unwrap(model: Any) -> Any:
    """The base estimator inside a family's wrapper (the model itself when it has none)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import TransformedTargetRegressor

    if isinstance(model, CalibratedClassifierCV):
        return model.estimator
    if isinstance(model, TransformedTargetRegressor):
        return model.regressor
    return model


def make_estimator(family: str, task: str, seed: int, **model_params: Any) -> Any:
    """The unfitted model of a family for a task; model_params go to the base estimator (e.g. SVC)."""
    record = get(family, task)
    base = record.build(seed)
    base.set_params(**model_params)  # unknown names raise ValueError here, not at fit time
    return wrap(record.wrapper, base)


def class_weights(spec: FeatureSpec, family: str) -> dict[str, Any]:
    """{"class_weight": "balanced"} when the spec asks for class weights and the family's classifier takes them."""
    wanted = spec.transformer.imbalance == "class_weight" and spec.task != "regression"
    return {"class_weight": "balanced"} if wanted and BY_NAME[family].class_weight else {}


def preprocessor(spec: FeatureSpec, family: str, model: Any) -> Any:
    """The family's ColumnTransformer; a native family is told which of its inputs are categories.

    SMOTE needs complete numeric inputs, so with `imbalance: smote` a native family takes the imputed
    one-hot encoding too; with feature selection its ordinal codes are split as numbers, since the
    categorical columns it would be told of may be selected away.
    """
    from mlworkflow.core import features

    native, settings = BY_NAME[family].native, spec.transformer
    if native is None or settings.imbalance == "smote":
        return features.build_preprocessor(spec, sparse_text=BY_NAME[family].sparse_text)
    categorical: list[Any] = list(spec.categorical) if settings.feature_selection == "none" else []
    if native.by_position:  # ordinal_preprocessor's first block holds the categories
        categorical = list(range(len(categorical)))
    model.set_params(**{native.param: categorical or None})
    transformer = features.ordinal_preprocessor(spec, native.max_categories)
    # told by position, the model needs no names: LightGBM refuses names with JSON characters (":", ",", "[", …)
    return transformer.set_output(transform="default") if native.by_position else transformer


def make_pipeline(spec: FeatureSpec, family: str, seed: int, **model_params: Any) -> Any:
    """Unfitted Pipeline: ("derive", …)?, ("preprocess", ColumnTransformer), ("resample", …)?, ("select", …)?, ("model", estimator).

    Without a sampler it is a scikit-learn Pipeline; with one an imbalanced-learn Pipeline, which
    resamples in fit only. Both steps are fitted inside every cross-validation fold.
    """
    from sklearn.pipeline import Pipeline

    from mlworkflow.core import features, imbalance, selection

    model = make_estimator(family, spec.task, seed, **class_weights(spec, family), **model_params)
    sampler = imbalance.make_sampler(spec.transformer.imbalance, seed)
    selector = selection.make_selector(spec.transformer.feature_selection, spec.task, seed)
    optional = [("resample", sampler), ("select", selector)]
    steps = [*features.derive_steps(spec), ("preprocess", preprocessor(spec, family, model))]
    steps += [s for s in optional if s[1] is not None]
    if sampler is None:
        return Pipeline([*steps, ("model", model)])
    from imblearn.pipeline import Pipeline as ResamplingPipeline

    return ResamplingPipeline([*steps, ("model", model)])


# --- search spaces -------------------------------------------------------------------------------


def search_space(family: str, task: str) -> dict[str, Any]:
    """Default search space: {"model__<param>": [choices] | {"low", "high", "log", "type"}}.

    A list is a categorical choice; a dict is a range ("int" or "float", log-uniform when "log").
    Keys are Pipeline parameter names, wrapper included (e.g. "model__estimator__C" for svm).
    """
    record = get(family, task)
    return {f"model__{record.prefix}{name}": copy.deepcopy(spec) for name, spec in record.space.items()}
