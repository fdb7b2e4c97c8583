"""Model quality on every shared dataset: the workflow's test score beside a default HGB on the same split.

For each dataset: run the whole workflow with its params (default settings otherwise), read the test
score and its bootstrap interval from evaluate.json, fit a default HistGradientBoosting (native
categorical support) on the same train split, score it on the same test split, and print both with the
published yardstick and target. Beside them, the workflow's final model pipeline (model.skops, refitted
per fold) is cross-validated 5-fold × 2 repeats on the run's train split: its mean with a corrected
t-interval shows how far a single small test split can land from what the model does on average.
Needs ../shared/data. Usage: .venv/bin/python benchmarks/quality.py [adult,titanic,...] [--root DIR]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error

from mlworkflow import io
from mlworkflow.config import PROJECT_ROOT
from mlworkflow.core import crossval, families, metrics
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.target import positive_label
from mlworkflow.params import load_params
from mlworkflow.records import TEST_SPLIT, TRAIN_SPLIT, DataRecord, EvaluateRecord, PreprocessRecord
from mlworkflow.workflow import runner

HERE = Path(__file__).resolve().parent
MODELING = ("data", "preprocess", "select", "train", "evaluate")  # deployment plays no part in quality
CV_FOLDS, CV_REPEATS = 5, 2


@dataclass(frozen=True)
class Case:
    """One dataset: its params, the metric to report, the yardstick and the target."""

    name: str
    params: Path
    metric: str
    yardstick: str
    target: float
    leaks: tuple[str, ...] = ()  # columns stage data must flag as leaks


CASES = (
    Case("adult", PROJECT_ROOT / "params" / "default.yaml", "roc_auc", "HGB default 0.928; AutoML 0.926-0.930", 0.925),
    Case("titanic", HERE / "params" / "titanic.yaml", "roc_auc", "HGB default 0.86", 0.86),
    Case("telco", HERE / "params" / "telco.yaml", "roc_auc", "HGB default 0.83", 0.83),
    Case("bank_marketing", HERE / "params" / "bank_marketing.yaml", "roc_auc", "HGB default 0.80 (no duration)", 0.80),
    Case("penguins", HERE / "params" / "penguins.yaml", "accuracy", "HGB default 0.98", 0.98),
    Case("california", HERE / "params" / "california.yaml", "rmse", "tuned RF 47,730 (Géron)", 47_700.0),
    Case("taxis", HERE / "params" / "taxis.yaml", "rmse", "HGB with trip minutes, hour, weekday (5-fold) 4.07", 4.1,
         leaks=("total",)),
    Case("sms_spam", HERE / "params" / "sms_spam.yaml", "accuracy", "TF-IDF + logistic 0.986 (5-fold); Almeida 0.976", 0.98),
)


def baseline_score(artifacts: Path, metric: str, seed: int) -> float:
    """A default HistGradientBoosting on the run's own train/test split."""
    store = io.Artifacts(artifacts)
    spec = store.read(PreprocessRecord).spec
    train, test = store.read_frame(TRAIN_SPLIT), store.read_frame(TEST_SPLIT)
    model = families.make_pipeline(spec, "hist_gradient_boosting", seed)
    model.fit(train.drop(columns=[spec.target]), train[spec.target])
    X, y = test.drop(columns=[spec.target]), test[spec.target]
    if metric == "rmse":
        return float(root_mean_squared_error(y, model.predict(X)))
    if metric == "accuracy":
        return float(accuracy_score(y, model.predict(X)))
    labels = [str(c) for c in model.classes_]  # the spec keeps labels as text; the target may be numbers
    positive = labels.index(str(spec.positive_class))
    return float(roc_auc_score(np.asarray(y.astype(str) == labels[positive]), model.predict_proba(X)[:, positive]))


NO_ESTIMATE = Interval(math.nan, math.nan, math.nan)  # printed as n/a


def corrected_interval(scores: Sequence[float], test_share: float, confidence: float) -> Interval:
    """Mean of repeated k-fold scores with a t-interval whose variance is inflated by 1/n + test/train
    (Nadeau & Bengio): the folds' training rows overlap, so the plain t-interval would be too narrow."""
    values = np.asarray(scores, dtype=float)
    mean = float(values.mean())
    spread = math.sqrt(float(values.var(ddof=1)) * (1 / len(values) + test_share / (1 - test_share)))
    half = float(student_t.ppf((1 + confidence) / 2, df=len(values) - 1)) * spread
    return Interval(mean, mean - half, mean + half)


def repeated_cv(artifacts: Path, metric: str, seed: int, confidence: float) -> Interval:
    """The run's final model pipeline, refitted on 5 × 2 folds of its train split, scored with `metric`.

    Its hyperparameters were tuned on these rows, so the estimate leans optimistic; it shows the spread.
    """
    store = io.Artifacts(artifacts)
    spec = store.read(PreprocessRecord).spec
    train = store.read_frame(TRAIN_SPLIT)
    X, y = train[list(spec.features)], train[spec.target]
    splits = crossval.make_splits(y, spec.task, CV_FOLDS, CV_REPEATS, seed)
    scorer = metrics.make_scorer(metric, spec.task, positive_label(y, spec.task, spec.positive_class))
    outcome = crossval.cross_validate("final", store.read_model(), X, y, splits, {metric: scorer}, None)
    if outcome.status != "ok":
        print(f"  repeated CV {outcome.status}: {outcome.message}", flush=True)
        return NO_ESTIMATE
    scores = [metrics.to_display(metric, value) for value in outcome.scores(metric)]
    return corrected_interval(scores, 1 / CV_FOLDS, confidence)


def split_interval(evaluate: EvaluateRecord, metric: str) -> str:
    """The test score's bootstrap interval from evaluate.json, as '[low, high]'."""
    interval = evaluate.metrics[metric]
    if interval.low is None or interval.high is None:
        return "n/a"
    return f"[{interval.low:.4f}, {interval.high:.4f}]"


def run_case(case: Case, root: Path) -> dict[str, object]:
    """Run the workflow on one dataset and compare it with the default HGB."""
    params = load_params(case.params)
    request = runner.RunRequest(params=params, params_source=str(case.params), root=root, stages=MODELING)
    began = time.perf_counter()
    result = runner.run(request, echo=lambda line: print(f"  {case.name}: {line}", flush=True))
    elapsed = time.perf_counter() - began
    if result.error:
        return {"dataset": case.name, "error": str(result.error)}
    evaluate = io.Artifacts(result.layout.artifacts).read(EvaluateRecord)
    score = float(evaluate.metrics[case.metric].value or math.nan)
    hgb = baseline_score(result.layout.artifacts, case.metric, params.run.seed)
    cv = repeated_cv(result.layout.artifacts, case.metric, params.run.seed, params.evaluate.confidence)
    flagged = io.Artifacts(result.layout.artifacts).read(DataRecord).leaks
    lower = case.metric == "rmse"
    slowest = max(result.stages, key=lambda s: s.total_s)
    return {
        "dataset": case.name, "metric": case.metric, "workflow": score, "test interval": split_interval(evaluate, case.metric),
        f"CV {CV_FOLDS}x{CV_REPEATS} of the model": str(cv), "default HGB": hgb,
        "model": evaluate.model, "yardstick": case.yardstick, "target": case.target,
        "meets target": (score <= case.target if lower else score >= case.target) and set(case.leaks) <= set(flagged),
        "leaks flagged": ", ".join(flagged) or "none",
        "not below HGB": score <= hgb + 1e-6 if lower else score >= hgb - 1e-6,  # evaluate.json rounds to 6 places
        "ratio to HGB": score / hgb, "run s": round(elapsed), "slowest stage": f"{slowest.stage} {slowest.total_s:.0f}s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="?", default="", help="comma-separated dataset names")
    parser.add_argument("--root", type=Path, default=None, help="where runs/ and reports/ go")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="mlw-quality-"))
    chosen = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    rows = []
    for case in chosen:
        rows.append(run_case(case, root))
        print(f"result: {rows[-1]}", flush=True)
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"reports: {root / 'reports'}")


if __name__ == "__main__":
    main()
