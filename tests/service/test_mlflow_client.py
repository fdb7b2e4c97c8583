"""MLflow's own scoring client against the real service: it waits on /ping, reads /version, and `invoke`
gets the pipeline's own labels for DataFrames with missing values (sent as the bare JSON token NaN)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.utils.proto_json_utils import dump_input_data

from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.params import PreprocessParams
from mlworkflow.service.app import create_app
from mlworkflow.stages import preprocess
from tests import servekit as kit

CHUNKS = (1, 2, 3, 5, 8, 40)  # small requests take the fast path and the coalescer, the last one scikit-learn


@dataclass(frozen=True)
class Served:
    """A pipeline served by uvicorn on loopback: MLflow's client of it, its prediction log, the pipeline."""

    client: ScoringServerClient
    log: PredictionLog
    pipeline: Any
    features: list[str]


@contextmanager
def serving(root: Path, train: pd.DataFrame) -> Iterator[Served]:
    """Fit a logistic pipeline on `train`, register it, serve it (unseen categories flagged); MLflow's client waits."""
    pipeline, spec = kit.fit(train)
    registry = Registry(root / "registry")
    entry = registry.register("tiny", kit.bundle(pipeline, train, spec))
    log_url = sqlite_url(root / "log.sqlite")
    app = create_app(registry.load(entry.ref), kit.params(unseen_categories="flag"), log_url)
    with kit.running(app) as url:
        address = urlsplit(url)
        client = ScoringServerClient(address.hostname, address.port)
        client.wait_server_ready(timeout=30)
        log = PredictionLog(log_url)
        try:
            yield Served(client, log, pipeline, list(spec.features))
        finally:
            log.close()


def expected(served: Served, rows: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The pipeline's own labels (at the bundle's threshold 0.4) and probabilities for the rows, in one call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unseen categories: the encoder ignores them, as the service flags them
        proba = served.pipeline.predict_proba(rows)
    positive = list(served.pipeline.classes_).index(">50K")
    return [">50K" if p >= 0.4 else "<=50K" for p in proba[:, positive]], proba


def logged_scores(served: Served, seen: set[str], classes: list[str]) -> np.ndarray:
    """The class probabilities of the one request logged since `seen` (request ids), in row order."""
    frame = served.log.frame()
    new = frame[~frame["request_id"].isin(seen)]
    assert new["request_id"].nunique() == 1, "one invoke is one request"
    seen.update(new["request_id"])
    ordered = new.assign(row=new["id"].str.rsplit("-", n=1).str[1].astype(int)).sort_values("row")
    return np.array([[scores[c] for c in classes] for scores in ordered["scores"]])


def assert_pipeline_answers(served: Served, rows: pd.DataFrame) -> None:
    """Every chunk of rows through MLflow's `invoke`: labels equal, probabilities bit for bit the pipeline's."""
    seen: set[str] = set()
    classes = [str(c) for c in served.pipeline.classes_]
    start = 0
    for size in CHUNKS * (len(rows) // sum(CHUNKS) + 1):
        part = rows.iloc[start : start + size]
        if part.empty:
            break
        labels, proba = expected(served, part)
        answer = served.client.invoke(part).get_predictions(predictions_format="ndarray")
        assert list(answer) == labels, f"rows {start}..{start + size - 1}"
        assert np.array_equal(logged_scores(served, seen, classes), proba), f"rows {start}..{start + size - 1}"
        start += size


def test_mlflow_client_sends_nan_as_a_bare_json_token() -> None:
    body = dump_input_data(pd.DataFrame({"colour": ["red", np.nan], "score": [1.5, np.nan]}))
    assert '"data": [["red", 1.5], [NaN, NaN]]' in body  # not valid strict JSON: the service reads NaN as missing


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows with gaps in a number and a category, a category and an integer that are never missing, a label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "hours": rng.integers(10, 70, n),
        "score": np.where(rng.random(n) < 0.15, np.nan, rng.normal(50, 10, n).round(1)),
        "colour": pd.Series(rng.choice(["red", "green", "blue"], n)).where(rng.random(n) > 0.15),
        "size": rng.choice(["S", "M", "L"], n),
    })
    signal = frame["hours"] / 10 + (frame["size"] == "L") * 2 + rng.normal(0, 1, n)
    return frame.assign(income=np.where(signal > 5.5, ">50K", "<=50K"))


def test_synthetic_rows_with_gaps_get_the_pipelines_answers(tmp_path: Path) -> None:
    frame = synthetic(400)
    with serving(tmp_path, frame.iloc[:300]) as served:
        assert served.client.get_version() == version("mlworkflow")
        rows = frame.iloc[300:][served.features]
        assert rows["colour"].isna().sum() >= 5 and rows["score"].isna().sum() >= 5, "gaps in what is sent"
        assert_pipeline_answers(served, rows)
        logged = served.log.frame()["inputs"]
        assert any(inputs["colour"] is None for inputs in logged), "NaN was taken as missing"


def test_nan_where_the_contract_forbids_it_is_a_422_naming_the_field(tmp_path: Path) -> None:
    frame = synthetic(300)
    with serving(tmp_path, frame) as served:
        rows = frame.iloc[:3][served.features].assign(size=["S", np.nan, "M"])
        with pytest.raises(Exception, match=r"error code 422") as refused:
            served.client.invoke(rows)
    message = str(refused.value)
    assert '"field":"size"' in message and '"rule":"nullable"' in message and '"row":1' in message


def shared_adult(shared_data: Path, name: str, rows: int) -> pd.DataFrame:
    """Real Adult rows from the shared data, cleaned as the preprocess stage cleans them."""
    raw = pd.read_csv(shared_data / name, skipinitialspace=True, nrows=rows)
    cleaned, _ = preprocess.clean(raw, kit.META, PreprocessParams())
    return cleaned.reset_index(drop=True)


def test_real_adult_rows_with_missing_values_get_the_pipelines_answers(shared_data: Path, tmp_path: Path) -> None:
    train = shared_adult(shared_data, "adult_train.csv", 3000)
    test = shared_adult(shared_data, "adult_test.csv", 600)
    with serving(tmp_path, train) as served:
        rows = test[served.features]
        gaps = rows.isna().any(axis=1)
        assert gaps.sum() >= 20 and set(rows.columns[rows.isna().any()]) == {"workclass", "occupation", "native-country"}
        assert_pipeline_answers(served, pd.concat([rows[gaps], rows[~gaps]]).iloc[:300])
