"""End to end with day-first dates: a file read with data.read.date_format ('03/04/2024 10:00' is 3 April),
a model deployed from it, and served raw rows (JSON and CSV) predicted exactly as the pipeline predicts the
frame the data stage's reading gives; parsed without the format (month first) the predictions differ."""

from __future__ import annotations

import io as text_io
import shutil
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest

from mlworkflow import io
from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy
from tests import runkit as kit_run
from tests import servekit as kit

pytestmark = pytest.mark.e2e

PARAMS = Path(__file__).resolve().parents[1] / "params" / "day_first.yaml"
DATE_FORMAT = "%d/%m/%Y %H:%M"


def bookings(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Trips booked some days ahead; the price follows the travel month, the lead days and the distance."""
    rng = np.random.default_rng(seed)
    booked = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24 * 60, rows), unit="min")
    lead = pd.to_timedelta(rng.integers(0, 40 * 24 * 60, rows), unit="min")
    travelled = booked + lead
    distance = rng.gamma(2.0, 20.0, rows).round(1)
    price = 10 + 0.8 * distance + 6.0 * travelled.month - 0.5 * lead.days + rng.normal(0, 1.0, rows)
    return pd.DataFrame({"booked": booked.strftime(DATE_FORMAT), "travelled": travelled.strftime(DATE_FORMAT),
                         "distance": distance, "price": price.round(2)})


@pytest.fixture(scope="module")
def day_first(tmp_path_factory: pytest.TempPathFactory) -> kit_run.Run:
    """One run of tests/params/day_first.yaml on a synthetic day-first file; (process, root)."""
    root = tmp_path_factory.mktemp("day_first")
    bookings().to_csv(root / "day_first.csv", index=False)
    shutil.copy(PARAMS, root / PARAMS.name)
    return kit_run.run_cli(root / PARAMS.name, root), root


def test_the_data_stage_reads_day_first_and_the_contract_keeps_the_format(day_first: kit_run.Run) -> None:
    done, root = day_first
    assert done.returncode == 0, done.stderr[-3000:]
    assert kit_run.artifact(root, "data.json")["reading"]["dates"] == {"booked": DATE_FORMAT, "travelled": DATE_FORMAT}
    assert kit_run.artifact(root, "preprocess.json")["datetime"] == ["booked", "travelled"]
    contract = Registry(root / "models").load("day_first@champion").contract
    assert {c.name: c.date_format for c in contract.columns if c.timestamp} == {"booked": DATE_FORMAT,
                                                                                  "travelled": DATE_FORMAT}


def test_served_raw_rows_are_predicted_as_the_pipeline_predicts_the_parsed_frame(day_first: kit_run.Run) -> None:
    done, root = day_first
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = Registry(root / "models").load("day_first@champion")
    names = list(loaded.contract.names)
    raw = bookings(60, seed=11).drop(columns="price")
    (root / "new.csv").write_text(raw.to_csv(index=False), encoding="utf-8")
    records = deploy.valid_records(raw, loaded.contract, 30)
    assert len(records) == 30 and records[0]["booked"] == raw.loc[0, "booked"]  # sent as the file writes them
    parsed = io.read_file(root / "new.csv", loaded.contract.read)  # as the data stage reads a file
    expected = loaded.pipeline.predict(parsed[names].head(30))
    month_first = loaded.pipeline.predict(raw[names].head(30))  # the strings parsed by inference, no format
    assert not np.allclose(month_first, expected)  # so the format matters: 03/04 is not 4 March
    app = create_app(loaded, kit.params(), sqlite_url(root / "log.sqlite"))
    with kit.running(app) as url:
        batch = httpx2.post(f"{url}/predict", json=records, timeout=60).json()["predictions"]
        answer = httpx2.post(f"{url}/predict/csv", content=raw.head(30).to_csv(index=False).encode(),
                             headers={"content-type": "text/csv"}, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    assert np.array_equal([row["prediction"] for row in batch], expected)
    assert np.array_equal(pd.read_csv(text_io.StringIO(answer.text))["prediction"].to_numpy(), expected)
