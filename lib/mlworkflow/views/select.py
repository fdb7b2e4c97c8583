"""Presentation for stage `select`: the plan, the candidates, the ranking, costs, notes and per-fold plots."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

from mlworkflow.core import families
from mlworkflow.core.metrics import better, display_name, to_display
from mlworkflow.records import SelectRecord
from mlworkflow.stages.select import Plan, decimals_for, mean_pm_std
from mlworkflow.views import plots
from mlworkflow.views.labels import family_label, metric_label


def plan_table(chosen: Plan, train_rows: int, used_rows: int) -> pd.Series:
    """The plan in one small table."""
    skipped = ", ".join(f"{family_label(name)} ({why})" for name, why in chosen.skipped.items()) or "none"
    rows = f"{used_rows:,} of {train_rows:,}" + (" (seeded subsample)" if used_rows < train_rows else "")
    values = {
        "task": chosen.task,
        "candidates": ", ".join(map(family_label, chosen.candidates)),
        "skipped": skipped,
        "deciding metric": metric_label(chosen.metric),
        "other metrics": ", ".join(metric_label(m) for m in chosen.metrics[1:]) or "none",
        "training rows used": rows,
    }
    return pd.Series(values, name="plan")


def describe(pipeline: Any) -> dict[str, str]:
    """A pipeline in words: its preprocessing blocks and its model (wrapper included)."""
    blocks = []
    for name, transformer, columns in pipeline.named_steps["preprocess"].transformers:
        steps = getattr(transformer, "steps", None)
        kind = " → ".join(type(s).__name__ for _, s in steps) if steps else str(transformer)
        blocks.append(f"{name} ({1 if isinstance(columns, str) else len(columns)}): {kind}")  # a text block: one column
    model = pipeline.named_steps["model"]
    base = families.unwrap(model)
    label = type(model).__name__ if base is model else f"{type(model).__name__}({type(base).__name__})"
    between = [f"{name}: {type(step).__name__}" for name, step in pipeline.steps[1:-1]]
    shown = {"steps": "; ".join(between)} if between else {}  # feature selection, resampling
    return {"model": label, "preprocessing": "; ".join(blocks), **shown}


def pipeline_table(pipelines: Mapping[str, Any]) -> pd.DataFrame:
    """One row per candidate: model and preprocessing."""
    return pd.DataFrame({family_label(name): describe(p) for name, p in pipelines.items()}).T.rename_axis("family")


def ranking_table(ranking: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> pd.DataFrame:
    """The ranking: status, mean ± std per metric, gap to the best, p-value, significance."""
    digits = decimals_for(ranking[0]["score"] or 0.0) if ranking else 4
    rows = []
    for row in ranking:
        cells = {metric_label(m): mean_pm_std(row["metrics"].get(display_name(m))) for m in metrics}
        flag = {True: "yes", False: "no", None: "—"}[row["significant"]]
        gap = "—" if row["gap"] is None else f"{row['gap']:,.{digits}f}"
        p_value = "—" if row["p_value"] is None else f"{row['p_value']:.3f}"
        rows.append(
            {
                "family": family_label(row["family"]),
                "status": row["status"],
                **cells,
                "gap": gap,
                "p-value": p_value,
                "significantly worse": flag,
            }
        )
    return pd.DataFrame(rows).set_index("family")


def cost_table(ranking: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per candidate: folds run, mean fit and predict seconds per fold, peak traced memory (MiB)."""
    columns = {
        "folds": "folds run",
        "fit_s": "fit s / fold",
        "predict_s": "predict s / fold",
        "peak_mb": "peak MiB",
    }
    table = pd.DataFrame([{k: row[k] for k in ["family", *columns]} for row in ranking])
    return table.assign(family=table["family"].map(family_label)).set_index("family").rename(columns=columns).round(3)


def choice_table(summary: SelectRecord) -> pd.Series:
    """How the folds were set and why the first family was chosen (the stability rule and its verdict)."""
    cv, steadiness = summary.cv, summary.stability
    repeats = f"{cv.repeats}" + (f" of {cv.planned} planned (time budget)" if cv.planned and cv.repeats < cv.planned else "")
    values = {
        "folds × repeats": f"{cv.folds} × {repeats} on {cv.rows:,} rows",
        "repeats rule": cv.rule or "—",
        "stability rule": steadiness.rule if steadiness else "—",
        "choice": steadiness.sentence if steadiness else "—",
    }
    return pd.Series(values, name="choice")


def notes_table(summary: SelectRecord) -> pd.DataFrame:
    """What went wrong or was noisy, per family: failures, budget stops, warnings, skipped families, and those not
    chosen for probabilities worse than the class prior's."""
    rows = [{"family": family_label(name), "note": f"skipped: {why}"} for name, why in summary.skipped.items()]
    for row in summary.ranking:
        rows += [{"family": family_label(row.family), "note": note} for note in [row.message, *row.notes] if note]
    untrusted = summary.probabilities.untrusted if summary.probabilities else {}
    rows += [{"family": family_label(name), "note": f"not chosen: {why}"} for name, why in untrusted.items()]
    return pd.DataFrame(rows, columns=["family", "note"]).set_index("family")


def fold_frame(summary: SelectRecord) -> pd.DataFrame:
    """Long table of per-fold deciding scores in display units, families in ranking order."""
    metric = summary.metric
    order = [row.family for row in summary.ranking if row.family in summary.scores]
    rows = [
        {"family": name, "fold": i + 1, display_name(metric): to_display(metric, score)}
        for name in order
        for i, score in enumerate(summary.scores[name])
    ]
    return pd.DataFrame(rows)


def plot_scores(summary: SelectRecord) -> Figure:
    """Per-fold scores of the deciding metric, one row per candidate (best at the top)."""
    metric = display_name(summary.metric)
    folds = fold_frame(summary).assign(family=lambda frame: frame["family"].map(family_label))
    figure = Figure(figsize=(7.0, 0.5 * folds["family"].nunique() + 1.5))
    axes = figure.subplots()
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated `vert`
        warnings.filterwarnings("ignore", message=".*vert: bool.*")
        sns.boxplot(data=folds, x=metric, y="family", color="0.9", showfliers=False, ax=axes)
    sns.stripplot(data=folds, x=metric, y="family", hue="family", legend=False, size=5, ax=axes)
    axes.set(xlabel=f"{metric_label(summary.metric)} per fold ({better(summary.metric)} is better)", ylabel="")
    figure.tight_layout()
    return figure


def plot_tradeoff(summary: SelectRecord) -> Figure:
    """Mean score (± std) against mean fit time per fold; hollow markers are significantly worse."""
    metric = summary.metric
    figure = Figure(figsize=(8.5, 4.8))  # room for the point labels at a readable size
    axes = figure.subplots()
    placed = [row for row in summary.ranking if row.status == "ok" and row.fit_s]
    points = []
    for row in placed:
        shown = row.metrics[display_name(metric)]
        face = "none" if row.significant else "C0"
        points.append((row.fit_s or 0.0, shown.mean or 0.0))  # an "ok" candidate has both
        axes.errorbar(*points[-1], yerr=shown.std, fmt="o", color="C0", mfc=face, capsize=3)
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.margins(x=0.3, y=0.15)
    plots.label_points(axes, points, [family_label(row.family) for row in placed])
    axes.set(
        xlabel="mean fit time per fold (s, log scale)",
        ylabel=f"{metric_label(metric)} ({better(metric)} is better)",
        title="filled: not significantly worse than the best · hollow: significantly worse",
    )
    axes.title.set_fontsize(10)
    figure.tight_layout()
    return figure


# --- feature selection and class imbalance --------------------------------------------------------


def effect_table(summary: SelectRecord) -> pd.DataFrame:
    """The best family's cross-validated scores with and without the optional steps, per metric (same folds)."""
    effect = summary.steps
    if effect is None:
        return pd.DataFrame(columns=["with steps", "without"]).rename_axis("metric")
    rows = {}
    for name in effect.metrics:
        shown = display_name(name)
        cells = {label: mean_pm_std(scores[shown].model_dump()) for label, scores in effect.scores.items()}
        rows[f"{metric_label(name)} ({better(name)} is better)"] = cells
    return pd.DataFrame(rows).T.rename_axis(f"{family_label(effect.family)}, metric")


def steps_table(summary: SelectRecord) -> pd.DataFrame:
    """What feature selection and imbalance handling do to each candidate family (empty without them)."""
    notes = {} if summary.steps is None else summary.steps.families
    named = {family_label(name): note for name, note in notes.items()}
    return pd.DataFrame({"what the steps do": named}, dtype=object).rename_axis("family")


def plot_calibration(summary: SelectRecord) -> Figure | None:
    """Reliability curves of the best family's out-of-fold probabilities, with and without imbalance handling."""
    points = pd.DataFrame(summary.steps.calibration if summary.steps is not None else [])
    if points.empty:
        return None
    figure = Figure(figsize=(5.0, 4.5))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle=":", color="0.5", label="perfectly calibrated")
    for variant, part in points.groupby("variant", sort=False):
        axes.plot(part["predicted"], part["observed"], marker="o", label=str(variant))
    what = "positive class" if summary.task == "binary" else "predicted class"
    axes.set(xlabel=f"mean predicted probability ({what})", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure
