"""Presentation for stage `train`: the plan, the final model in words, the search and curve plots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mlworkflow.core import ensemble, metrics, names, parallel
from mlworkflow.core.searches import SearchResult, best_trial, short_name
from mlworkflow.params import TrainParams
from mlworkflow.records import TrainRecord
from mlworkflow.stages import train
from mlworkflow.stages.train import LARGE_DATA_FOLDS, fold_count, is_number, same_predictions, value_label
from mlworkflow.views.labels import family_label, in_words, metric_label

SEARCH_LABELS = names.SEARCHES


def plan_table(names: Sequence[str], metric: str, params: TrainParams, rows: int,
               at_defaults: Sequence[str] = ()) -> pd.DataFrame:
    """What this stage will do: families tuned and at their defaults, metric, search, candidates, folds, processes
    and time budget."""
    better = metrics.better(metric)
    grid = params.search == "grid"
    plan = {
        "families": ", ".join(map(family_label, names)),
        "at their defaults": ", ".join(map(family_label, at_defaults)) or "none",
        "metric": f"{metric_label(metric)} ({better} is better)",
        "search": SEARCH_LABELS[params.search],
        "candidates": f"{params.grid_points} values per range" if grid else f"{params.n_iter} per family",
        "cross-validation": f"{fold_count(params, rows)} folds over {rows:,} training rows{fewer_folds(params, rows)}",
        "parallel fits": f"{parallel.fit_jobs(params.n_jobs)} process(es), one native thread each",
        "time budget": "none" if params.time_budget_s is None else f"{params.time_budget_s:g} s for all searches",
    }
    return pd.Series(plan, name="plan").to_frame()


def model_parts(model: Any) -> dict[str, str]:
    """A pipeline's steps and estimator, or an ensemble's estimator and its members (with their weights)."""
    if hasattr(model, "steps"):
        return {"steps": " → ".join(name for name, _ in model.steps), "estimator": type(model.named_steps["model"]).__name__}
    names = [name for name, _ in model.estimators]
    weights = getattr(model, "weights", None) or [None] * len(names)
    members = [family_label(name) + ("" if w is None else f" ({w:.2f})") for name, w in zip(names, weights, strict=True)]
    return {"estimator": type(model).__name__, "members": ", ".join(members)}


def fewer_folds(params: TrainParams, rows: int) -> str:
    """Why the folds are fewer than `folds` asks (empty when they are not)."""
    if fold_count(params, rows) == params.folds:
        return ""
    return f" (`folds` = {params.folds}, at most {LARGE_DATA_FOLDS} from `large_data_rows` = {params.large_data_rows})"


def final_summary(result: SearchResult, model: Any, reloaded: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The saved model in words: steps (or an ensemble's members), estimator, tuned parameters, rows, the reload check."""
    tuned = {short_name(k): value_label(v) for k, v in best_trial(result).params.items()} if hasattr(model, "steps") else {}
    summary = {
        **model_parts(model),
        **tuned,
        "fitted on rows": len(X),
        "reloaded model predicts identically": same_predictions(model, reloaded, X),
    }
    return pd.Series(summary, name="final model").to_frame()


def curve_positions(values: pd.Series) -> tuple[np.ndarray[Any, Any], list[str] | None, bool]:
    """x positions, tick labels (None for a numeric axis) and whether a log scale suits them."""
    if not all(is_number(v) for v in values):
        return np.arange(len(values), dtype=float), [value_label(v) for v in values], False
    x = values.to_numpy(dtype=float)
    return x, None, bool(x.min() > 0 and x.max() / x.min() >= 20)


def tuned_value(result: SearchResult, param: str) -> Any:
    """The tuned value of a parameter, by its short name (None if it was not tuned)."""
    return next((v for k, v in best_trial(result).params.items() if short_name(k) == param), None)


def mark_position(mark: Any, labels: list[str] | None) -> float | None:
    """Where a value sits on a curve's x axis: itself (numeric axis), its tick's index, or None."""
    if mark is None:
        return None
    if labels is None:
        return float(mark)
    label = value_label(mark)
    return float(labels.index(label)) if label in labels else None


def plot_curve(curve: pd.DataFrame, metric: str, title: str, mark: Any = None) -> Figure:
    """Train and validation score (mean ± sd band) along a curve; `mark` draws the tuned value."""
    x, labels, log = curve_positions(curve.iloc[:, 0])
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for column, colour in (("train", "C0"), ("validation", "C1")):
        mean, sd = curve[column].to_numpy(dtype=float), curve[f"{column} sd"].to_numpy(dtype=float)
        ax.plot(x, mean, "o-", color=colour, label=column)
        ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.2)
    if labels is not None:
        ax.set_xticks(x, labels)
    if (at := mark_position(mark, labels)) is not None:
        ax.axvline(at, color="grey", linestyle="--", label="tuned value")
    if log:
        ax.set_xscale("log")
    ax.set(xlabel=str(curve.columns[0]), ylabel=metric_label(metric), title=in_words(title))
    ax.legend()
    return fig


def plot_search(result: SearchResult) -> Figure:
    """Each trial's CV score in the order run, with the best so far (halving: coloured by round)."""
    sign = metrics.sign(result.metric)
    raw = np.array([t.score for t in result.trials], dtype=float)
    number = np.arange(1, len(raw) + 1)
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    if result.search == "halving":
        points = ax.scatter(number, sign * raw, c=[t.iteration for t in result.trials], cmap="viridis")
        fig.colorbar(points, ax=ax, label="round")
    else:
        ax.plot(number, sign * raw, "o", label="trial")
        best = np.fmax.accumulate(np.where(np.isnan(raw), -np.inf, raw))
        ax.step(number, sign * best, where="post", label="best so far")
        ax.legend()
    title = f"{family_label(result.family)}: {SEARCH_LABELS.get(result.search, result.search)}"
    ax.set(xlabel="trial", ylabel=metric_label(result.metric), title=in_words(title))
    return fig


def steps_table(record: TrainRecord) -> pd.DataFrame:
    """The final model's feature selection (features kept and dropped, cost) and imbalance handling."""
    steps = record.steps
    if steps is None:
        return pd.Series({"steps": "no feature selection, no imbalance handling"}, name="final model").to_frame()
    kept = ", ".join(steps.kept) if steps.kept else "all (no selection)"
    values = {
        "feature selection": steps.feature_selection,
        "its cost per fit": steps.cost,
        f"features kept ({len(steps.kept)})": kept,
        f"features dropped ({len(steps.dropped)})": ", ".join(steps.dropped) or "none",
        "class imbalance": f"{steps.imbalance}: {steps.imbalance_note}",
    }
    return pd.Series(values, name="final model").to_frame()


def ensemble_table(chosen: ensemble.Choice) -> pd.DataFrame | None:
    """The deciding score of the ensemble and of the single model on each held-out fold, and their means (display
    sign); None when no ensemble was tried, so the page shows its sentence and no table."""
    if chosen.scores is None:
        return None
    sign, n = metrics.sign(chosen.metric), len(chosen.scores.ensemble)
    table = pd.DataFrame({"ensemble": sign * np.asarray(chosen.scores.ensemble),
                          family_label(chosen.single): sign * np.asarray(chosen.scores.single)},
                         index=[f"fold {i}" for i in range(1, n + 1)])
    table.loc["mean"] = table.mean()
    return table.round(4).rename_axis(metric_label(chosen.metric))


def search_table(results: Sequence[SearchResult]) -> pd.DataFrame:
    """The stage's one line per tuned family, with the family and its search named as a reader knows them."""
    table = train.search_table(results)
    table.index = table.index.map(family_label)
    return table.assign(search=table["search"].map(lambda name: SEARCH_LABELS.get(name, name)))
