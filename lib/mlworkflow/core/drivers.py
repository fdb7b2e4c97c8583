"""What drives predictions: SHAP values of a tree model (shap's TreeExplainer) summed back to the input columns, or
scikit-learn's partial dependence of the top features for every other model, on a bounded seeded sample of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow.core.scoring import FloatArray
from mlworkflow.core.target import Target

TREE_MODELS = frozenset({
    "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
    "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor",
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "LGBMClassifier", "LGBMRegressor",
})
GRID = 10  # partial-dependence grid points per numeric feature (one prediction of the sampled rows each)
CATEGORIES = 12  # the commonest categories a partial dependence shows


@dataclass(frozen=True)
class Explained:
    """SHAP values per sampled row and input column, with the rows' input values and the explainer's base value."""

    values: pd.DataFrame  # rows × input columns, in the model's raw output units
    inputs: pd.DataFrame  # the sampled rows as given
    base: float
    output: str  # what the values add up to
    note: str = ""


@dataclass(frozen=True)
class Dependence:
    """The average prediction as one feature moves over a grid, the other features as they are."""

    feature: str
    grid: list[Any]
    average: FloatArray  # (outputs, grid points)
    outputs: list[str] = field(default_factory=list)
    quantity: str = "average prediction"  # what is averaged, for the axis

    @property
    def spread(self) -> float:
        """How far the average prediction moves over the grid (the largest over the outputs)."""
        return float(np.max(np.ptp(self.average, axis=1)))


def sample_rows(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most `rows` rows, in their order."""
    if len(X) <= rows:
        return X
    picked = np.sort(np.random.default_rng(seed).choice(len(X), size=rows, replace=False))
    return X.iloc[picked]


def split_model(model: Any) -> tuple[Any, Any, str] | None:
    """(the steps before the model, the tree model, a note) when SHAP's TreeExplainer applies, else None."""
    from sklearn.calibration import CalibratedClassifierCV

    if not hasattr(model, "steps") or len(model.steps) < 2:
        return None
    last, note = model.steps[-1][1], ""
    if isinstance(last, CalibratedClassifierCV) and not last.ensemble:
        last, note = last.calibrated_classifiers_[0].estimator, "explains the model before its calibration"
    if type(last).__name__ not in TREE_MODELS:
        return None
    return model[:-1], last, note


def input_column(name: str, inputs: Sequence[str]) -> str:
    """The input column a transformed feature came from ('sex_Female' → 'sex'); the name itself when none did."""
    plain = name.split("__", 1)[1] if "__" in name and name not in inputs else name
    matches = [column for column in inputs if plain == column or plain.startswith(f"{column}_")]
    return max(matches, key=len) if matches else plain


def _output_values(values: FloatArray, base: Any, model: Any, target: Target) -> tuple[FloatArray, float]:
    """The SHAP values and base value of the positive class (binary), of every class summed by |·| (multiclass)."""
    base_values = np.atleast_1d(np.asarray(base, dtype=np.float64))
    if values.ndim == 2:
        return values, float(base_values[0])
    if target.task == "binary":
        index = [str(c) for c in model.classes_].index(str(target.positive))
        return values[:, :, index], float(base_values[index])
    return np.abs(values).sum(axis=2), float("nan")


def shap_values(model: Any, X: pd.DataFrame, target: Target) -> Explained | None:
    """SHAP values of the rows for a tree model, summed over each input column's transformed features; None when
    TreeExplainer does not apply."""
    import shap

    parts = split_model(model)
    if parts is None:
        return None
    head, tree, note = parts
    transformed = head.transform(X)
    names = [str(n) for n in head.get_feature_names_out()]
    explanation = shap.TreeExplainer(tree)(np.asarray(transformed, dtype=np.float64))
    values, base = _output_values(np.asarray(explanation.values, dtype=np.float64), explanation.base_values[0],
                                  tree, target)
    per_feature = pd.DataFrame(values, columns=names, index=X.index)
    grouped = per_feature.T.groupby([input_column(n, list(map(str, X.columns))) for n in names], sort=False).sum().T
    return Explained(grouped, X, base, output_units(tree, target), note)


def output_units(tree: Any, target: Target) -> str:
    """What a tree model's SHAP values add up to: a forest's probability, a boosting model's log-odds, a value."""
    if target.task == "regression":
        return f"predicted {target.name}"
    averaging = any(word in type(tree).__name__ for word in ("Forest", "DecisionTree", "ExtraTrees"))
    return "probability" if averaging else "log-odds"


def shap_ranking(explained: Explained) -> pd.DataFrame:
    """Input columns by mean |SHAP value|, largest first, with each one's share of the total."""
    strength = explained.values.abs().mean(axis=0)
    table = pd.DataFrame({"feature": strength.index.astype(str), "mean_abs_shap": strength.to_numpy()})
    table["share"] = table["mean_abs_shap"] / table["mean_abs_shap"].sum()
    return table.sort_values(["mean_abs_shap", "feature"], ascending=[False, True]).reset_index(drop=True)


def _positive_first(average: FloatArray, model: Any, target: Target) -> FloatArray:
    """scikit-learn averages the probability of classes_[1]; turn it into the positive class's."""
    if target.task == "binary" and str(model.classes_[1]) != str(target.positive):
        return 1.0 - average
    return average


def partial_dependence(model: Any, X: pd.DataFrame, feature: str, target: Target) -> Dependence:
    """The average prediction (binary: the positive class's probability) over a grid of one feature's values."""
    from sklearn.inspection import partial_dependence as sklearn_pd

    column = X[feature]
    categorical = not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    if pd.api.types.is_integer_dtype(column) and not categorical:  # scikit-learn refuses integer columns here
        X = X.astype({feature: np.float64})
    # the commonest values seen, missing ones left out (scikit-learn cannot sort strings with NaN); a text column
    # has thousands of values, and each one costs a prediction of every sampled row
    common = column.dropna().value_counts().index[:CATEGORIES]
    grid = np.array(sorted(common, key=str), dtype=object) if categorical else None
    result = sklearn_pd(model, X, [feature], kind="average", grid_resolution=GRID,
                        categorical_features=[feature] if categorical else None,
                        custom_values={feature: grid} if categorical else None)
    average = _positive_first(np.asarray(result["average"], dtype=np.float64), model, target)
    outputs = [str(c) for c in getattr(model, "classes_", [])] if average.shape[0] > 1 else [target.name]
    quantity = {"binary": f"average P({target.positive})", "multiclass": "average probability"}.get(
        target.task, f"average predicted {target.name}")
    return Dependence(feature, list(result["grid_values"][0]), average, outputs, quantity)


# --- worked what-if examples for static reports ---------------------------------------------------------------


def example_indices(scores: FloatArray, rows: int = 3) -> list[int]:
    """Rows at evenly spread quantiles of the score (lowest, middle, highest for three), each once."""
    order = np.argsort(scores, kind="stable")
    picks = [int(order[round(q * (len(order) - 1))]) for q in np.linspace(0.05, 0.95, rows)]
    return list(dict.fromkeys(picks))


def changed_value(column: pd.Series, value: Any) -> Any:
    """Another typical value of a training column: the other quartile for a number, the commonest other category."""
    seen = column.dropna()
    if pd.api.types.is_bool_dtype(column):
        return not bool(value)
    if pd.api.types.is_numeric_dtype(column):
        low, median, high = seen.quantile([0.25, 0.5, 0.75])
        moved = high if value <= median else low
        return type(value)(moved) if isinstance(value, int | np.integer) else moved
    others = seen.astype(str).value_counts().drop(str(value), errors="ignore")
    return others.index[0] if len(others) else value


def predictions(model: Any, X: pd.DataFrame, target: Target, threshold: float | None) -> pd.DataFrame:
    """Each row's score (binary: the positive class's, multiclass: the top class's, regression: the value) and
    predicted label (regression: none)."""
    from mlworkflow.core.scoring import model_scores, predict_labels

    scores, _probabilistic = model_scores(model, X, target)
    shown = scores if scores.ndim == 1 else scores.max(axis=1)
    if target.task == "regression":
        return pd.DataFrame({"score": shown, "label": ""})
    codes = predict_labels(scores, target.task, threshold)
    return pd.DataFrame({"score": shown, "label": [target.labels[int(c)] for c in codes]})


def what_if_examples(model: Any, X_train: pd.DataFrame, X_test: pd.DataFrame, target: Target,
                     threshold: float | None, features: Sequence[str],
                     rows: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few real test rows (at low, middle and high scores) and, for each, the prediction when one of `features`
    takes another typical value: (the rows, one line per row and changed feature)."""
    complete = X_test[X_test.notna().all(axis=1)] if X_test.notna().all(axis=1).any() else X_test
    scored = predictions(model, complete, target, threshold)
    picked = complete.iloc[example_indices(scored["score"].to_numpy(), rows)]
    lines, variants = [], []
    for example, (_, row) in enumerate(picked.iterrows(), start=1):
        for feature in features:
            variant = picked.loc[[row.name]].copy()
            variant[feature] = changed_value(X_train[feature], row[feature])
            variants.append(variant.astype(X_test.dtypes.to_dict()))
            lines.append({"example": example, "feature": feature, "from": row[feature], "to": variant[feature].iloc[0]})
    before = predictions(model, picked, target, threshold).loc[np.repeat(np.arange(len(picked)), len(features))]
    after = predictions(model, pd.concat(variants), target, threshold)
    table = pd.DataFrame(lines).assign(
        score_before=before["score"].to_numpy(), label_before=before["label"].to_numpy(),
        score_after=after["score"].to_numpy(), label_after=after["label"].to_numpy())
    return picked.reset_index(drop=True).rename(index=lambda i: i + 1), table
