"""End to end with timestamps and formulas in params: the workflow derives trip minutes, hour and weekday
inside the pipeline, the bundle's contract lists the raw columns only, and the service computes the same
predictions as the pipeline from raw rows (synthetic trips always; the shared taxis sample when present)."""

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

ROWS = 600
FORMULAS = {"trip_minutes": "minutes(dropoff - pickup)", "hour": "hour(pickup)", "weekday": "weekday(pickup)"}
SHARED = kit_run.SHARED_DATA
TAXIS_PARAMS = Path(__file__).resolve().parents[1] / "params" / "taxis.yaml"


def trips(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Trips whose fare follows their minutes, distance and a night surcharge; timestamps as text, some gaps."""
    rng = np.random.default_rng(seed)
    pickup = pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.integers(0, 28 * 24 * 60, rows), unit="min")
    minutes = rng.gamma(2.0, 7.0, rows)
    distance = (minutes * rng.uniform(0.1, 0.4, rows)).round(2)
    night = (pickup.hour < 6).astype(float)
    frame = pd.DataFrame({
        "pickup": pickup.strftime("%Y-%m-%d %H:%M:%S"),
        "dropoff": (pickup + pd.to_timedelta(minutes, unit="min")).strftime("%Y-%m-%d %H:%M:%S"),
        "distance": distance,
        "color": rng.choice(np.array(["yellow", "green"], dtype=object), rows),
        "fare": (2.5 + 0.35 * minutes + 1.2 * distance + 1.0 * night + rng.normal(0, 0.5, rows)).round(2),
    })
    frame.loc[::29, "distance"] = np.nan
    return frame


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One run on synthetic trips with the formulas in params; (process, root)."""
    root = tmp_path_factory.mktemp("trips")
    trips().to_csv(root / "trips.csv", index=False)
    params = {
        "run": {"name": "trips", "seed": 5},
        "data": {"path": "trips.csv", "target": "fare"},
        "preprocess": {"split": "random", "features": FORMULAS},
        "select": {"candidates": ["logistic", "hist_gradient_boosting"], "folds": 3, "repeats": 1, "top_k": 1},
        "train": {"search": "random", "n_iter": 2, "folds": 3, "learning_curve": False},
        "evaluate": {"bootstrap": 50, "permutation_repeats": 1},
        "deploy": {"name": "trips", "alias": "champion"},
    }
    path = root / "trips.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return kit_run.run_cli(path, root), root


def served_equals_pipeline(root: Path, name: str, raw: pd.DataFrame) -> None:
    """/predict on raw rows, one at a time and as a batch, gives exactly the pipeline's predictions."""
    loaded = Registry(root / "models").load(f"{name}@champion")
    records = deploy.valid_records(raw, loaded.contract, 20)
    expected = loaded.pipeline.predict(pd.DataFrame(records)[list(loaded.contract.names)])
    app = create_app(loaded, kit.params(), sqlite_url(root / "log.sqlite"))
    with kit.running(app) as url:
        assert httpx2.get(f"{url}/model", timeout=10).json()["fast_path"].startswith("off")
        batch = httpx2.post(f"{url}/predict", json=records, timeout=60).json()["predictions"]
        single = httpx2.post(f"{url}/predict", json=records[0], timeout=60).json()["predictions"]
    assert np.array_equal([row["prediction"] for row in batch], expected)
    alone = loaded.pipeline.predict(pd.DataFrame(records[:1])[list(loaded.contract.names)])  # a linear model's
    assert single[0]["prediction"] == alone[0]  # one-row product may differ from the batch's in the last bit


def check_bundle(root: Path, name: str, raw_columns: set[str]) -> None:
    """The contract holds raw columns only (the timestamps as dates or times), the pipeline (each member's, for an
    ensemble) derives first."""
    loaded = Registry(root / "models").load(f"{name}@champion")
    names = set(loaded.contract.names)
    assert names <= raw_columns and not names & set(FORMULAS)
    assert {"pickup", "dropoff"} <= names
    assert all(c.timestamp for c in loaded.contract.columns if c.name in ("pickup", "dropoff"))
    members = getattr(loaded.pipeline, "estimators_", [loaded.pipeline])  # an ensemble's members are pipelines too
    assert all(member.steps[0][0] == "derive" for member in members)


def test_the_formulas_are_recorded_and_computed_inside_the_pipeline(
    synthetic: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, root = synthetic
    assert done.returncode == 0, done.stderr[-3000:]
    preprocess = kit_run.artifact(root, "preprocess.json")
    assert preprocess["derived"] == FORMULAS
    assert preprocess["datetime"] == ["pickup", "dropoff"]
    check_bundle(root, "trips", set(trips(5).columns) - {"fare"})
    r2 = kit_run.artifact(root, "evaluate.json")["metrics"]["r2"]["value"]
    assert r2 > 0.9  # the fare is a function of the derived minutes: without them it would be far lower


def test_served_predictions_on_raw_rows_equal_the_pipelines(synthetic: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = synthetic
    assert done.returncode == 0, done.stderr[-3000:]
    served_equals_pipeline(root, "trips", trips(80, seed=11).drop(columns="fare"))


def test_taxis_sample_flags_total_as_a_leak_and_serves_raw_rows(tmp_path: Path) -> None:
    params = kit_run.shared_params(TAXIS_PARAMS, tmp_path, "deploy:\n  name: taxis\n  alias: champion\n")
    done = kit_run.run_cli(params, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "total" in kit_run.artifact(tmp_path, "data.json")["leaks"]
    assert kit_run.artifact(tmp_path, "preprocess.json")["dropped"]["total"].startswith("label leak")
    raw = pd.read_csv(SHARED / "taxis.csv").tail(60)
    check_bundle(tmp_path, "taxis", set(raw.columns))
    served_equals_pipeline(tmp_path, "taxis", raw.drop(columns="fare"))
