"""Presentation for stage `data`: the profile's plots and the table of flagged columns."""

from __future__ import annotations

import re

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mlworkflow.core import roles
from mlworkflow.core.target import Target
from mlworkflow.records import ReadReport
from mlworkflow.stages.data import Profile, describe_target, numeric_columns, sample
from mlworkflow.views import plots
from mlworkflow.views.labels import kind_label, metric_label

MAX_PANELS = 12
PLOT_ROWS = 50_000  # rows a histogram draws: its shape needs no more (counts and tables use every row)


DTYPE_IN_REASON = re.compile(r"^numbers \((\w+)\)$")  # core.roles' reason for a numeric column names its dtype


SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}
SEP_FROM = {"given": "as set in data.read.sep", "sniffed": "sniffed from the first lines",
            "extension": "by the .tsv extension", "default": "the default (sniffing found none)"}


def reading_table(report: ReadReport) -> pd.DataFrame:
    """How the source was parsed: format, separator and where it came from, encoding, missing text, dates."""
    rows: dict[str, str] = {"format": report.format}
    if report.format == "csv":
        sep = report.sep or ","
        rows["separator"] = f"{SEP_NAMES.get(sep, repr(sep))} ({SEP_FROM[report.sep_from or 'default']})"
        rows["encoding"] = report.encoding or "utf-8"
        shown = ", ".join(repr(text) for text in report.missing[:12])
        rows["read as missing"] = (shown + (f", … ({len(report.missing)} in all)" if len(report.missing) > 12 else "")) or "nothing"
        rows["numbers"] = f"decimal {report.decimal!r}, thousands {report.thousands!r}" if report.thousands else f"decimal {report.decimal!r}"
    dates = ", ".join(f"{column} ({how})" for column, how in report.dates.items())
    rows["parsed as times"] = dates or "none (data.read.parse_dates)"
    return pd.Series(rows).to_frame("how")


def column_table(result: Profile) -> pd.DataFrame:
    """The profile's table of columns, each column's dtype said in words (a page reads 'whole number', not 'int64')."""
    return result.columns.assign(dtype=result.columns["dtype"].map(kind_label)).rename(columns={"dtype": "holds"})


def role_table(result: Profile) -> pd.DataFrame:
    """One row per column: the role it was given (numeric, categorical, text, identifier, ...) and why."""
    table = roles.role_table(result.roles)
    return table.assign(reason=[DTYPE_IN_REASON.sub(lambda m: f"numbers ({kind_label(m.group(1))})", reason)
                                for reason in table["reason"]])


def flag_table(result: Profile) -> pd.DataFrame:
    """One row per flagged column: the flag and the reason."""
    rows = [("identifier", c, r) for c, r in result.identifiers.items()]
    rows += [("leak", c, r) for c, r in result.leaks.items()]
    return pd.DataFrame(rows, columns=["flag", "column", "reason"])


def plot_missing(columns: pd.DataFrame) -> Figure:
    """Bar chart of the share of missing values per column (only columns with any)."""
    missing = columns[columns["missing"] > 0].sort_values("missing share", ascending=False)
    figure = Figure(figsize=(7.0, max(1.6, 0.35 * len(missing) + 1.0)), layout="constrained")
    ax = figure.subplots()
    if missing.empty:
        ax.text(0.5, 0.5, "no missing values", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    sns.barplot(x=missing["missing share"], y=missing.index.astype(str), ax=ax, color="C0")
    ax.set(xlabel="share of rows missing", ylabel="", xlim=(0, 1))
    return figure


def plot_target(frame: pd.DataFrame, target: Target) -> Figure:
    """Class balance (count plot) or the target's distribution (histogram) for regression."""
    figure = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = figure.subplots()
    y = frame[target.name]
    if target.task == "regression":
        sns.histplot(x=y.astype(float), ax=ax, bins=40)
    else:  # counted once here: a count plot would group every row in Python
        counts = y.astype(str).value_counts().reindex(list(target.classes), fill_value=0)
        sns.barplot(x=counts.to_numpy(), y=counts.index.to_numpy(), ax=ax, color="C0")
        ax.set(xlabel="rows", ylabel=target.name)
    ax.set_title(describe_target(target))
    return figure


def plot_numeric(frame: pd.DataFrame, target: Target, exclude: tuple[str, ...] = (), seed: int = 0) -> Figure:
    """Histograms of the numeric features, split by class for a classification target; on a large frame, of a seeded
    sample of PLOT_ROWS rows (the title says so)."""
    columns = numeric_columns(frame, (target.name, *exclude))[:MAX_PANELS]
    rows, frame = len(frame), sample(frame, PLOT_ROWS, seed)
    figure, axes = plots.grid(len(columns))
    if len(frame) < rows:
        figure.suptitle(f"a sample of {len(frame):,} of {rows:,} rows (seed {seed})", fontsize=9)
    hue = None if target.task == "regression" else frame[target.name].astype(str)
    for ax, column in zip(axes, columns, strict=False):
        sns.histplot(x=frame[column], hue=hue, hue_order=list(target.classes) or None, ax=ax, bins=30,
                     stat="density", common_norm=False, element="step", legend=ax is axes[0])
        ax.set(title=column, xlabel="", ylabel="")
        ax.tick_params(axis="y", labelleft=False)  # a density's values mean nothing to a reader: the shapes compare
    if not columns:
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no numeric features", ha="center", va="center")
        axes[0].set_axis_off()
    return figure


def plot_categories(categories: pd.DataFrame, exclude: tuple[str, ...] = ()) -> Figure:
    """Bar charts of the most frequent levels of each categorical feature."""
    columns = [c for c in categories["column"].unique() if c not in exclude][:MAX_PANELS]
    shown = categories[categories["column"].isin(columns)]
    tallest = int(shown.groupby("column").size().max()) if columns else 0  # bars in the fullest panel
    figure, axes = plots.grid(len(columns), size=(4.2, max(2.8, 0.4 * tallest + 0.9)))  # room for a label wrapped on two lines
    for ax, column in zip(axes, columns, strict=False):
        part = categories[categories["column"] == column]
        levels = plots.level_labels(list(part["level"]))
        sns.barplot(x=part["rows"].to_numpy(), y=levels, ax=ax, color="C0")
        ax.set(title=f"{column} ({int(part['levels'].iloc[0])} levels)", xlabel="", ylabel="")
        ax.tick_params(axis="y", labelsize=10)
    if not columns:
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no categorical features", ha="center", va="center")
        axes[0].set_axis_off()
    return figure


def plot_correlations(pearson: pd.DataFrame, spearman: pd.DataFrame) -> Figure:
    """Side-by-side heatmaps of Pearson and Spearman correlations."""
    side = 1.2 + 0.6 * len(pearson)
    figure = Figure(figsize=(2 * side + 1.5, side), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, (name, table) in zip(axes, (("Pearson", pearson), ("Spearman", spearman)), strict=True):
        sns.heatmap(table, ax=ax, vmin=-1, vmax=1, cmap="vlag", annot=len(table) <= 12, fmt=".2f",
                    annot_kws={"size": 9}, square=True, cbar=ax is axes[1])
        ax.set_title(name)
    return figure


def plot_leak_scores(scores: pd.DataFrame, threshold: float) -> Figure:
    """Each column's single-column score, with the leak threshold."""
    figure = Figure(figsize=(7.0, max(1.8, 0.3 * len(scores) + 1.0)), layout="constrained")
    ax = figure.subplots()
    sns.barplot(x=scores["score"].to_numpy(), y=scores.index.astype(str), ax=ax, color="C0")
    ax.axvline(threshold, color="C3", linestyle="--", label=f"leak threshold {threshold}")
    low = min(0.0, float(scores["score"].min())) if len(scores) else 0.0
    ax.set(xlabel=metric_label(str(scores["metric"].iloc[0])) if len(scores) else "score", ylabel="", xlim=(low, 1.02))
    ax.legend(loc="lower right")
    return figure

