"""The catalogue of model families that `select` compares and `train` tunes.

Every family builds a scikit-learn Pipeline with two steps: ("preprocess", ColumnTransformer) and
("model", estimator). Families and what they map to, per task:

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

`hist_gradient_boosting` uses its own preprocessing: categorical columns ordinal-encoded (missing
and unseen categories become NaN) and passed as `categorical_features`, numeric columns as they
are (the model handles NaN). Every other family uses `preprocess.build_preprocessor(spec)`.
SVC is wrapped in a calibrator so every classifier has `predict_proba` (SVC's own `probability`
is deprecated); SVR and MLPRegressor learn a standardised target, since their defaults assume one.
scikit-learn is imported inside the builders: importing this module stays cheap (params uses it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlworkflow.errors import ParamsError, ParamsIssue, did_you_mean

if TYPE_CHECKING:
    from mlworkflow.stages.preprocess import FeatureSpec

FAMILIES: tuple[str, ...] = (
    "logistic",
    "decision_tree",
    "random_forest",
    "hist_gradient_boosting",
    "svm",
    "knn",
    "naive_bayes",
    "mlp",
)
CLASSIFICATION_ONLY: tuple[str, ...] = ("naive_bayes",)
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
HGB_MAX_CATEGORIES = 255  # HistGradientBoosting's categorical codes must be < max_bins (255)

Builder = Callable[[bool, int], Any]  # (is_classifier, seed) -> unfitted estimator


def check_task(task: str) -> None:
    """Raise ParamsError unless task is binary, multiclass or regression."""
    if task not in TASKS:
        raise ParamsError("families", [ParamsIssue("task", f"one of {', '.join(TASKS)}", repr(task))])


def available(task: str) -> tuple[str, ...]:
    """The families that can learn this task, in catalogue order."""
    check_task(task)
    if task == "regression":
        return tuple(name for name in FAMILIES if name not in CLASSIFICATION_ONLY)
    return FAMILIES


def check_family(family: str, task: str, key: str = "family") -> None:
    """Raise ParamsError (with a did-you-mean hint) unless the family exists and fits the task."""
    if family not in FAMILIES:
        hint = did_you_mean(family, FAMILIES)
        raise ParamsError("families", [ParamsIssue(key, f"one of {', '.join(FAMILIES)}", repr(family), hint)])
    if family not in available(task):
        found = f"{family!r} (classification only)"
        raise ParamsError("families", [ParamsIssue(key, f"a family for task '{task}'", found)])


# --- estimators --------------------------------------------------------------------------------


def _logistic(classify: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=2000, random_state=seed) if classify else Ridge(alpha=1.0)


def _decision_tree(classify: bool, seed: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    model = DecisionTreeClassifier if classify else DecisionTreeRegressor
    return model(min_samples_leaf=5, random_state=seed)


def _random_forest(classify: bool, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    model = RandomForestClassifier if classify else RandomForestRegressor
    return model(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=seed)


def _hist_gradient_boosting(classify: bool, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return model(random_state=seed)


def _svm(classify: bool, seed: int) -> Any:
    from sklearn.svm import SVC, SVR

    return SVC(kernel="rbf", random_state=seed) if classify else SVR(kernel="rbf")


def _knn(classify: bool, seed: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    model = KNeighborsClassifier if classify else KNeighborsRegressor
    return model(n_neighbors=15, weights="distance")


def _naive_bayes(classify: bool, seed: int) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


def _mlp(classify: bool, seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    model = MLPClassifier if classify else MLPRegressor
    # early stopping on a 10% validation split, patient enough (25 epochs) not to stop at once on small data
    return model(
        hidden_layer_sizes=(64,),
        learning_rate_init=3e-3,
        early_stopping=True,
        n_iter_no_change=25,
        max_iter=500,
        random_state=seed,
    )


BUILDERS: dict[str, Builder] = {
    "logistic": _logistic,
    "decision_tree": _decision_tree,
    "random_forest": _random_forest,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "svm": _svm,
    "knn": _knn,
    "naive_bayes": _naive_bayes,
    "mlp": _mlp,
}


def wrapper_prefix(family: str, task: str) -> str:
    """The parameter prefix of the base estimator inside the 'model' step ('' when unwrapped)."""
    if family == "svm" and task != "regression":
        return "estimator__"
    if family in ("svm", "mlp") and task == "regression":
        return "regressor__"
    return ""


def wrap(family: str, task: str, base: Any) -> Any:
    """Put the base estimator in its wrapper: a calibrator (SVC) or target scaling (SVR, MLP)."""
    prefix = wrapper_prefix(family, task)
    if prefix == "estimator__":
        from sklearn.calibration import CalibratedClassifierCV

        return CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False)
    if prefix == "regressor__":
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
    check_family(family, task)
    base = BUILDERS[family](task != "regression", seed)
    base.set_params(**model_params)  # unknown names raise ValueError here, not at fit time
    return wrap(family, task, base)


# --- pipelines -----------------------------------------------------------------------------------


def native_categorical_preprocessor(spec: FeatureSpec) -> Any:
    """Ordinal-encoded categoricals (NaN for missing or unseen) and untouched numerics, pandas output."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    from mlworkflow.stages.preprocess import as_text

    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=HGB_MAX_CATEGORIES,
    )
    categorical = Pipeline(
        [("text", FunctionTransformer(as_text, feature_names_out="one-to-one")), ("encode", encoder)]
    )
    blocks = [
        ("categorical", categorical, list(spec.categorical)),
        ("numeric", "passthrough", list(spec.numeric)),
    ]
    transformer = ColumnTransformer([b for b in blocks if b[2]], verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas")


def make_pipeline(spec: FeatureSpec, family: str, seed: int, **model_params: Any) -> Any:
    """Unfitted Pipeline [("preprocess", ColumnTransformer), ("model", estimator)] for spec.task."""
    from sklearn.pipeline import Pipeline

    from mlworkflow.stages.preprocess import build_preprocessor

    model = make_estimator(family, spec.task, seed, **model_params)
    if family == "hist_gradient_boosting":
        model.set_params(categorical_features=list(spec.categorical) or None)
        return Pipeline([("preprocess", native_categorical_preprocessor(spec)), ("model", model)])
    return Pipeline([("preprocess", build_preprocessor(spec)), ("model", model)])


# --- search spaces -------------------------------------------------------------------------------


def _range(low: float, high: float, log: bool = True, kind: str = "float") -> dict[str, Any]:
    return {"low": low, "high": high, "log": log, "type": kind}


SPACES: dict[str, dict[str, Any]] = {
    "logistic": {"C": _range(1e-3, 1e2)},
    "decision_tree": {"max_depth": _range(2, 30, kind="int"), "min_samples_leaf": _range(1, 100, kind="int")},
    "random_forest": {
        "max_features": ["sqrt", 0.5, 1.0],
        "min_samples_leaf": _range(1, 30, kind="int"),
        "max_depth": [None, 8, 16],
    },
    "hist_gradient_boosting": {
        "learning_rate": _range(0.01, 0.3),
        "max_leaf_nodes": _range(8, 128, kind="int"),
        "min_samples_leaf": _range(5, 200, kind="int"),
        "l2_regularization": _range(1e-6, 10.0),
    },
    "svm": {"C": _range(1e-2, 1e3), "gamma": _range(1e-4, 1.0)},
    "knn": {"n_neighbors": _range(1, 50, kind="int"), "weights": ["uniform", "distance"]},
    "naive_bayes": {"var_smoothing": _range(1e-12, 1e-2)},
    "mlp": {
        "hidden_layer_sizes": [32, 64, 128],
        "alpha": _range(1e-6, 1e-1),
        "learning_rate_init": _range(1e-4, 1e-2),
    },
}
REGRESSION_SPACES: dict[str, dict[str, Any]] = {
    "logistic": {"alpha": _range(1e-3, 1e3)},
    "svm": {**SPACES["svm"], "epsilon": _range(1e-3, 1.0)},
}


def search_space(family: str, task: str) -> dict[str, Any]:
    """Default search space: {"model__<param>": [choices] | {"low", "high", "log", "type"}}.

    A list is a categorical choice; a dict is a range ("int" or "float", log-uniform when "log").
    Keys are Pipeline parameter names, wrapper included (e.g. "model__estimator__C" for svm).
    """
    check_family(family, task)
    space = REGRESSION_SPACES.get(family, SPACES[family]) if task == "regression" else SPACES[family]
    prefix = "model__" + wrapper_prefix(family, task)
    return {prefix + name: copy.deepcopy(spec) for name, spec in space.items()}
