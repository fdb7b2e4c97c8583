"""Presentation for stage `monitor`: the verdict, the tables and the reference-vs-current plots."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlworkflow.core import drift, metrics
from mlworkflow.stages import monitor
from mlworkflow.stages.monitor import Assessment, Empty
from mlworkflow.views import plots
from mlworkflow.views.labels import metric_label

PLOTTED = 9
PANEL = (3.8, 3.8)  # inches per drift panel: eight bars with two-line labels and the legend above stay apart
METHODS = {"test": "significance test", "effect": "effect size"}  # core.drift's words for what decided
MEASURES = {"wasserstein / sd": "Wasserstein (in SDs)", "jensen-shannon": "Jensen–Shannon"}
NOTHING = "*Nothing to show: the window holds no rows (see the verdict above).*"


def nothing() -> Markdown:
    """What a section shows for a window without rows, instead of an empty table or plot."""
    return Markdown(NOTHING)


def verdict_markdown(result: Assessment | Empty) -> str:
    """The verdict in bold, then one bullet per reason (Markdown, so no sentence is cut short)."""
    bullets = "\n".join(f"- {reason}" for reason in result.verdict.reasons)
    return f"### Verdict: **{result.verdict.status}**\n\n{bullets}\n"


def sources_table(result: Assessment | Empty) -> pd.Series:
    """What was compared: the model (its name: the version is in monitor.json), the reference, the current data."""
    current = result.current
    rows = {
        "model": result.model.split("@")[0], "reference": result.reference_source, "current": current.source,
        "current rows": f"{current.rows:,}", "labelled rows": f"{current.labelled:,}",
        "deciding metric": metric_label(result.metric),
    }
    if current.note:
        rows["note"] = current.note
    return pd.Series(rows, name="value")


def display_table(table: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """The drift table for people: rounded, the columns that matter, largest effect first."""
    shown = table[["column", "kind", "method", "effect", "effect_name", "psi", "psi_band", "ks", "p_adjusted"]].copy()
    shown["missing"] = [f"{a:.0%} → {b:.0%}" for a, b in zip(table["missing_reference"], table["missing_current"], strict=True)]
    shown["drifted"] = table["drifted"].map({True: "yes", False: "no"})
    shown["why"] = table["why"].where(table["drifted"], "—")  # no reason to give for a stable feature
    shown["method"] = table["method"].map(METHODS).fillna(table["method"])
    shown["effect_name"] = table["effect_name"].map(MEASURES).fillna(table["effect_name"])
    names = {"effect_name": "measure", "psi_band": "PSI band", "psi": "PSI", "ks": "KS", "p_adjusted": "p (BH)"}
    return shown.rename(columns=names).set_index("column").round(decimals)


def drift_table(result: Assessment | Empty) -> pd.DataFrame | Markdown:
    """The drift table of an assessment (`display_table`), or the note of a window without rows."""
    return nothing() if isinstance(result, Empty) else display_table(result.table)


def performance_table(result: Assessment | Empty, decimals: int = 3) -> pd.DataFrame | Markdown:
    """The metric per chunk, rounded, with the expected value beside it."""
    if isinstance(result, Empty):
        return nothing()
    table = result.performance.copy()
    expected = result.decay.expected
    table["expected"] = np.nan if expected is None else expected.value
    return table.round(decimals)


def plot_numeric(ax: Axes, name: str, reference: drift.NumericSummary, current: drift.NumericSummary) -> None:
    """Reference and current densities of a numeric column on shared bins (1st–99th percentiles)."""
    both = np.r_[reference.values, current.values]
    if both.size == 0:
        ax.set_title(f"{name}: no values")
        return
    low, high = np.quantile(both, [0.01, 0.99])
    bins = np.linspace(low, high if high > low else low + 1.0, 31)
    for summary, label, color in ((reference, "reference", "C0"), (current, "current", "C3")):
        ax.hist(np.clip(summary.values, bins[0], bins[-1]), bins=bins.tolist(), density=True, histtype="step", color=color, label=label)
    ax.set(title=name, ylabel="density")
    ax.tick_params(axis="y", labelleft=False)  # a density's scale (0.000006 per unit) means nothing to a reader


def shared_legend(figure: Figure, ax: Axes, names: Sequence[str] | None = None) -> None:
    """One legend for every panel, above them, so it covers no bar or line."""
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, list(names) if names is not None else labels, loc="outside upper center",
                  ncols=len(handles), fontsize="small", frameon=False)


def plot_categorical(ax: Axes, name: str, reference: drift.CategoricalSummary, current: drift.CategoricalSummary, top: int = 8) -> None:
    """Reference and current shares of a categorical column's most frequent levels."""
    ref, cur, levels = drift.aligned_counts(reference, current)
    shares = pd.DataFrame({"reference": drift.shares(ref), "current": drift.shares(cur)}, index=levels)
    shares = shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:top]]
    positions = np.arange(len(shares))
    ax.barh(positions - 0.2, shares["reference"], height=0.4, color="C0", label="reference")
    ax.barh(positions + 0.2, shares["current"], height=0.4, color="C3", label="current")
    ax.set_yticks(positions, plots.level_labels(list(shares.index)), fontsize="small")
    ax.invert_yaxis()
    ax.set(title=name, xlabel="share of rows")


def plot_drifted(result: Assessment | Empty, limit: int = PLOTTED) -> Figure | Markdown:
    """Reference vs current for the drifted features (the largest effects first; all features if none drifted)."""
    if isinstance(result, Empty):
        return nothing()
    table = result.table
    chosen = list(table.loc[table["drifted"], "column"][:limit]) or list(table["column"][: min(3, len(table))])
    figure, axes = plots.grid(len(chosen), size=PANEL)
    for ax, name in zip(axes, chosen, strict=False):
        ref, cur = result.reference_profile[name], result.current_profile[name]
        if isinstance(ref, drift.NumericSummary) and isinstance(cur, drift.NumericSummary):
            plot_numeric(ax, name, ref, cur)
        elif isinstance(ref, drift.CategoricalSummary) and isinstance(cur, drift.CategoricalSummary):
            plot_categorical(ax, name, ref, cur)
    shared_legend(figure, axes[0])
    return figure


def plot_prediction(result: Assessment | Empty) -> Figure | Markdown:
    """The model's outputs on the reference (held-out split) and on the current data."""
    if isinstance(result, Empty):
        return nothing()
    figure = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = figure.subplots()
    name = str(result.prediction["column"])
    if result.output_kind == "numeric":
        plot_numeric(ax, name, drift.summarize_numeric(result.reference_output), drift.summarize_numeric(result.current_output))
    else:
        plot_categorical(ax, name, drift.summarize_categorical(result.reference_output), drift.summarize_categorical(result.current_output))
    row = result.prediction
    verdict = f"drifted: {row['why']}" if row["drifted"] else "no drift"
    measure = MEASURES.get(str(row["effect_name"]), str(row["effect_name"]))
    ax.set_title(f"{name} — {measure} {row['effect']:.3f}, PSI {row['psi']:.3f}; {verdict}", fontsize="small")
    ax.legend(fontsize="small")
    return figure


def plot_performance(result: Assessment | Empty, tolerance: float) -> Figure | None:
    """The metric per chunk: realized with its interval, the CBPE estimate, the expected value and tolerance band
    (nothing for a window without rows: the table above already says so)."""
    if isinstance(result, Empty):
        return None
    table = result.performance.drop(index="all")
    figure = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(table))
    if table["realized"].notna().any():
        ax.errorbar(x, table["realized"], yerr=[table["realized"] - table["low"], table["high"] - table["realized"]],
                    fmt="o-", color="C0", capsize=3, label="realized (labels)")
    if table["estimated"].notna().any():
        ax.plot(x, table["estimated"], "s--", color="C1", label="estimated (CBPE)")
    expected = result.decay.expected
    if expected is not None:
        sign = -1.0 if metrics.lower_is_better(result.decay.metric) else 1.0
        ax.axhline(expected.value, color="0.3", lw=1, label="expected (test split)")
        # a line, not a band: a band from the expected value down fills most of the axes and hides the points
        ax.axhline(expected.value * (1 - sign * tolerance), color="C3", lw=1, ls=":",
                   label=f"decayed beyond this ({tolerance:.0%} tolerance)")
    ax.set_xticks(x, list(table.index), rotation=30, ha="right", fontsize="small")
    name = metric_label(result.decay.metric)
    ax.set(ylabel=name, title=f"{name} over time")
    ax.legend(fontsize="small")
    return figure


def headline_table(result: Assessment | Empty) -> pd.DataFrame:
    """The headline as a one-column table, for the notebook."""
    return pd.Series(monitor.headline(result), name="value").to_frame()

