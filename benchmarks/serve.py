"""Serving speed on loopback: the naive in-process floor, then the real service over HTTP.

Trains a pipeline on the shipped Adult data, registers it in a temporary registry, starts
`mlworkflow serve` (uvicorn, one process) on a free loopback port, and measures, in one run:
in-process `pipeline.predict_proba` for 1 row (the naive floor) and the fast path for 1 row;
single-row latency over HTTP (p50, p99; one client, keep-alive); requests/s with 16 concurrent
clients; the per-row cost of a 1,000-row batch. Targets: p50 ≤ 3 ms, p99 ≤ 10 ms, ≥ 1,000 req/s.
Every request is checked to answer 200 and the prediction log to hold one row per prediction.

Usage: .venv/bin/python benchmarks/serve.py [--family hist_gradient_boosting] [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlworkflow.bundle.contract import learn_contract
from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.core import families
from mlworkflow.params import PreprocessParams
from mlworkflow.records import BundleMetadata
from mlworkflow.service.predictor import Predictor
from mlworkflow.stages import deploy, preprocess

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "adult_train.csv.gz"
META = {"target": "income", "task": "binary", "classes": ["<=50K", ">50K"], "positive_class": ">50K"}


def train(family: str) -> tuple[Any, pd.DataFrame, Any]:
    """A pipeline fitted on the Adult training file, the cleaned frame, and its feature spec."""
    raw = pd.read_csv(DATA, skipinitialspace=True)
    settings = PreprocessParams()
    cleaned, _ = preprocess.clean(raw, META, settings)
    spec = preprocess.infer_spec(cleaned, META, settings)
    pipeline = families.make_pipeline(spec, family, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(cleaned[list(spec.features)], cleaned["income"])
    return pipeline, cleaned, spec


def metadata(spec: Any, family: str) -> BundleMetadata:
    """The bundle metadata of the benchmark model (threshold 0.5, no evaluation)."""
    return BundleMetadata(
        name="bench", target="income", task="binary", classes=list(spec.classes), positive_class=">50K", threshold=0.5,
        threshold_rule="max_f1", family=family, best_params={}, metric="roc_auc", metrics={}, groups=[],
    )


def register(pipeline: Any, cleaned: pd.DataFrame, spec: Any, root: Path) -> str:
    """Register the pipeline as bench@1 in a registry at root."""
    import skops.io as sio

    contract = learn_contract(cleaned, spec.numeric, spec.categorical)
    files = deploy.bundle_files(sio.dumps(pipeline), metadata(spec, type(pipeline[-1]).__name__), contract, "# bench\n")
    return Registry(root).register("bench", files).ref


def records(cleaned: pd.DataFrame, spec: Any, n: int) -> list[dict[str, Any]]:
    """n JSON records from the data (rows the contract accepts)."""
    contract = learn_contract(cleaned, spec.numeric, spec.categorical)
    return deploy.valid_records(cleaned.iloc[: n * 2], contract, n)


def in_process(pipeline: Any, cleaned: pd.DataFrame, spec: Any, repeats: int = 300) -> tuple[float, float]:
    """Median seconds of a 1-row pipeline.predict_proba (DataFrame) and of the fast path."""
    row = cleaned[list(spec.features)].iloc[[7]]
    naive = timings(lambda: pipeline.predict_proba(row), repeats)
    contract = learn_contract(cleaned, spec.numeric, spec.categorical)
    predictor = Predictor(pipeline, metadata(spec, type(pipeline[-1]).__name__), contract, 32)
    checked = predictor_rows(contract, records(cleaned, spec, 1))
    fast = timings(lambda: predictor.predict(checked), repeats)
    return naive, fast


def predictor_rows(contract: Any, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Checked rows for the predictor."""
    from mlworkflow.bundle.contract import Validator

    return Validator(contract, "reject").records(rows).rows


def timings(action: Any, repeats: int) -> float:
    """Median seconds of an action after a warm-up."""
    for _ in range(20):
        action()
    values = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        values.append(time.perf_counter() - began)
    return statistics.median(values)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(registry: Path, ref: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`mlworkflow serve` in a subprocess; returns once /health answers."""
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "serve", str(ROOT / "params" / "default.yaml"),
               "--registry", str(registry), "--model", ref, "--port", str(port),
               "--set", f"deploy.log_url={sqlite_url(log)}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLW_API_TOKEN", None)
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"server did not start: {server.stderr.read().decode() if server.stderr else ''}")


def http_request(path: str, body: bytes) -> bytes:
    """A keep-alive POST as raw bytes (built once, sent many times)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request, read the whole response; return the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def client(port: int, requests: list[bytes], latencies: list[float], statuses: list[int]) -> None:
    """One keep-alive connection sending its requests one after another."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        began = time.perf_counter()
        statuses.append(await exchange(reader, writer, request))
        latencies.append(time.perf_counter() - began)
    writer.close()


async def load(port: int, requests: list[bytes], clients: int) -> tuple[list[float], list[int], float]:
    """Spread requests over concurrent clients; latencies, statuses and wall seconds."""
    latencies: list[float] = []
    statuses: list[int] = []
    began = time.perf_counter()
    await asyncio.gather(*(client(port, requests[i::clients], latencies, statuses) for i in range(clients)))
    return latencies, statuses, time.perf_counter() - began


def run_load(port: int, requests: list[bytes], clients: int) -> tuple[list[float], float]:
    """Run a load, failing on any status but 200."""
    latencies, statuses, seconds = asyncio.run(load(port, requests, clients))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} requests failed (first status {bad[0]})")
    return latencies, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="hist_gradient_boosting", choices=families.FAMILIES)
    parser.add_argument("--requests", type=int, default=4000, help="single-row requests per measurement")
    args = parser.parse_args()
    pipeline, cleaned, spec = train(args.family)
    naive, fast = in_process(pipeline, cleaned, spec)
    rows = records(cleaned, spec, 1000)
    with tempfile.TemporaryDirectory(prefix="mlw-bench-") as folder:
        registry, log = Path(folder) / "models", Path(folder) / "log.sqlite"
        ref = register(pipeline, cleaned, spec, registry)
        port = free_port()
        server = start_server(registry, ref, port, log)
        try:
            singles = [http_request("/predict", json.dumps(rows[i % 200]).encode()) for i in range(args.requests)]
            run_load(port, singles[:500], 1)  # warm-up
            latencies, _ = run_load(port, singles, 1)
            _, seconds = run_load(port, singles * 2, 16)
            batch_latencies, _ = run_load(port, [http_request("/predict", json.dumps(rows).encode())] * 20, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        logged = PredictionLog(sqlite_url(log)).count()
    expected = 500 + 3 * args.requests + 20 * 1000
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    print(f"model: {args.family} pipeline fitted on {len(cleaned)} Adult rows; server: mlworkflow serve (uvicorn, 1 process)")
    print(f"{'in-process pipeline.predict_proba, 1 row (naive floor)':<58} {naive * 1000:8.2f} ms")
    print(f"{'in-process fast path, 1 row':<58} {fast * 1000:8.2f} ms")
    print(f"{'HTTP single row, 1 client: p50':<58} {p50:8.2f} ms   (target ≤ 3)")
    print(f"{'HTTP single row, 1 client: p99':<58} {p99:8.2f} ms   (target ≤ 10)")
    print(f"{'HTTP single row, 16 clients: requests/s':<58} {2 * args.requests / seconds:8.0f}      (target ≥ 1,000)")
    print(f"{'HTTP 1,000-row batch: per row':<58} {statistics.median(batch_latencies) * 1000:8.3f} µs")
    print(f"{'prediction log rows / predictions made':<58} {logged} / {expected}")
    if logged != expected:
        raise SystemExit("the prediction log does not hold one row per prediction")


if __name__ == "__main__":
    main()
