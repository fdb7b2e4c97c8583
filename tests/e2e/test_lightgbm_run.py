"""End to end with the lightgbm family: select compares it on Telco churn (16 categories split natively), the
workflow tunes, evaluates and deploys it, and the service's fast path predicts exactly what the pipeline does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from mlworkflow.bundle.registry import Registry
from mlworkflow.core import families
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
    kit.assert_served_like_pipeline(loaded, root, records, "on")
