"""One consistent story of a run's numbers: how the model was chosen, why its scores differ, what monitoring saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlworkflow.records import (
    RETRAIN_DATA,
    EvaluateRecord,
    Interval,
    MonitorRecord,
    PreprocessRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views.labels import family_label, in_words, metric_label, number
from mlworkflow.views.labels import score as score_text

OWN_TEST_SPLIT = "the run's test split"  # stages.monitor_sources names this source when no new data was given


@dataclass(frozen=True)
class Watch:
    """What the monitor stage saw: monitoring of new data, or a baseline check on the run's own test split."""

    kind: Literal["monitoring", "baseline check"]
    verdict: str
    title: str
    reasons: list[str] = field(default_factory=list)

    @property
    def monitored(self) -> bool:
        """Whether the verdict is about new data (a baseline check is not)."""
        return self.kind == "monitoring"


RETRAINED_ON = "the old training data plus the new labelled rows"  # what a retrain run's combined file holds


def source_name(source: str) -> str:
    """A data file's name (a database URL or a described source stays as it is): pages show no local paths; a retrain
    run's combined file is said for what it holds, not by its internal name."""
    if "://" in source or "/" not in source:
        return source
    path = Path(source)
    return RETRAINED_ON if (path.parent.name, path.name) == (RETRAIN_DATA.stage, RETRAIN_DATA.name) else path.name


def interval_text(entry: Interval | None) -> str:
    """'0.916 (95% interval 0.882–0.944)', or the value alone when it has no interval."""
    if entry is None or entry.value is None:
        return "—"
    if entry.low is None or entry.high is None:
        return score_text(entry.value)
    return f"{score_text(entry.value)} (95% interval {score_text(entry.low)}–{score_text(entry.high)})"


def family_names(families: list[str]) -> str:
    """'Random forest and Logistic regression' from family keys."""
    names = [family_label(f) for f in families]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def compared(select: SelectRecord) -> list[str]:
    """The families selection scored, best first."""
    return [r.family for r in select.ranking if r.status == "ok" and r.score is not None]


def ensemble_sentence(train: TrainRecord) -> str:
    """How a kept ensemble came to be the model."""
    assert train.ensemble is not None
    members = family_names(train.ensemble.members)
    return (f"The model is an ensemble of {members}: training combined the families selection shortlisted and kept "
            f"the combination because it scored better in cross-validation than the best single model, "
            f"{family_label(train.ensemble.single)}.")


def selection_sentence(select: SelectRecord, family: str) -> str:
    """How a family selection compared came to be the model."""
    ranked, label = compared(select), family_label(family)
    if select.stability is not None and select.stability.preferred is not None and select.stability.preferred.family == family:
        over = family_label(select.stability.preferred.over)
        return (f"{label} was chosen from the {len(ranked)} families selection compared: {over} scored a little higher, "
                f"but not significantly, and {label} was steadier across the folds.")
    if ranked and ranked[0] == family:
        return f"{label} scored best of the {len(ranked)} families selection compared."
    shortlist = family_names([f for f in select.chosen if f in ranked] or ranked[:1])
    return (f"{label} was kept after tuning: selection shortlisted {shortlist} of the {len(ranked)} families it "
            f"compared, and {label} scored best once each was tuned.")


def passed_over_sentence(train: TrainRecord) -> str:
    """Families that scored higher but were passed over because their probabilities were poor ('' when none)."""
    passed = list(train.calibration.passed_over) if train.calibration is not None else []
    if not passed:
        return ""
    return (f"{family_names(passed)} scored higher but {'was' if len(passed) == 1 else 'were'} passed over: "
            "the probabilities were worse than the class shares alone.")


def family_story(select: SelectRecord | None, train: TrainRecord | None) -> list[str]:
    """How the model's family got chosen; a family selection never compared is said to be one."""
    if train is None:
        return []
    if train.ensemble is not None and train.ensemble.kept:
        return [ensemble_sentence(train)]
    if select is None:
        return [f"The model is {family_label(train.family)}; no selection stage ran in this run."]
    if train.family not in compared(select):
        return [f"{family_label(train.family)} was not among the families selection compared "
                f"({family_names(compared(select)) or 'none completed'}); it is the model because training was given it."]
    return [s for s in (selection_sentence(select, train.family), passed_over_sentence(train)) if s]


def selection_score(select: SelectRecord, family: str) -> float | None:
    """The family's cross-validated score in selection (None when selection did not score it)."""
    return next((r.score for r in select.ranking if r.family == family and r.status == "ok"), None)


def same_metric(name: str, other: str) -> bool:
    """Whether two metric keys name one metric ('neg_root_mean_squared_error' and 'rmse' do)."""
    return metric_label(name) == metric_label(other)


def score_parts(select: SelectRecord | None, train: TrainRecord | None, evaluate: EvaluateRecord,
                preprocess: PreprocessRecord | None) -> list[str]:
    """The cross-validated measurements of the deciding metric, each with the rows it used."""
    parts: list[str] = []
    select = select if select is not None and same_metric(select.metric, evaluate.metric) else None
    train = train if train is not None and same_metric(train.metric, evaluate.metric) else None
    score = selection_score(select, train.family) if select is not None and train is not None else None
    if select is not None and score is not None:
        cv = select.cv
        parts.append(f"{number(score)} when selection compared the families ({cv.folds}-fold cross-validation"
                     f"{f', {cv.repeats} repeats' if cv.repeats > 1 else ''} on {cv.rows:,} rows, default settings)")
    if train is not None and train.cv_score.mean is not None:
        rows = f"the {preprocess.rows.train:,} training rows" if preprocess is not None else "the training rows"
        tries = f"the best of {train.n_trials} settings tried, so a little optimistic" if train.n_trials > 1 else "one setting"
        parts.append(f"{number(train.cv_score.mean)} after tuning (cross-validation on {rows}; {tries})")
    return parts


def test_part(evaluate: EvaluateRecord, preprocess: PreprocessRecord | None) -> str:
    """The held-out measurement of the deciding metric."""
    rows = f"the {preprocess.rows.test:,} test rows" if preprocess is not None else "the test rows"
    return f"{interval_text(evaluate.metrics.get(evaluate.metric))} on {rows} no earlier step had seen"


def agreement(evaluate: EvaluateRecord, train: TrainRecord | None) -> str:
    """Whether the tuned cross-validated score lies within the test score's interval, and what it means if not."""
    entry = evaluate.metrics.get(evaluate.metric)
    cv = train.cv_score.mean if train is not None and same_metric(train.metric, evaluate.metric) else None
    if entry is None or entry.low is None or entry.high is None or cv is None:
        return ""
    if entry.low <= cv <= entry.high:
        return "The cross-validated figure lies within the test figure's interval: the measurements agree."
    worse = cv > entry.high if not evaluate.lower_is_better else cv < entry.low
    if worse:
        return "The test figure is worse than cross-validation beyond its interval: expect less on new data than tuning suggested."
    return "The test figure is better than cross-validation beyond its interval: the test rows may be easier than most."


def numbers_story(select: SelectRecord | None, train: TrainRecord | None, evaluate: EvaluateRecord | None,
                  preprocess: PreprocessRecord | None) -> list[str]:
    """Why selection, tuning and test scores differ, and which one to quote."""
    if evaluate is None:
        return []
    parts = [*score_parts(select, train, evaluate, preprocess), test_part(evaluate, preprocess)]
    name = metric_label(evaluate.metric)
    if len(parts) == 1:
        return [f"{name}: {parts[0]}."]
    opening = f"{name} was measured {len(parts)} ways: " + "; ".join(parts) + "."
    why = ("They differ because each uses other rows and folds, and tuning keeps its best try; "
           "the test figure is the one to quote.")
    return [s for s in (opening, why, agreement(evaluate, train)) if s]


def watch(monitor: MonitorRecord | None) -> Watch | None:
    """The monitor stage's verdict, labelled a baseline check when it only re-checked the run's own test split."""
    if monitor is None:
        return None
    if monitor.current.source == OWN_TEST_SPLIT:
        title = f"Baseline check: {monitor.verdict} (on the run's own test split, not on new data)"
        note = ("This is not monitoring: it re-checks rows the model was already tested on. Monitor the model on new "
                "data with the mlworkflow monitor command once it is in use.")
        return Watch("baseline check", monitor.verdict, title, [note, *map(in_words, monitor.reasons)])
    rows = f"{monitor.current.rows:,} rows of {source_name(monitor.current.source)}"
    reasons = [in_words(reason) for reason in monitor.reasons]
    return Watch("monitoring", monitor.verdict, f"Monitoring verdict: {monitor.verdict}", [f"Watched {rows}.", *reasons])
