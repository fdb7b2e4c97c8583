"""End to end with the lightgbm family: select compares it on Telco churn (16 categories split natively), the
workflow tunes, evaluates and deploys it, and the service's fast path predicts exactly what the pipeline does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.core import families
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy
from tests import runkit as kit_run
from tests import servekit as kit

pytestmark = pytest.mark.e2e

SHARED = kit_run.SHARED_DATA
PARAMS = Path(__file__).resolve().parents[1] / "params" / "telco_lightgbm.yaml"


@pytest.fixture(scope="module")
def telco_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One CLI run of tests/params/telco_lightgbm.yaml up to deploy; (process, root)."""
    root = tmp_path_factory.mktemp("telco")
    return kit_run.run_cli(kit_run.shared_params(PARAMS, root), root), root


def test_select_scores_lightgbm_and_the_workflow_deploys_it(telco_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = telco_run
    assert done.returncode == 0, done.stderr[-3000:]
    ranking = {row["family"]: row for row in kit_run.artifact(root, "select.json")["ranking"]}
    assert set(ranking) == {"lightgbm", "hist_gradient_boosting"}
    assert ranking["lightgbm"]["status"] == "ok" and ranking["lightgbm"]["score"] > 0.8
    assert kit_run.artifact(root, "train.json")["family"] == "lightgbm"
    assert kit_run.artifact(root, "evaluate.json")["metrics"]["roc_auc"]["value"] >= 0.83


def test_served_predictions_equal_the_pipelines_on_the_fast_path(
    telco_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, root = telco_run
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = Registry(root / "models").load("telco_lightgbm@champion")
    assert type(families.unwrap(loaded.pipeline[-1])).__name__ == "LGBMClassifier"
    raw = pd.read_csv(SHARED / "telco_churn.csv").tail(60).drop(columns="Churn")
    raw["TotalCharges"] = pd.to_numeric(raw["TotalCharges"], errors="coerce")  # numbers stored as text in the file
    records = deploy.valid_records(raw, loaded.contract, 30)
    assert len(records) == 30
    expected = loaded.pipeline.predict_proba(pd.DataFrame(records)[list(loaded.contract.names)])
    app = create_app(loaded, kit.params(), sqlite_url(root / "log.sqlite"))
    with kit.running(app) as url:
        assert httpx2.get(f"{url}/model", timeout=10).json()["fast_path"].startswith("on")
        batch = httpx2.post(f"{url}/predict", json=records, timeout=60).json()["predictions"]
        single = httpx2.post(f"{url}/predict", json=records[0], timeout=60).json()["predictions"]
    positive = str(loaded.pipeline.classes_[1])
    assert np.array_equal([row["probabilities"][positive] for row in batch], expected[:, 1])
    assert single[0]["probabilities"][positive] == expected[0, 1]
