"""Train-stage time on Adult: the settings before issue 12.6 beside today's defaults, on the same split.

Stages data, preprocess and select run once (this checkout) unless `--artifacts` names a run's artifact
folder that has them. Then the train stage's work — what notebook 04 runs: the search, the probability
check, the learning and validation curves, the final fit — runs twice, each in a fresh process on the same
train split: once on `lib/` as it was at `--before` (extracted with `git archive`, put first on PYTHONPATH)
with its defaults, once on this checkout's `lib/` with today's defaults. Each side tunes what its own
defaults would: select's ranking (this checkout's) without the families that side's `lib/` compares only
when listed — LightGBM was opt-in before, so on Adult the 'before' side tunes HGB, as the issue measured. Both processes
cap native threads at one per process. Prints each side's train time and test ROC AUC, and the ratio.
Needs ../shared/data (through params/default.yaml). The machine's load is printed with the figures: times
on a shared machine are noisy, the ratio of two runs side by side less so.
Usage: .venv/bin/python benchmarks/train_time.py [--artifacts DIR] [--before COMMIT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow.config import PROJECT_ROOT

BEFORE = "796047958a1da6104ca41724b9170d73806c4639"  # the commit before issue 12.6's train changes
MODELING = ("data", "preprocess", "select")
INPUTS = ("train.parquet", "test.parquet", "inputs.json")


# --- the parent: inputs, the two sides, the figures ---------------------------------------------------------


def prepared_artifacts(root: Path) -> Path:
    """Run data, preprocess and select on the default params under `root`; their artifact folder."""
    from mlworkflow.params import load_params
    from mlworkflow.workflow import runner

    source = PROJECT_ROOT / "params" / "default.yaml"
    request = runner.RunRequest(params=load_params(source), params_source=str(source), root=root, stages=MODELING)
    result = runner.run(request, echo=lambda line: print(f"  {line}", flush=True))
    if result.error:
        raise SystemExit(f"preparing the split failed: {result.error}")
    return Path(result.layout.artifacts)


def write_inputs(artifacts: Path, folder: Path) -> None:
    """The split, the spec (as JSON) and select's choice, in a form either version of lib/ reads."""
    from mlworkflow import io
    from mlworkflow.records import TEST_SPLIT, TRAIN_SPLIT, PreprocessRecord, SelectRecord

    store = io.Artifacts(artifacts)
    store.read_frame(TRAIN_SPLIT).to_parquet(folder / "train.parquet", index=False)
    store.read_frame(TEST_SPLIT).to_parquet(folder / "test.parquet", index=False)
    selection = store.read(SelectRecord)
    spec = store.read(PreprocessRecord).spec.to_json()
    (folder / "inputs.json").write_text(json.dumps({"spec": spec, "chosen": list(selection.chosen),
                                                    "metric": selection.metric}), encoding="utf-8")


def snapshot(commit: str, folder: Path) -> Path:
    """lib/ as it was at `commit`, extracted under `folder`."""
    archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", commit, "lib"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "lib"


def side(name: str, lib: Path, inputs: Path) -> dict[str, Any]:
    """Run the train stage's work in a fresh process on `lib`; its figures."""
    from mlworkflow.config import thread_caps

    env = {**os.environ, **thread_caps(os.environ), "PYTHONPATH": str(lib)}
    done = subprocess.run([sys.executable, __file__, "--child", str(inputs)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return {"side": name, **json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", type=Path, default=None, help="a run's artifact folder with data..select")
    parser.add_argument("--before", default=BEFORE, help="the commit whose lib/ and defaults are 'before'")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)), flush=True)
        return
    work = Path(tempfile.mkdtemp(prefix="mlw-train-time-"))
    artifacts = args.artifacts or prepared_artifacts(work / "root")
    write_inputs(artifacts, work)
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows = []
    for name, lib in (("before", snapshot(args.before, work)), ("now", PROJECT_ROOT / "lib")):
        rows.append(side(name, lib, work))
        print(f"{name}: {rows[-1]}", flush=True)
    print(f"load average after: {os.getloadavg()}", flush=True)
    table = pd.DataFrame(rows).set_index("side")
    pd.set_option("display.width", 200)
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    ratio = table.loc["now", "train_s"] / table.loc["before", "train_s"]
    print(f"time ratio now/before: {ratio:.3f}; test ROC AUC before {table.loc['before', 'test_roc_auc']:.4f}, "
          f"now {table.loc['now', 'test_roc_auc']:.4f}")


# --- the child: one side's train stage, on whichever lib/ is first on the path -------------------------------


def child(inputs: Path) -> dict[str, Any]:
    """What notebook 04 computes, timed, and the final model's test ROC AUC (runs on either version of lib/)."""
    import mlworkflow
    from mlworkflow.core.features import FeatureSpec
    from mlworkflow.params import TrainParams
    from mlworkflow.stages import train

    given = json.loads((inputs / "inputs.json").read_text(encoding="utf-8"))
    spec = FeatureSpec.model_validate({k: v for k, v in given["spec"].items() if k in FeatureSpec.model_fields})
    params, seed = TrainParams(), 42
    X, y = train.split_xy(pd.read_parquet(inputs / "train.parquet"), spec)
    chosen = default_candidates(given["chosen"])
    names = train.families_to_tune(chosen, params.top_k, spec.task)
    also = train.families_at_defaults(chosen, params.top_k, spec.task) if hasattr(train, "families_at_defaults") else ()
    began = time.perf_counter()
    model, best, folds = stage_work(spec, names, also, X, y, params, seed, given["metric"])
    elapsed = time.perf_counter() - began
    return {"train_s": round(elapsed, 1), "test_roc_auc": test_auc(model, spec, inputs), "family": best.family,
            "trials": len(best.trials), "folds": folds, "n_jobs": params.n_jobs,
            "lib": str(Path(mlworkflow.__file__).parent.parent)}


def default_candidates(chosen: list[str]) -> list[str]:
    """Select's ranking without the families this lib/ compares only when listed (`families.OPT_IN`): what its
    default params would have tuned (before issue 12.6, LightGBM was opt-in and Adult's choice was HGB)."""
    from mlworkflow.core import families

    opt_in = getattr(families, "OPT_IN", ())
    return [name for name in chosen if name not in opt_in] or chosen


def fitting_where_configured() -> AbstractContextManager[Any]:
    """core.parallel's backend where lib/ has one (the 'before' lib/ fits in this process or plain joblib)."""
    try:
        from mlworkflow.core import parallel
    except ImportError:
        return nullcontext()
    return parallel.configured()


def stage_work(spec: Any, names: Any, also: Any, X: pd.DataFrame, y: pd.Series, params: Any, seed: int,
               metric: str) -> Any:
    """The search, the probability check, both curves and the final fit, as notebook 04 runs them (`also`: the
    families cross-validated at their defaults, where lib/ has them)."""
    from mlworkflow.stages import train

    with fitting_where_configured():
        results = train.tune_all(spec, names, X, y, params, seed, metric, **({"also": also} if also else {}))
        kept = train.keep(spec, results, X, y, params, seed)
        best = kept.result
        if params.learning_curve:
            train.learning_curve_frame(spec, best, X, y, params, seed)
        if getattr(params, "validation_curve", True):
            train.validation_curve_frame(spec, best, X, y, params, seed)
        if hasattr(train, "try_ensemble"):
            train.try_ensemble(spec, results, kept, y, params, seed)
        if hasattr(train, "kept_out_of_fold"):
            train.kept_out_of_fold(kept).to_frame()
        model = train.fit_final(spec, best, X, y, seed, kept.check)
    folds = train.fold_count(params, len(X)) if hasattr(train, "fold_count") else params.folds
    return model, best, folds


def test_auc(model: Any, spec: Any, inputs: Path) -> float:
    """The final model's ROC AUC on the test split."""
    from sklearn.metrics import roc_auc_score

    test = pd.read_parquet(inputs / "test.parquet")
    labels = [str(c) for c in model.classes_]
    column = labels.index(str(spec.positive_class))
    truth = np.asarray(test[spec.target].astype(str) == str(spec.positive_class))
    return float(roc_auc_score(truth, model.predict_proba(test[list(spec.features)])[:, column]))


if __name__ == "__main__":
    main()
