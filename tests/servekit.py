"""Helpers for the deploy/serve tests: a tiny model in a registry, and a real uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pandas as pd

from mlworkflow.bundle.contract import Contract, learn_contract
from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import LoadedModel, Registry, Version
from mlworkflow.core import families
from mlworkflow.core.features import FeatureSpec
from mlworkflow.params import DeployParams, PreprocessParams
from mlworkflow.records import BundleMetadata
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy, preprocess

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult_train.csv.gz"
META: dict[str, Any] = {"target": "income", "task": "binary", "classes": ["<=50K", ">50K"], "positive_class": ">50K"}


def adult(rows: int | None = None, skip: int = 0) -> pd.DataFrame:
    """The shipped Adult training file, cleaned as the preprocess stage cleans it."""
    raw = pd.read_csv(ADULT, skipinitialspace=True, nrows=None if rows is None else rows + skip).iloc[skip:]
    cleaned, _ = preprocess.clean(raw, META, PreprocessParams())
    return cleaned.reset_index(drop=True)


def fit(frame: pd.DataFrame, family: str = "logistic") -> tuple[Any, FeatureSpec]:
    """A pipeline of the family fitted on the frame, and the spec."""
    spec = preprocess.infer_spec(frame, META, PreprocessParams())
    pipeline = families.make_pipeline(spec, family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(frame[list(spec.features)], frame["income"])
    return pipeline, spec


@dataclass(frozen=True)
class Tiny:
    """A tiny registered model: the registry, its entry, the loaded bundle, data rows."""

    registry: Registry
    entry: Version
    model: LoadedModel
    train: pd.DataFrame
    rows: pd.DataFrame  # unseen rows, for requests

    @property
    def contract(self) -> Contract:
        """The model's input contract."""
        return self.model.contract

    def records(self, n: int) -> list[dict[str, Any]]:
        """n valid JSON records."""
        return deploy.valid_records(self.rows, self.contract, n)


def bundle(pipeline: Any, train: pd.DataFrame, spec: FeatureSpec, name: str = "tiny") -> dict[str, bytes]:
    """The bundle files of a fitted pipeline."""
    import skops.io as sio

    contract = learn_contract(train, spec.numeric, spec.categorical)
    meta = BundleMetadata.model_validate({
        **META, "name": name, "threshold": 0.4, "threshold_rule": "max_f1", "family": "logistic", "best_params": {},
        "metric": "roc_auc", "metrics": {"roc_auc": {"value": 0.9, "low": 0.85, "high": 0.95, "baseline": 0.5}},
        "groups": [],
    })
    return deploy.bundle_files(sio.dumps(pipeline), meta, contract, "# Model card: tiny\n")


def tiny_model(root: Path, family: str = "logistic", rows: int = 600) -> Tiny:
    """Fit a small pipeline on Adult rows, register it as tiny@1 (champion), load it back."""
    train = adult(rows)
    pipeline, spec = fit(train, family)
    registry = Registry(root)
    entry = registry.register("tiny", bundle(pipeline, train, spec))
    entry, _ = registry.promote("tiny", entry.version, "champion")
    return Tiny(registry, entry, registry.load(entry.ref), train, adult(400, skip=rows))


def params(**changes: Any) -> DeployParams:
    """Deploy params for tests (small limits where a test needs them)."""
    return DeployParams(name="tiny", **changes)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve an app with a real uvicorn on a free loopback port (in a thread); yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


POSTGRES_ENV = "MLW_TEST_POSTGRES_URL"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test: yields a URL whose search_path is that schema."""
    import uuid

    import sqlalchemy as sa

    schema = f"mlw_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


async def post_many(url: str, path: str, bodies: list[bytes], clients: int) -> list[tuple[int, int, Any]]:
    """POST every body as JSON from `clients` concurrent keep-alive connections (a lean HTTP/1.1 client,
    so the load test measures the server, not the client); returns (body index, status, parsed JSON)."""
    import asyncio
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)

    async def one(share: list[tuple[int, bytes]]) -> list[tuple[int, int, Any]]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        answers = []
        for index, body in share:
            head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
            length = next(int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length:"))
            answers.append((index, int(lines[0].split()[1]), json.loads(await reader.readexactly(length))))
        writer.close()
        await writer.wait_closed()
        return answers

    indexed = list(enumerate(bodies))
    shares = await asyncio.gather(*(one(indexed[i::clients]) for i in range(clients)))
    return [answer for share in shares for answer in share]


# --- requests to the served app (tests/service) ------------------------------------------------------

MAX_ROWS, MAX_BODY = 50, 64 * 1024  # the limits of the app tests/service/conftest.py serves


def detail(response: httpx2.Response) -> dict[str, Any]:
    """The first problem of a refusal."""
    first: dict[str, Any] = response.json()["detail"][0]
    return first


def record_with(tiny: Tiny, **changes: Any) -> dict[str, Any]:
    """A valid record with fields changed (the value `...` removes a field)."""
    record = dict(tiny.records(1)[0])
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return record


def csv_cells(record: dict[str, Any], tiny: Tiny) -> list[str]:
    """A record as CSV cells (missing as empty)."""
    return ["" if record[n] is None else str(record[n]) for n in tiny.contract.names]


def csv_text(records: list[dict[str, Any]], tiny: Tiny) -> str:
    """Records as CSV text with a header."""
    return "\n".join([",".join(tiny.contract.names), *[",".join(csv_cells(r, tiny)) for r in records]]) + "\n"


def assert_served_like_pipeline(loaded: LoadedModel, root: Path, records: list[dict[str, Any]], fast_path: str) -> None:
    """Served batch and single-row probabilities equal the pipeline's exactly; /model's fast path starts `fast_path`."""
    expected = loaded.pipeline.predict_proba(pd.DataFrame(records)[list(loaded.contract.names)])
    with running(create_app(loaded, params(), sqlite_url(root / "log.sqlite"))) as url:
        assert httpx2.get(f"{url}/model", timeout=10).json()["fast_path"].startswith(fast_path)
        batch = httpx2.post(f"{url}/predict", json=records, timeout=120).json()["predictions"]
        single = httpx2.post(f"{url}/predict", json=records[0], timeout=60).json()["predictions"]
    positive = str(loaded.pipeline.classes_[1])
    assert np.array_equal([row["probabilities"][positive] for row in batch], expected[:, 1])
    assert single[0]["probabilities"][positive] == expected[0, 1]
