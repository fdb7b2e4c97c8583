"""End to end on an imbalanced table: preprocess → select → train → evaluate → deploy with SMOTE and feature
selection fitted inside the folds, then the registered imbalanced-learn pipeline served over HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest
import yaml

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy
from tests import runkit as kit_run
from tests import servekit as kit

pytestmark = pytest.mark.e2e

ROWS = 700


def rare_positives(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """About 8% 'yes': signal in two numbers and a category, noise columns, missing values in both kinds."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.lognormal(3, 0.5, rows).round(2), "age": rng.integers(18, 80, rows),
        "noise_a": rng.normal(size=rows).round(3), "noise_b": rng.normal(size=rows).round(3),
        "plan": rng.choice(np.array(["basic", "plus", "premium"], dtype=object), rows, p=[0.6, 0.3, 0.1]),
    })
    score = np.log(frame["income"]) + (frame["plan"] == "premium") * 1.5 + (frame["age"] > 60) + rng.normal(0, 0.4, rows)
    frame["bought"] = np.where(score > np.quantile(score, 0.92), "yes", "no")
    frame.loc[::17, "income"] = np.nan
    frame.loc[::23, "plan"] = np.nan
    return frame


def params_file(folder: Path) -> Path:
    """A small params file for the table, with `imbalance: smote` and `feature_selection: model`."""
    rare_positives().to_csv(folder / "rare.csv", index=False)
    params = {
        "run": {"name": "rare", "seed": 3},
        "data": {"path": "rare.csv", "target": "bought", "positive_class": "yes"},
        "preprocess": {"imbalance": "smote", "feature_selection": "model"},
        "select": {"candidates": ["logistic", "hist_gradient_boosting"], "folds": 3, "repeats": 1, "top_k": 1},
        "train": {"search": "random", "n_iter": 2, "folds": 3, "learning_curve": False},
        "evaluate": {"bootstrap": 50, "permutation_repeats": 1, "threshold_folds": 2},
        "deploy": {"name": "rare", "alias": "champion"},
    }
    path = folder / "rare.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One run of the workflow up to deploy; (process, root)."""
    root = tmp_path_factory.mktemp("rare")
    return kit_run.run_cli(params_file(root), root, timeout=900), root


def test_the_steps_are_fitted_inside_the_folds_and_reported(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = run
    assert done.returncode == 0, done.stderr[-3000:]
    preprocess = kit_run.artifact(root, "preprocess.json")
    assert preprocess["transformer"]["imbalance"] == "smote"
    assert preprocess["transformer"]["feature_selection"] == "model"
    steps = kit_run.artifact(root, "select.json")["steps"]
    assert set(steps["scores"]) == {"with steps", "without"} and set(steps["status"].values()) == {"ok"}
    assert {"brier_score", "log_loss"} <= set(steps["scores"]["with steps"])
    # SMOTE makes 'yes' half of what the model learns from: its probabilities overstate the rare class
    assert steps["scores"]["with steps"]["brier_score"]["mean"] > steps["scores"]["without"]["brier_score"]["mean"]
    assert {row["variant"] for row in steps["calibration"]} == {"with steps", "without"}
    chosen = kit_run.artifact(root, "train.json")["steps"]
    assert chosen["kept"] and chosen["imbalance"] == "smote"
    reports = next(path for path in (root / "reports").iterdir() if path.is_dir())  # beside the listing
    assert "with / without steps" in (reports / "index.html").read_text(encoding="utf-8")


def test_the_deployed_pipeline_is_served_one_prediction_per_row(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, root = run
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = Registry(root / "models").load("rare@champion")
    assert [name for name, _ in loaded.pipeline.steps] == ["preprocess", "resample", "select", "model"]
    rows = rare_positives(120, seed=9).drop(columns="bought")
    records = deploy.valid_records(rows, loaded.contract, 12)
    app = create_app(loaded, kit.params(), sqlite_url(root / "log.sqlite"))
    with kit.running(app) as url:
        assert httpx2.get(f"{url}/model", timeout=10).json()["fast_path"].startswith("on")
        answer = httpx2.post(f"{url}/predict", json=records, timeout=30).json()
    probabilities = [row["probabilities"]["yes"] for row in answer["predictions"]]
    assert len(probabilities) == len(records)
    expected = loaded.pipeline.predict_proba(pd.DataFrame(records)[list(loaded.contract.names)])[:, 1]
    assert np.allclose(probabilities, expected, rtol=0, atol=1e-12)
