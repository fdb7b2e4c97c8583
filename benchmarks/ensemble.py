"""Ensembles against the single model train keeps, on shared datasets: nested CV and the test split, side by side.

For each dataset: run stages data and preprocess with its params, tune three families with a small random search
on the train split (as stage train does, out-of-fold predictions kept), keep the single model as train does
(probabilities checked), then score the greedy ensemble and the stack of the same searches in nested
cross-validation (core.ensemble) and, fitted on the whole train split, on the test split. Needs ../shared/data.
Usage: .venv/bin/python benchmarks/ensemble.py [adult,telco,california] [--root DIR] [--n-iter N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow import io
from mlworkflow.config import PROJECT_ROOT
from mlworkflow.core import crossval, ensemble, metrics, searches
from mlworkflow.core.features import FeatureSpec
from mlworkflow.params import Params, load_params
from mlworkflow.records import TEST_SPLIT, TRAIN_SPLIT, PreprocessRecord
from mlworkflow.stages import train
from mlworkflow.workflow import runner

HERE = Path(__file__).resolve().parent
FAMILIES = ("hist_gradient_boosting", "logistic", "random_forest")
CASES: dict[str, tuple[Path, tuple[str, ...]]] = {
    "adult": (PROJECT_ROOT / "params" / "default.yaml", ("data.sample_rows=10000",)),
    "telco": (HERE / "params" / "telco.yaml", ()),
    "california": (HERE / "params" / "california.yaml", ()),
}


def prepared(name: str, root: Path) -> tuple[Params, Path]:
    """The dataset's params and the artifacts of its data and preprocess stages."""
    path, overrides = CASES[name]
    params = load_params(path, overrides)
    request = runner.RunRequest(params=params, params_source=str(path), root=root, stages=("data", "preprocess"))
    result = runner.run(request, echo=lambda line: print(f"  {name}: {line}", flush=True))
    if result.error:
        raise SystemExit(f"{name}: {result.error}")
    return params, result.layout.artifacts


def test_score(model: Any, spec: FeatureSpec, metric: str, y_train: pd.Series, test: pd.DataFrame) -> float:
    """A fitted model's deciding metric on the test split (display sign)."""
    scorer = searches.scorer(metric, y_train, spec)
    return metrics.to_display(metric, float(scorer(model, test[list(spec.features)], test[spec.target])))


def mean(chosen: ensemble.Choice, which: str) -> float:
    """Mean nested fold score of the ensemble or the single model (display sign)."""
    scores = getattr(chosen.scores, which) if chosen.scores is not None else [np.nan]
    return metrics.to_display(chosen.metric, float(np.mean(scores)))


def forced(chosen: ensemble.Choice, members: list[ensemble.Member], task: str, seed: int) -> Any:
    """The ensemble of a choice whether or not it was kept (its members and weights), unfitted."""
    if chosen.kept:
        return chosen.estimator
    used = [m for m in members if m.family in chosen.members]
    cv = crossval.make_cv(task, int(members[0].fold.max()) + 1, seed)
    return ensemble.build(chosen.method, used, chosen.weights, task, cv, 1)  # type: ignore[arg-type]


def run_case(name: str, root: Path, n_iter: int) -> dict[str, object]:
    """Tune, keep, ensemble and score one dataset."""
    params, artifacts = prepared(name, root)
    store, seed = io.Artifacts(artifacts), params.run.seed
    spec = store.read(PreprocessRecord).spec
    X, y = train.split_xy(store.read_frame(TRAIN_SPLIT), spec)
    test = store.read_frame(TEST_SPLIT)
    metric = metrics.deciding_scorer(spec.task, ["auto"], "train")
    settings = params.train.model_copy(update={"search": "random", "n_iter": n_iter, "top_k": len(FAMILIES)})
    began = time.perf_counter()
    results = train.tune_all(spec, FAMILIES, X, y, settings, seed, metric)
    kept = train.keep(spec, results, X, y, settings, seed)
    tuned_s = time.perf_counter() - began
    single = train.fit_final(spec, kept.result, X, y, seed, kept.check)
    row: dict[str, object] = {"dataset": name, "rows": len(X), "metric": metrics.display_name(metric),
                              "single": kept.result.family, "search s": round(tuned_s)}
    members = ensemble.members(spec, results, seed)
    for method in ("greedy", "stack"):
        began = time.perf_counter()
        chosen = train.try_ensemble(spec, results, kept, y, settings.model_copy(update={"ensemble": method}), seed)
        row[f"{method} s"] = round(time.perf_counter() - began, 1)
        model = ensemble.fit(replace(chosen, estimator=forced(chosen, members, spec.task, seed)), X, y)
        row |= {f"CV {method}": mean(chosen, "ensemble"), f"test {method}": test_score(model, spec, metric, y, test),
                f"{method} kept": chosen.kept, **({"weights": chosen.label} if method == "greedy" else {})}
    row |= {"CV single": mean(chosen, "single"), "test single": test_score(single, spec, metric, y, test)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="?", default=",".join(CASES), help="comma-separated dataset names")
    parser.add_argument("--root", type=Path, default=None, help="where runs/ and reports/ go")
    parser.add_argument("--n-iter", type=int, default=4, help="random-search candidates per family")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="mlw-ensemble-"))
    rows = []
    for name in args.only.split(","):
        rows.append(run_case(name, root, args.n_iter))
        print(f"result: {rows[-1]}", flush=True)
    pd.set_option("display.width", 250)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
