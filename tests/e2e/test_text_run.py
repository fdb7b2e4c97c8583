"""End to end with free text: on the SMS spam sample the data stage calls the message text (not an
identifier), preprocess keeps it as TF-IDF features, the model beats the majority class clearly, and the
service predicts on raw messages exactly what the pipeline predicts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy
from tests import runkit as kit_run
from tests import servekit as kit

pytestmark = pytest.mark.e2e

SHARED = kit_run.SHARED_DATA
PARAMS = Path(__file__).resolve().parents[1] / "params" / "sms_spam.yaml"


@pytest.fixture(scope="module")
def sms_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One CLI run of tests/params/sms_spam.yaml up to deploy; (process, root)."""
    root = tmp_path_factory.mktemp("sms")
    params = kit_run.shared_params(PARAMS, root, "deploy:\n  name: sms\n  alias: champion\n")
    done = kit_run.run_cli(params, root)
    return done, root


def test_the_text_column_is_a_feature_not_an_identifier(sms_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = sms_run
    assert done.returncode == 0, done.stderr[-3000:]
    data = kit_run.artifact(root, "data.json")
    assert data["roles"] == {"text": "text"} and data["identifiers"] == []
    assert data["profile"]["roles"]["text"]["reason"].startswith("free text (")
    preprocess = kit_run.artifact(root, "preprocess.json")
    assert preprocess["text"] == ["text"] and preprocess["dropped"] == {}
    assert preprocess["numeric"] == [] and preprocess["categorical"] == []


def test_the_model_beats_the_majority_class_clearly(sms_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = sms_run
    assert done.returncode == 0, done.stderr[-3000:]
    evaluate = kit_run.artifact(root, "evaluate.json")
    accuracy, majority = evaluate["metrics"]["accuracy"]["value"], evaluate["baseline"]["accuracy"]["value"]
    assert majority > 0.8  # ham is most messages: accuracy alone is easy to fake
    assert accuracy >= 0.93 and accuracy - majority >= 0.05, (accuracy, majority)
    assert evaluate["metrics"]["roc_auc"]["value"] >= 0.95
    assert evaluate["importance"][0]["feature"] == "text"


def test_served_predictions_on_raw_messages_equal_the_pipelines(
    sms_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, root = sms_run
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = Registry(root / "models").load("sms@champion")
    assert loaded.contract.names == ("text",) and loaded.contract.columns[0].free_text
    raw = pd.read_csv(SHARED / "sms_spam.csv").tail(40).drop(columns="label")
    records = deploy.valid_records(raw, loaded.contract, 20)
    expected = loaded.pipeline.predict_proba(pd.DataFrame(records)[list(loaded.contract.names)])
    app = create_app(loaded, kit.params(), sqlite_url(root / "log.sqlite"))
    with kit.running(app) as url:
        assert httpx2.get(f"{url}/model", timeout=10).json()["fast_path"].startswith("off")
        batch = httpx2.post(f"{url}/predict", json=records, timeout=60).json()["predictions"]
        never_seen = httpx2.post(f"{url}/predict", json={"text": "WIN a brand new car!! txt CLAIM now"}, timeout=60)
    assert never_seen.status_code == 200, never_seen.text
    served = [row["probabilities"][str(loaded.pipeline.classes_[1])] for row in batch]
    assert np.array_equal(served, expected[:, 1])
