"""The executive summary of a run, in plain words from its records: what it predicts, how well, ship or hold, risks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlworkflow.records import (
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    PreprocessRecord,
    RetrainRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views.labels import in_words, metric_label, number, percent, score, threshold_rule_label
from mlworkflow.views.story import Watch, family_story, interval_text, numbers_story, source_name, watch

MIN_GROUP_ROWS_FLAG = "n <"  # evaluate's flag of a group too small to judge


@dataclass(frozen=True)
class RunRecords:
    """The records a run's stages have written so far (None for a stage that has not run)."""

    data: DataRecord | None = None
    select: SelectRecord | None = None
    train: TrainRecord | None = None
    evaluate: EvaluateRecord | None = None
    monitor: MonitorRecord | None = None
    retrain: RetrainRecord | None = None
    preprocess: PreprocessRecord | None = None


@dataclass(frozen=True)
class Check:
    """One condition of the recommendation: whether it holds (None: not known yet) and what it found."""

    name: str
    passed: bool | None
    sentence: str
    required: bool = True


@dataclass(frozen=True)
class Executive:
    """The summary at the top of a run's index and export; empty when the run has no data record yet."""

    title: str = ""
    predicts: str = ""
    performance: list[str] = field(default_factory=list)
    recommendation: Literal["SHIP", "HOLD", ""] = ""
    action: str = ""  # a monitor run's recommendation: keep serving, look closer, retrain
    threshold_rule: str = ""  # how the decision threshold was chosen, in words
    because: str = ""
    changes: str = ""
    checks: list[Check] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    story: list[str] = field(default_factory=list)
    watch: Watch | None = None


# --- what is predicted, for whom ------------------------------------------------------------------------------


def base_rate(data: DataRecord) -> float | None:
    """The positive class's share of the rows (None for other tasks or an old profile)."""
    share = data.profile.get("balance", {}).get(data.positive_class or "", {}).get("share")
    return float(share) if isinstance(share, int | float) else None


def title(data: DataRecord) -> str:
    """The page's title: what the model predicts."""
    if data.task == "binary" and data.positive_class is not None:
        return f"Predicting whether {data.target} is {data.positive_class}"
    return f"Predicting {data.target}"


def predicts(data: DataRecord, preprocess: PreprocessRecord | None) -> str:
    """What is predicted and for which rows."""
    rows = f"{data.rows:,} rows of {source_name(data.source)}"
    if data.source_rows > data.rows:
        rows += f" (a sample of its {data.source_rows:,})"
    if data.task == "binary":
        rate = base_rate(data)
        what = f"whether {data.target} is {data.positive_class}"
        rows += f", {percent(rate, 0)} of them {data.positive_class}" if rate is not None else ""
    elif data.task == "multiclass":
        what = f"{data.target}, one of {len(data.classes)} classes ({', '.join(data.classes[:6])}{'…' if len(data.classes) > 6 else ''})"
    else:
        what = f"{data.target}, a number"
    held = f" It was tested on {preprocess.rows.test:,} rows held out from training." if preprocess is not None else ""
    return f"The model predicts {what} for each row, learnt from {rows}.{held}"


# --- how well ---------------------------------------------------------------------------------------------------


def value(evaluate: EvaluateRecord, metric: str, side: Literal["metrics", "baseline"] = "metrics") -> float | None:
    """A test metric's value for the model or the baseline (None when not computed)."""
    entry = (evaluate.metrics if side == "metrics" else evaluate.baseline).get(metric)
    return entry.value if entry is not None else None


def in_ten(share: float) -> str:
    """A share as 'about 7 in 10' (or 'nearly all', 'almost none')."""
    tenths = round(share * 10)
    return "nearly all" if tenths >= 10 else "almost none" if tenths <= 0 else f"about {tenths} in 10"


def binary_sentences(data: DataRecord, evaluate: EvaluateRecord) -> list[str]:
    """Precision and recall at the chosen threshold, as counts of flagged rows."""
    precision, recall, positive = value(evaluate, "precision"), value(evaluate, "recall"), data.positive_class
    if precision is None or recall is None:
        return []
    rate = base_rate(data)
    chance = f", against {round(rate * 1000):,} by chance" if rate is not None else ""
    at = f" (decision threshold {number(evaluate.threshold)}: {evaluate.threshold_note})" if evaluate.threshold is not None else ""
    return [f"Of every 1,000 rows it flags as {positive}, about {round(precision * 100) * 10:,} are{chance}; "
            f"it finds {in_ten(recall)} of all {positive} rows{at}."]


def multiclass_sentences(evaluate: EvaluateRecord) -> list[str]:
    """Accuracy as right answers per 100 rows, against always guessing the most common class."""
    accuracy, baseline = value(evaluate, "accuracy"), value(evaluate, "accuracy", "baseline")
    if accuracy is None:
        return []
    guess = f"; always guessing the most common class would get {round(baseline * 100)}" if baseline is not None else ""
    sentences = [f"It names the right class for about {round(accuracy * 100)} of every 100 rows{guess}."]
    balanced = value(evaluate, "balanced_accuracy")
    if balanced is not None:
        sentences.append(f"Counting every class equally, it is right {percent(balanced, 0)} of the time (balanced accuracy).")
    return sentences


def regression_sentences(data: DataRecord, evaluate: EvaluateRecord) -> list[str]:
    """The typical error in the target's units, against predicting the average."""
    rmse, baseline, mae = value(evaluate, "rmse"), value(evaluate, "rmse", "baseline"), value(evaluate, "mae")
    if rmse is None:
        return []
    sentence = f"Its predictions of {data.target} are typically off by about {number(rmse)} (root mean squared error, in {data.target}'s units"
    sentence += f"; its mean absolute error is {number(mae)})" if mae is not None else ")"
    sentences = [sentence + "."]
    if baseline:
        smaller = 1 - rmse / baseline
        sentences.append(f"Predicting the average for every row would be off by {number(baseline)}: the model's typical "
                         f"error is {percent(abs(smaller), 0)} {'smaller' if smaller >= 0 else 'larger'}.")
    return sentences


def deciding_sentence(evaluate: EvaluateRecord) -> str:
    """The deciding metric on the test rows against the baseline."""
    name, baseline = metric_label(evaluate.metric), value(evaluate, evaluate.metric, "baseline")
    against = f", against {number(baseline)} for a baseline that ignores the inputs" if baseline is not None else ""
    return f"On the deciding metric, {name}, it scores {interval_text(evaluate.metrics.get(evaluate.metric))}{against}."


def cost_sentence(evaluate: EvaluateRecord) -> list[str]:
    """Binary tasks with a cost view: the errors' cost per 1,000 rows, now and at the cheapest threshold."""
    cost = evaluate.cost
    if cost is None or cost.per_1000 is None:
        return []
    cheaper = round(cost.best_per_1000) < round(cost.per_1000)
    if cost.cost_fp == cost.cost_fn > 0:  # every error costs the same: the cost is a count of wrong calls
        scale = cost.cost_fp
        best = f"; the threshold {number(cost.best_threshold)} would make {round(cost.best_per_1000 / scale):,}" if cheaper else ""
        return [f"It makes about {round(cost.per_1000 / scale):,} wrong calls per 1,000 rows{best}."]
    best = f"; the cheapest threshold on the test rows ({number(cost.best_threshold)}) would cost {round(cost.best_per_1000):,}" if cheaper else ""
    return [f"Counting a false alarm as {number(cost.cost_fp)} and a miss as {number(cost.cost_fn)}, its errors cost "
            f"about {round(cost.per_1000):,} per 1,000 rows{best}."]


def drivers_sentence(evaluate: EvaluateRecord) -> list[str]:
    """The inputs its predictions lean on most (SHAP or partial dependence when recorded, else permutation importance)."""
    rows, how = (evaluate.drivers.features, "SHAP values" if evaluate.drivers.method == "shap" else "partial dependence") \
        if evaluate.drivers is not None else (evaluate.importance, "permutation importance")
    names = [str(r["feature"]) for r in rows if "feature" in r][:3]
    if not names:
        return []
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return [f"Its predictions lean most on {listed} ({how})."]


def performance(data: DataRecord | None, evaluate: EvaluateRecord | None) -> list[str]:
    """How well, in the business's terms for the task, and what drives it."""
    if data is None or evaluate is None:
        return []
    plain = {"binary": lambda: binary_sentences(data, evaluate) + cost_sentence(evaluate),
             "multiclass": lambda: multiclass_sentences(evaluate),
             "regression": lambda: regression_sentences(data, evaluate)}[data.task]()
    return [*plain, deciding_sentence(evaluate), *drivers_sentence(evaluate)]


# --- the checks behind ship / hold ------------------------------------------------------------------------------


def beats_baseline(evaluate: EvaluateRecord) -> Check:
    """The deciding metric's paired difference to the baseline: its interval must exclude zero, the right way."""
    name, diff = metric_label(evaluate.metric), evaluate.difference.get(evaluate.metric)
    if diff is None or diff.low is None or diff.high is None:
        return Check("beats the baseline", None, f"No interval for {name}'s difference to the baseline.")
    better = diff.high < 0 if evaluate.lower_is_better else diff.low > 0
    gap = f"{name} differs from the baseline's by {score(diff.value)} (95% interval {score(diff.low)} to {score(diff.high)})"
    if better:
        return Check("beats the baseline", True, f"Clearly better than a baseline that ignores the inputs: {gap}.")
    return Check("beats the baseline", False, f"Not clearly better than a baseline that ignores the inputs: {gap}, "
                 "an interval that does not exclude no gain.")


def probabilities(evaluate: EvaluateRecord) -> Check | None:
    """Classification: the model's log-loss must beat the class shares alone (None when not computed)."""
    diff, model, prior = evaluate.difference.get("log_loss"), value(evaluate, "log_loss"), value(evaluate, "log_loss", "baseline")
    if diff is None or diff.high is None or model is None or prior is None:
        return None
    losses = f"log loss {score(model)} against {score(prior)} for the class shares alone (lower is better)"
    if diff.high < 0:
        return Check("probabilities", True, f"Its probabilities carry information: {losses}.")
    return Check("probabilities", False, f"Its probabilities are no better than the class shares alone: {losses}; "
                 "do not read its scores as probabilities.")


def flagged_groups(evaluate: EvaluateRecord) -> list[str]:
    """'column = group: gaps' for each group flagged beyond the tolerance (small groups are not flags)."""
    if evaluate.fairness is not None:
        return list(evaluate.fairness.flagged)
    return [f"{g.column} = {g.group}: {g.flag}" for g in evaluate.groups
            if g.flag and g.group != "(all)" and not g.flag.startswith(MIN_GROUP_ROWS_FLAG)]


def small_groups(evaluate: EvaluateRecord) -> list[str]:
    """The groups too small to judge."""
    if evaluate.fairness is not None:
        return list(evaluate.fairness.small)
    return [f"{g.column} = {g.group}" for g in evaluate.groups if g.flag.startswith(MIN_GROUP_ROWS_FLAG)]


def group_gaps(evaluate: EvaluateRecord) -> Check:
    """No group's results may differ from all rows' beyond the tolerance."""
    columns = sorted({g.column for g in evaluate.groups if g.group != "(all)"})
    if not columns:
        return Check("group gaps", None, "No groups were checked (evaluate.group_columns names none).", required=False)
    flagged = flagged_groups(evaluate)
    if not flagged:
        return Check("group gaps", True, f"No group's results differ from all rows' beyond the tolerance ({', '.join(columns)} checked).")
    shown = in_words("; ".join(flagged[:3])) + (f"; and {len(flagged) - 3} more" if len(flagged) > 3 else "")
    return Check("group gaps", False, f"{len(flagged)} group{'s differ' if len(flagged) > 1 else ' differs'} from all rows beyond "
                 f"the tolerance: {shown}. Review them on the evaluate page before use.")


def monitoring(seen: Watch | None) -> Check:
    """A verdict on new data counts; a baseline check on the run's own test split does not."""
    if seen is None or not seen.monitored:
        said = "only a baseline check on the run's own test split" if seen is not None else "no monitor stage"
        return Check("monitoring", None, f"Not monitored on new data yet ({said}).", required=False)
    if seen.verdict == "RETRAIN":
        return Check("monitoring", False, "Monitoring on new data says RETRAIN: the model has drifted or decayed.")
    return Check("monitoring", True if seen.verdict == "OK" else None, f"Monitoring on new data says {seen.verdict}.",
                 required=seen.verdict == "OK")


def checks(evaluate: EvaluateRecord | None, seen: Watch | None) -> list[Check]:
    """Every condition of the recommendation, in the order a reader weighs them."""
    if evaluate is None:
        return []
    found = [beats_baseline(evaluate), probabilities(evaluate), group_gaps(evaluate), monitoring(seen)]
    return [c for c in found if c is not None]


def recommendation(found: list[Check]) -> Literal["SHIP", "HOLD", ""]:
    """SHIP when every required check passed, HOLD when one failed, '' before evaluation."""
    if not found:
        return ""
    return "HOLD" if failing(found) else "SHIP"


TO_SHIP = {
    "beats the baseline": "it beats the baseline clearly (more rows or better inputs may get it there)",
    "probabilities": "its probabilities beat the class shares (see calibration on the train page)",
    "group gaps": "no group gap is flagged, or the gaps are reviewed and accepted",
    "monitoring": "a retrained model passes monitoring on new data",
}
HOLD_BECAUSE = {
    "beats the baseline": "it is not clearly better than a baseline that ignores the inputs",
    "probabilities": "its probabilities are no better than the class shares alone",
    "group gaps": "its results differ between groups beyond the tolerance",
    "monitoring": "monitoring on new data says RETRAIN",
}


def failing(found: list[Check]) -> list[str]:
    """The names of the checks that stand in the way of shipping."""
    return [c.name for c in found if c.passed is False or (c.required and c.passed is None)]


def because(decided: str, found: list[Check]) -> str:
    """The recommendation in one sentence."""
    if decided == "HOLD":
        reasons = [HOLD_BECAUSE.get(name, name) for name in failing(found)]
        text = "; ".join(reasons)
        return f"{text[:1].upper()}{text[1:]}."
    if decided == "SHIP":
        return "It clearly beats the baseline and every check below passed."
    return ""


def changes(decided: str, found: list[Check]) -> str:
    """What would change the recommendation."""
    if decided == "HOLD":
        return f"It becomes SHIP once {'; and once '.join(TO_SHIP.get(name, name) for name in failing(found))}."
    if decided == "SHIP":
        return "It becomes HOLD if monitoring on new data says RETRAIN or a retrained model flags a group gap."
    return ""


# --- risks ------------------------------------------------------------------------------------------------------


def data_risks(data: DataRecord | None) -> list[str]:
    """A sample, flagged leaks or identifiers."""
    if data is None:
        return []
    risks = [f"Learnt from a {data.rows:,}-row sample of {data.source_rows:,} rows: the full data may do better or differently."] if data.source_rows > data.rows else []
    if data.leaks:
        risks.append(f"Columns that looked like they leak the answer were set aside: {', '.join(data.leaks)}.")
    return risks


def model_risks(train: TrainRecord | None, evaluate: EvaluateRecord | None) -> list[str]:
    """Overfitting, a threshold rule that could not be met, small groups that were not judged."""
    risks: list[str] = []
    if train is not None and train.diagnosis.get("learning") is not None and train.diagnosis["learning"].verdict == "overfitting":
        risks.append("It fits its training rows noticeably better than unseen ones (overfitting; see the train page).")
    if evaluate is not None and not evaluate.threshold_met:
        risks.append(f"The decision threshold could not meet its rule: {evaluate.threshold_note}.")
    small = small_groups(evaluate) if evaluate is not None else []
    if small:
        risks.append(f"{len(small)} group{'s' if len(small) > 1 else ''} had too few rows to judge ({', '.join(small[:4])}{'…' if len(small) > 4 else ''}): their results are unknown.")
    return risks


def watch_risks(seen: Watch | None) -> list[str]:
    """A monitoring warning."""
    return [f"Monitoring on new data warns: {' '.join(seen.reasons[1:3])}"] if seen is not None and seen.monitored and seen.verdict == "WARN" else []


def risks(found: RunRecords, seen: Watch | None) -> list[str]:
    """The main risks, most important first."""
    groups = flagged_groups(found.evaluate) if found.evaluate is not None else []
    group_risk = [f"Results differ between groups ({len(groups)} flagged): the model can treat some groups worse."] if groups else []
    return [*group_risk, *model_risks(found.train, found.evaluate), *watch_risks(seen), *data_risks(found.data)]


ACTIONS = {"OK": "Keep serving", "WARN": "Keep serving, but look closer", "RETRAIN": "Retrain"}
ACTION_BECAUSE = {"OK": "Nothing the model depends on changed enough to act on."}
NEXT_STEP = {
    "OK": "Monitor again on the next batch or window; retrain when the verdict says RETRAIN.",
    "WARN": "Keep serving the model, and monitor again with more rows or a later window: the verdict becomes "
            "RETRAIN when enough features drift or the deciding metric falls beyond its tolerance.",
    "RETRAIN": "Retrain on recent labelled rows (mlworkflow retrain --with NEW_DATA PARAMS): the retrained model "
               "replaces this one only if it beats it on the newest rows.",
}
TRAINING_ROWS = "the run's training split"  # stages.monitor_sources names the default reference so


def watching(monitor: MonitorRecord) -> Executive:
    """The summary of a monitor run: what to do, which model it watched on which rows, and the verdict's reasons."""
    current, verdict = monitor.current, monitor.verdict
    rows = f"{current.rows:,} rows of {source_name(current.source)} ({current.labelled:,} with a known outcome)"
    against = "the rows it was trained on" if monitor.reference == TRAINING_ROWS else source_name(monitor.reference)
    first = in_words(monitor.reasons[0]) if monitor.reasons else ""
    return Executive(title=f"Monitoring {monitor.model}", action=ACTIONS.get(verdict, ACTIONS["WARN"]),
                     because=ACTION_BECAUSE.get(verdict, first),
                     changes=NEXT_STEP.get(verdict, NEXT_STEP["WARN"]),
                     predicts=f"This run checked the registered model {monitor.model} on {rows} against {against}.",
                     watch=watch(monitor))


def executive(found: RunRecords) -> Executive:
    """The executive summary of a run from whatever records it has (a monitor run's verdict; empty before data)."""
    if found.data is None:
        return watching(found.monitor) if found.monitor is not None else Executive()
    seen = watch(found.monitor)
    found_checks = checks(found.evaluate, seen)
    decided = recommendation(found_checks)
    told = [*family_story(found.select, found.train), *numbers_story(found.select, found.train, found.evaluate, found.preprocess)]
    return Executive(
        title=title(found.data), predicts=predicts(found.data, found.preprocess),
        performance=performance(found.data, found.evaluate), recommendation=decided,
        because=because(decided, found_checks), changes=changes(decided, found_checks), checks=found_checks,
        risks=risks(found, seen), story=told, watch=seen,
        threshold_rule=threshold_rule_label(found.evaluate.threshold_rule or "") if found.evaluate is not None else "",
    )
