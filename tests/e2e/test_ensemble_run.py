"""End to end with an ensemble: on a 1,200-row sample of the shipped Adult file, train keeps a greedy ensemble of the
tuned families (it beats the single model on held-out folds), and it is saved, deployed, served (the fast path falls
back to the pipeline) and monitored like any model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import VotingClassifier

from mlworkflow import io
from mlworkflow.bundle.registry import LoadedModel, Registry
from mlworkflow.service.predictor import Predictor
from mlworkflow.stages import deploy
from tests import runkit as kit_run
from tests import servekit as kit

pytestmark = pytest.mark.e2e

PARAMS = Path(__file__).resolve().parents[1] / "params" / "ensemble.yaml"
Run = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One CLI run of tests/params/ensemble.yaml through monitor; (process, root)."""
    root = tmp_path_factory.mktemp("ensemble")
    return kit_run.run_cli(PARAMS, root, f"{kit_run.TO_DEPLOY},monitor"), root


def rows(loaded: LoadedModel, n: int = 30) -> list[dict[str, object]]:
    """Unseen Adult rows the deployed contract accepts, as JSON records."""
    return deploy.valid_records(kit.adult(200, skip=5000).drop(columns="income"), loaded.contract, n)


def test_train_keeps_an_ensemble_that_beats_the_single_model_on_held_out_folds(ensemble_run: Run) -> None:
    done, root = ensemble_run
    assert done.returncode == 0, done.stderr[-3000:]
    trained = kit_run.artifact(root, "train.json")
    part = trained["ensemble"]
    assert part["kept"] and part["method"] == "greedy", part["sentence"]
    assert trained["family"] == "ensemble" and len(part["members"]) >= 2
    assert sum(part["weights"]) == pytest.approx(1.0) and set(trained["best_params"]) == set(part["members"])
    assert np.mean(part["cv_score"]["ensemble"]) > np.mean(part["cv_score"]["single"])
    assert trained["cv_score"]["mean"] == pytest.approx(np.mean(part["cv_score"]["ensemble"]))
    assert part["log_loss"] <= part["prior_log_loss"] and trained["calibration"]["method"] == "none"
    assert trained["headline"]["model"].startswith("greedy ensemble: ")
    assert kit_run.artifact(root, "evaluate.json")["metrics"]["roc_auc"]["value"] > 0.8


def test_the_deployed_ensemble_round_trips_exactly_and_is_served_as_the_pipeline_predicts(ensemble_run: Run) -> None:
    done, root = ensemble_run
    assert done.returncode == 0, done.stderr[-3000:]
    registry = Registry(root / "models")
    loaded = registry.load("ensemble@champion")
    assert isinstance(loaded.pipeline, VotingClassifier) and loaded.pipeline.voting == "soft"
    records = rows(loaded)
    X = pd.DataFrame(records)[list(loaded.contract.names)]
    expected = loaded.pipeline.predict_proba(X)
    trained = io.read_model(next((root / "runs").iterdir()) / "artifacts" / "model.skops")
    assert np.array_equal(trained.predict_proba(X), expected), "the registry's copy is the stage's model"
    again = sio.loads(sio.dumps(loaded.pipeline), trusted=registry.trusted_types())
    assert np.array_equal(again.predict_proba(X), expected)
    kit.assert_served_like_pipeline(loaded, root, records, "off")


def test_the_fast_path_falls_back_to_the_ensembles_pipeline(ensemble_run: Run) -> None:
    done, root = ensemble_run
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = Registry(root / "models").load("ensemble@champion")
    predictor = Predictor(loaded.pipeline, loaded.metadata, loaded.contract, fast_path_rows=8)
    assert predictor.fast is None and not predictor.row_wise
    assert predictor.fast_note == "off: not a Pipeline of preprocessing steps and a model"


def test_monitor_runs_on_the_deployed_ensemble(ensemble_run: Run) -> None:
    done, root = ensemble_run
    assert done.returncode == 0, done.stderr[-3000:]
    monitored = kit_run.artifact(root, "monitor.json")
    assert monitored["verdict"] in ("OK", "WARN", "RETRAIN") and monitored["current"]["labelled"] > 0
    assert monitored["performance"]["basis"] == "realized" and monitored["performance"]["value"] > 0.8
