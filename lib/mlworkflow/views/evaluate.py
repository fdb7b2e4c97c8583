"""Presentation for stage `evaluate`: readable metric and threshold tables, styled groups, the plots, the what-if row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlworkflow.core import fairness, metrics
from mlworkflow.core.calibration import PRIOR
from mlworkflow.core.drivers import Dependence, Explained
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.records import CostView, Fairness
from mlworkflow.stages.evaluate import (
    DriverReport,
    MetricDecision,
    ThresholdChoice,
    calibration_table,
    metrics_at,
    reliability_points,
    table_interval,
    threshold_range,
)
from mlworkflow.views import plots, tables
from mlworkflow.views.labels import MISSING, in_words, metric_label, number, percent, score


def deciding_metric(decision: MetricDecision) -> str:
    """The deciding metric and why, as a markdown line in human names ('**Deciding metric: ROC AUC.** …')."""
    return f"**Deciding metric: {metric_label(decision.metric)}.** {in_words(decision.why)}"


def format_table(table: pd.DataFrame, decided: str) -> pd.DataFrame:
    """A readable metric table: 'value [low, high]' strings, which way is better, the deciding metric."""
    names = list(table.index)
    return pd.DataFrame({
        "model": [str(table_interval(table, name)) for name in names],
        "baseline": [str(table_interval(table, name, "baseline")) for name in names],
        "model − baseline": [str(table_interval(table, name, "delta")) for name in names],
        "better": [metrics.better(name) for name in names],
        "decides": ["◀" if name == decided else "" for name in names],
    }, index=pd.Index(names, name="metric"))


def threshold_summary(choice: ThresholdChoice) -> pd.DataFrame:
    """The threshold choice as a one-row table."""
    return pd.DataFrame([{
        "rule": choice.rule, "threshold": choice.threshold, "rule met": choice.met,
        "precision (oof)": choice.precision, "recall (oof)": choice.recall, "F1 (oof)": choice.f1,
        "note": choice.note, "chosen on": choice.scores or None,
    }]).dropna(axis=1, how="all").round(4)


def threshold_grid(scored: Scored, steps: int = 19) -> pd.DataFrame:
    """Precision, recall, F1 and counts over a grid of thresholds (plus the chosen one), for static reports."""
    if scored.task != "binary":
        return pd.DataFrame({"note": [f"{scored.task}: no decision threshold"]})
    low, high = threshold_range(scored)
    grid = np.linspace(low, high, steps + 2)[1:-1]
    chosen = float(scored.threshold) if scored.threshold is not None else float(grid[steps // 2])
    rows = [metrics_at(scored.truth, scored.scores, float(t)) for t in sorted({*np.round(grid, 4), chosen})]
    table = pd.DataFrame(rows)
    table["chosen"] = np.where(np.isclose(table["threshold"], chosen), "◀", "")
    return table.astype({name: int for name in ("tn", "fp", "fn", "tp")}).round(4)


FLAG_STYLE = "background-color: #fde2a7; font-weight: bold"


NBSP = "\u00a0"  # inside an interval: a narrow column wraps between the value and its interval, never within it


def _interval_text(row: Mapping[str, Any], name: str, share: bool, written: Any = score) -> str:
    """A value and its interval: shares as %, scores to three decimals ('1.000 [1.000, 1.000]', not '1 [1, 1]')."""
    value, low, high = (row.get(f"{name}{end}") for end in ("", "_low", "_high"))
    if share:
        return f"{percent(value)} [{percent(low)},{NBSP}{percent(high)}]"
    return f"{written(value)} [{written(low)},{NBSP}{written(high)}]"


def _signed(value: Any, share: bool) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value * 100:+.1f}" if share else f"{value:+.3f}"


def _gap_text(row: Mapping[str, Any], name: str, share: bool) -> str:
    value, low, high = (_signed(row.get(f"{name}{end}"), share) for end in ("", "_low", "_high"))
    return f"{value} [{low},{NBSP}{high}]" + (f"{NBSP}pts" if share else "")  # a gap between shares: percentage points


ALL_ROWS = "all test rows"  # the whole split's line, which the gaps are measured against
REFERENCE = "the reference for the gaps"


def _whole(record: Mapping[str, Any]) -> bool:
    return (record["column"], record["group"]) == fairness.ALL


def group_view(table: pd.DataFrame) -> pd.DataFrame:
    """The group table as a reader reads it: rows, base rate, the deciding metric, selection rate, gaps, verdict; the
    whole split's line first, named in words and without gaps to itself."""
    metric = str(table.columns[3])
    shares = "selection_rate" in table.columns
    records = [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]
    columns: dict[str, list[Any]] = {"column": ["" if _whole(r) else r["column"] for r in records],
                                     "group": [ALL_ROWS if _whole(r) else r["group"] for r in records],
                                     "rows": [number(int(n)) for n in table["n"]]}
    columns[metric_label(metric)] = [_interval_text(r, metric, False) for r in records]
    columns[f"{metric_label(metric)} gap"] = [MISSING if _whole(r) else _gap_text(r, "gap", False) for r in records]
    if shares:
        columns["selection rate"] = [_interval_text(r, "selection_rate", True) for r in records]
        columns["selection rate gap"] = [MISSING if _whole(r) else _gap_text(r, "selection_gap", True)
                                         for r in records]
    if "base_rate" in table.columns:
        columns["base rate"] = [_interval_text(r, "base_rate", shares, number) for r in records]  # regression: the mean
    columns["verdict"] = [REFERENCE if _whole(r) else r["verdict"] for r in records]
    return pd.DataFrame(columns)


def _cell_styles(view: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    styles = pd.DataFrame("", index=view.index, columns=view.columns)
    metric = metric_label(str(table.columns[3]))
    for cells, verdicts in (([metric, f"{metric} gap"], "gap_verdict"),
                            (["selection rate", "selection rate gap"], "selection_gap_verdict")):
        if verdicts in table.columns:
            styles.loc[(table[verdicts] == fairness.FLAGGED).to_numpy(), cells] = FLAG_STYLE
    return styles


def style_groups(table: pd.DataFrame, tolerance: float) -> tables.Styled:
    """The readable group table with flagged gaps highlighted (a fixed uuid keeps the HTML stable), shown by the
    clean-table rules."""
    view = group_view(table)
    styler = view.style.hide(axis="index").set_uuid("mlw-groups")
    styler = styler.apply(lambda _: _cell_styles(view, table), axis=None)
    return tables.Styled(styler.set_caption(
        f"Highlighted: a gap whose whole interval lies beyond the tolerance (±{tolerance:g}, {tolerance * 100:g} pts "
        "for a rate); groups with too few rows are shown, not judged."))


def fairness_notes(judged: Fairness | None) -> str:
    """What was flagged, what was too small to judge, and the glossary, as Markdown."""
    if judged is None:
        return "No group columns were evaluated (`evaluate.group_columns`)."
    if judged.flagged:
        count = "1 group" if len(judged.flagged) == 1 else f"{len(judged.flagged)} groups"
        lead = f"**{count} flagged** (a gap's whole interval lies beyond {judged.tolerance}):"
        found = [lead, "", *[f"- {line}" for line in judged.flagged]]
    else:
        found = [f"**No group flagged:** no gap's whole interval lies beyond {judged.tolerance}."]
    if judged.small:
        found += ["", f"Too few test rows (under {judged.min_rows}) to judge: {', '.join(judged.small)}."]
    words = [f"- **{word}**: {meaning}" for word, meaning in judged.glossary.items()]
    return "\n".join([*found, "", "What the columns mean:", "", *words])


def plot_errors(scored: Scored) -> Figure:
    """Confusion matrix (counts and row shares), or residuals for regression."""
    if scored.task == "regression":
        return _plot_residuals(scored)
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axes = plots.row(2)
    labels = np.array(scored.labels)
    truth, predicted = labels[scored.truth.astype(int)], labels[scored.predicted.astype(int)]
    for ax, normalize, title in ((axes[0], None, "counts"), (axes[1], "true", "share of each true class")):
        ConfusionMatrixDisplay.from_predictions(
            truth, predicted, labels=list(labels), normalize=normalize, ax=ax, colorbar=False,
            values_format="d" if normalize is None else ".2f", cmap="Blues",
        )
        ax.set_title(f"Confusion matrix: {title}")
        ax.grid(False)
    return figure


def _plot_residuals(scored: Scored) -> Figure:
    figure, (left, right) = plots.row(2)
    residuals = scored.truth - scored.predicted
    left.scatter(scored.predicted, residuals, s=6, alpha=0.4)
    left.axhline(0.0, color="black", linewidth=1)
    left.set(xlabel="predicted", ylabel="actual − predicted", title="Residuals against predictions")
    right.hist(residuals, bins=40)
    right.set(xlabel="actual − predicted", ylabel="rows", title="Residual distribution")
    plots.compact(left, right)
    return figure


def plot_curves(scored: Scored, baseline: Scored) -> Figure:
    """ROC and precision–recall curves against the baseline (one-vs-rest for multiclass), or actual vs predicted."""
    if scored.task == "regression":
        return _plot_actual(scored, baseline)
    from sklearn.metrics import precision_recall_curve, roc_curve

    figure, (roc, pr) = plots.row(2)
    for code, label in enumerate(scored.labels):
        if scored.task == "binary" and code == 0:
            continue
        positive = scored.truth == code
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        fpr, tpr, _ = roc_curve(positive, column)
        precision, recall, _ = precision_recall_curve(positive, column)
        name = "model" if scored.task == "binary" else label
        roc.plot(fpr, tpr, label=name)
        pr.plot(recall, precision, label=name, drawstyle="steps-post")
    _mark_baseline(roc, pr, scored, baseline)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall curve", ylim=(0.0, 1.02))
    roc.legend(loc="lower right", fontsize="small")
    pr.legend(loc="lower left", fontsize="small")
    return figure


def _mark_baseline(roc: Axes, pr: Axes, scored: Scored, baseline: Scored) -> None:
    roc.plot([0, 1], [0, 1], linestyle="--", color="grey", label="baseline")
    if scored.task != "binary":
        return
    prevalence = float(baseline.truth.mean())
    pr.axhline(prevalence, linestyle="--", color="grey", label=f"baseline ({prevalence:.2f})")
    at = metrics_at(scored.truth, scored.scores, float(scored.threshold or 0.0))
    fpr = at["fp"] / max(at["fp"] + at["tn"], 1.0)
    roc.plot([fpr], [at["recall"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")
    pr.plot([at["recall"]], [at["precision"]], "o", color="black", label=f"threshold {scored.threshold:.2f}")


def _plot_actual(scored: Scored, baseline: Scored) -> Figure:
    figure, (ax,) = plots.row(1, width=5.0, height=4.0)
    ax.scatter(scored.truth, scored.predicted, s=6, alpha=0.4, label="model")
    edges = [float(np.min(scored.truth)), float(np.max(scored.truth))]
    ax.plot(edges, edges, color="black", linewidth=1, label="perfect")
    ax.axhline(float(baseline.predicted[0]), linestyle="--", color="grey", label="baseline (mean)")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")
    ax.legend(fontsize="small")
    plots.compact(ax)
    return figure


def plot_calibration(scored: Scored, bins: int = 10) -> Figure:
    """Reliability curve(s) and the score histogram; regression: mean actual per predicted decile."""
    from sklearn.calibration import calibration_curve

    if scored.task == "regression":
        return _plot_binned_means(scored, bins)
    figure, (curve, hist) = plots.row(2)
    if not scored.probabilistic:
        curve.text(0.5, 0.5, "the model gives margins, not probabilities:\nno calibration curve", ha="center")
        return figure
    codes = [1] if scored.task == "binary" else list(range(len(scored.labels)))
    for code in codes:
        column = scored.scores if scored.task == "binary" else scored.scores[:, code]
        observed, predicted = calibration_curve(scored.truth == code, column, n_bins=bins, strategy="quantile")
        curve.plot(predicted, observed, "o-", label=scored.labels[code])
        hist.hist(column, bins=20, range=(0.0, 1.0), alpha=0.5, label=scored.labels[code])
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    curve.set(xlabel="mean predicted probability", ylabel="observed frequency", title="Calibration (quantile bins)")
    hist.set(xlabel="predicted probability", ylabel="rows", title="Predicted probabilities")
    curve.legend(fontsize="small")
    hist.legend(fontsize="small")
    return figure


def plot_calibration_change(variants: Mapping[str, Scored]) -> Figure:
    """Reliability curves of the model before and after train's calibration (or as kept), and their test losses."""
    figure, (curve, bars) = plots.row(2)
    kept = {name: scored for name, scored in variants.items() if name != PRIOR and scored.probabilistic}
    for name, scored in kept.items():
        points = reliability_points(scored)
        curve.plot(points["predicted"], points["observed"], "o-", label=name)
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    what = "positive class" if next(iter(variants.values())).task == "binary" else "most probable class"
    curve.set(xlabel=f"mean predicted probability ({what})", ylabel="observed frequency", title="Reliability, test split")
    curve.legend(fontsize="small")
    table = calibration_table(variants).rename(columns=metric_label)
    table.plot.barh(ax=bars)
    bars.set(xlabel="lower is better", title="Test log-loss and Brier score")
    bars.invert_yaxis()
    return figure


def _plot_binned_means(scored: Scored, bins: int) -> Figure:
    figure, (ax,) = plots.row(1, width=5.0, height=4.0)
    edges = np.unique(np.quantile(scored.predicted, np.linspace(0, 1, bins + 1)))
    codes = np.clip(np.searchsorted(edges, scored.predicted, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": codes, "predicted": scored.predicted, "actual": scored.truth})
    means = frame.groupby("bin")[["predicted", "actual"]].mean()
    ax.plot(means["predicted"], means["actual"], "o-", label="model")
    low, high = float(means.to_numpy().min()), float(means.to_numpy().max())
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted (decile)", ylabel="mean actual", title="Calibration by predicted decile")
    ax.legend(fontsize="small")
    plots.compact(ax)
    return figure


def importance_rows_note(rows: int, test_rows: int, seed: int) -> str:
    """Which test rows permutation importance shuffled: all, or the seeded sample's size."""
    if rows >= test_rows:
        return f"all {test_rows:,} test rows"
    return f"a sample of {rows:,} of the {test_rows:,} test rows (stratified by class, seed {seed})"


def plot_importance(table: pd.DataFrame, top: int = 15, rows: str = "") -> Figure:
    """Horizontal bars of permutation importance with one standard deviation; `rows` says which rows were shuffled."""
    shown = table.head(top).iloc[::-1]
    figure, (ax,) = plots.row(1, width=7.0, height=0.3 * len(shown) + 1.2)
    ax.barh(shown["feature"], shown["importance"], xerr=shown["std"], color="#4c72b0")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set(xlabel="drop in the deciding metric when shuffled", title="Permutation importance (test split)")
    if rows:
        ax.set_title(f"on {rows}", fontsize=8, loc="right")
    return figure


def terms_table(terms: pd.DataFrame) -> pd.DataFrame | Any:
    """The telling terms side by side, one column per class ('term (weight)'), or a sentence (Markdown, so a page
    shows it as text, not as a quoted string) when there are none."""
    if terms.empty:
        from IPython.display import Markdown

        return Markdown("No term weights to show: the model is not linear on TF-IDF terms, or the data has no text column.")
    cells = terms.assign(cell=[f"{t} ({w:+.2f})" for t, w in zip(terms["term"], terms["weight"], strict=True)])
    cells["rank"] = cells.groupby("class").cumcount() + 1
    return cells.pivot(index="rank", columns="class", values="cell").fillna("").rename_axis(columns=None)


def example_row(X: pd.DataFrame) -> pd.DataFrame:
    """The first row without missing values (else the first row), as a one-row frame."""
    complete = X.notna().all(axis=1).to_numpy()
    index = int(np.argmax(complete)) if complete.any() else 0
    return X.iloc[[index]].reset_index(drop=True)



# ---------------------------------------------------------------- what drives predictions, lift, cost


def plot_drivers(report: DriverReport, top: int = 10) -> Figure:
    """SHAP: mean |SHAP value| per input column and each sampled row's values; else partial-dependence panels."""
    if report.explained is not None:
        return _plot_shap(report.explained, report.ranking.head(top))
    return _plot_dependence(report.dependence)


def _row_colours(values: pd.Series) -> npt.NDArray[np.float64] | None:
    """Each row's rank within its column in [0, 1] (numbers), None for categories."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    return np.asarray(values.rank(pct=True).fillna(0.5).to_numpy(), dtype=np.float64)


def _plot_shap(explained: Explained, ranking: pd.DataFrame) -> Figure:
    shown = list(ranking["feature"])[::-1]
    figure, (bars, strip) = plots.row(2, width=10.0, height=0.35 * len(shown) + 1.6)
    bars.barh(shown, ranking["mean_abs_shap"].to_numpy()[::-1], color="#4c72b0")
    bars.set(xlabel=f"mean |SHAP value| ({explained.output})", title="What drives predictions")
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(explained.values))
    for position, feature in enumerate(shown):
        inputs = explained.inputs.get(feature)  # None for a feature derived inside the pipeline (preprocess.features)
        values, colours = explained.values[feature].to_numpy(), None if inputs is None else _row_colours(inputs)
        if colours is None:
            strip.scatter(values, position + jitter, s=5, color="#999999", alpha=0.6)
        else:
            strip.scatter(values, position + jitter, s=5, c=colours, cmap="coolwarm", vmin=0.0, vmax=1.0, alpha=0.7)
    strip.axvline(0.0, color="black", linewidth=1)
    strip.set_yticks(range(len(shown)), [""] * len(shown))
    strip.set_xlabel("SHAP value (right of 0: raises the prediction)")
    strip.set_title("Each sampled row (red: high, blue: low, grey: category or derived)")
    return figure


def _plot_dependence(dependence: tuple[Dependence, ...]) -> Figure:
    figure, axes = plots.grid(max(len(dependence), 1), columns=min(max(len(dependence), 1), 4), size=(3.2, 2.8))
    for ax, one in zip(axes, dependence, strict=False):
        numeric = all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in one.grid)
        for output, line in zip(one.outputs, one.average, strict=True):
            if numeric:
                ax.plot(np.asarray(one.grid, dtype=np.float64), line, label=output)
            else:
                ax.plot([str(v) for v in one.grid], line, "o", label=output)
        if not numeric:
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.set(title=one.feature, ylabel=one.quantity)
        if len(one.outputs) > 1:
            ax.legend(fontsize="x-small")
    return figure


def drivers_table(report: DriverReport) -> pd.DataFrame:
    """The ranking of the drivers as a reader reads it."""
    if report.method == "shap":
        return pd.DataFrame({"feature": report.ranking["feature"],
                             "mean |SHAP value|": [number(v) for v in report.ranking["mean_abs_shap"]],
                             "share of the total": [percent(v) for v in report.ranking["share"]]})
    return pd.DataFrame({"feature": report.ranking["feature"],
                         "how far the average prediction moves": [number(v) for v in report.ranking["spread"]]})


def plot_gains(table: pd.DataFrame) -> Figure:
    """The cumulative gains curve against random ranking, and the lift of each score decile."""
    from matplotlib.ticker import PercentFormatter

    figure, (curve, lift) = plots.row(2)
    curve.plot(np.r_[0.0, table["share_of_rows"]], np.r_[0.0, table["share_of_positives"]], "o-", label="model")
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random order")
    curve.set(xlabel="share of rows contacted, highest scores first", ylabel="share of all positives found",
              title="Cumulative gains (test split)")
    lift.bar(table["decile"], table["lift"], color="#4c72b0")
    lift.axhline(1.0, linestyle="--", color="grey", label="random order (lift 1)")
    lift.set(xlabel="score decile (1 = highest scores)", ylabel="positive rate ÷ overall rate",
             title="Lift per decile", xticks=list(table["decile"]))
    for axis in (curve.xaxis, curve.yaxis):
        axis.set_major_formatter(PercentFormatter(1.0))
    curve.legend(fontsize="small")
    lift.legend(fontsize="small")
    return figure


def gains_summary(table: pd.DataFrame) -> str:
    """The top decile's lift and the share of positives the top 10% and 30% of scores hold, in one sentence."""
    top, third = table.iloc[0], table.iloc[min(2, len(table) - 1)]
    return (f"The 10% of test rows the model scores highest hold {percent(top['share_of_positives'])} of all positives "
            f"(lift {top['lift']:.1f}: {top['lift']:.1f}× the overall rate); the top 30% hold "
            f"{percent(third['share_of_positives'])}.")


def plot_cost(curve: pd.DataFrame, view: CostView) -> Figure:
    """The expected cost of errors per 1,000 rows across thresholds, the chosen and the cheapest marked."""
    figure, (ax,) = plots.row(1, width=7.0, height=3.6)
    ordered = curve.sort_values("threshold")
    ax.plot(ordered["threshold"], ordered["cost_per_1000"], color="#4c72b0")
    if view.threshold is not None and view.per_1000 is not None:
        ax.axvline(view.threshold, color="black", linewidth=1)
        ax.plot([view.threshold], [view.per_1000], "o", color="black",
                label=f"chosen threshold {view.threshold:.2f}: {view.per_1000:,.0f}")
    ax.plot([view.best_threshold], [view.best_per_1000], "v", color="#c44e52",
            label=f"cheapest on the test split {view.best_threshold:.2f}: {view.best_per_1000:,.0f}")
    ax.set(xlabel="threshold", ylabel="cost per 1,000 rows", xlim=(0.0, 1.0) if curve["threshold"].between(0, 1.0001).all() else None,
           title=f"Expected cost of errors (a false positive costs {view.cost_fp:g}, a false negative {view.cost_fn:g})")
    ax.legend(fontsize="small")
    return figure


def cost_summary(view: CostView) -> str:
    """The cost at the chosen threshold against the test split's cheapest, in one sentence."""
    costs = f"a false positive costing {view.cost_fp:g} and a false negative {view.cost_fn:g} (`cost_fp`, `cost_fn`)"
    if view.per_1000 is None or view.threshold is None:
        return f"With {costs}, the cheapest threshold on the test split costs {view.best_per_1000:,.0f} per 1,000 rows."
    return (f"With {costs}, errors at the chosen threshold {view.threshold:.2f} cost {view.per_1000:,.0f} per 1,000 "
            f"rows; the cheapest threshold on the test split, {view.best_threshold:.2f}, would cost "
            f"{view.best_per_1000:,.0f} (found in hindsight on the test rows, so not a fair choice of threshold).")


# ---------------------------------------------------------------- worked what-if examples


def _shown(value: Any) -> str:
    return number(value) if isinstance(value, int | float | np.number) and not isinstance(value, bool) else str(value)


def _prediction_text(score: float, label: str, target: Target) -> str:
    if target.task == "regression":
        return number(score)
    if target.task == "binary":
        return f"{label} (P({target.positive}) = {percent(score)})"
    return f"{label} ({percent(score)})"


def example_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The example test rows, numbered as the worked examples name them."""
    return rows.rename_axis("example")


def worked_examples(changes: pd.DataFrame, target: Target) -> pd.DataFrame:
    """One line per example row and changed feature: the change, the prediction before and after."""
    rows = changes.to_dict("records")
    return pd.DataFrame({
        "example": [r["example"] for r in rows],
        "change": [f"{r['feature']}: {_shown(r['from'])} → {_shown(r['to'])}" for r in rows],
        "prediction": [_prediction_text(r["score_before"], r["label_before"], target) for r in rows],
        "after the change": [_prediction_text(r["score_after"], r["label_after"], target) for r in rows],
        "difference": [_signed(r["score_after"] - r["score_before"], target.task != "regression")
                       + (" pts" if target.task != "regression" else "") for r in rows],
    })
