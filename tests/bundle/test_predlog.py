"""Tests of the prediction log on SQLite and PostgreSQL, and of the group-committing writer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mlworkflow.bundle import predlog


def row(prediction_id: str, **changes: Any) -> dict[str, Any]:
    """One prediction row."""
    return {
        "id": prediction_id, "request_id": prediction_id.split("-")[0], "created_at": predlog.now(),
        "model_name": "tiny", "model_version": "1", "inputs": {"age": 30.0, "city": None},
        "prediction": ">50K", "scores": {"<=50K": 0.25, ">50K": 0.75}, "flags": ["age: far"], "path": "fast", **changes,
    }


def test_rows_round_trip(log_url: str) -> None:
    log = predlog.PredictionLog(log_url)
    log.write([row("r1-0"), row("r1-1", prediction=3.5, scores=None, flags=[])])
    frame = log.frame()
    assert log.count() == 2 and list(frame["id"]) == ["r1-0", "r1-1"]
    first = frame.iloc[0]
    assert first["inputs"] == {"age": 30.0, "city": None}
    assert first["scores"] == {"<=50K": 0.25, ">50K": 0.75} and first["flags"] == ["age: far"]
    assert frame.iloc[1]["prediction"] == 3.5
    log.close()


def test_feedback_needs_a_known_prediction_and_is_recorded_once(log_url: str) -> None:
    log = predlog.PredictionLog(log_url)
    log.write([row("r1-0")])
    assert log.add_feedback("r1-0", "<=50K", "f1") >= 1
    with pytest.raises(predlog.DuplicateFeedback, match="already has feedback"):
        log.add_feedback("r1-0", ">50K", "f2")
    with pytest.raises(predlog.UnknownPrediction, match="no prediction with this id"):
        log.add_feedback("nope-0", ">50K", "f3")
    assert log.count("feedback") == 1
    assert log.frame("feedback").iloc[0]["label"] == "<=50K"
    log.close()


def test_a_failed_transaction_writes_nothing(log_url: str) -> None:
    log = predlog.PredictionLog(log_url)
    log.write([row("r1-0")])
    with pytest.raises(predlog.LogError, match=r"cannot write 2 prediction\(s\)"):
        log.write([row("r2-0"), row("r1-0")])  # the second violates the primary key
    assert log.count() == 1
    log.close()


def test_a_bad_url_is_a_log_error(tmp_path: Path) -> None:
    with pytest.raises(predlog.LogError, match="not a SQLAlchemy URL"):
        predlog.PredictionLog("not a url")
    with pytest.raises(predlog.LogError, match="cannot use"):
        predlog.PredictionLog("nosuchdialect://x/y")


def test_sqlite_log_uses_wal(tmp_path: Path) -> None:
    log = predlog.PredictionLog(predlog.sqlite_url(tmp_path / "log.sqlite"))
    with log.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    log.close()


async def write_many(writer: predlog.LogWriter, requests: int) -> None:
    await asyncio.gather(*(writer.write([row(f"q{i}-0"), row(f"q{i}-1")]) for i in range(requests)))


def test_the_writer_commits_concurrent_requests_together(log_url: str) -> None:
    log = predlog.PredictionLog(log_url)
    writer = predlog.LogWriter(log)
    writer.start()
    asyncio.run(write_many(writer, 300))
    writer.stop()
    assert log.count() == 600
    assert not writer.thread.is_alive()
    log.close()


def test_every_request_of_a_failed_commit_gets_the_error(tmp_path: Path) -> None:
    log = predlog.PredictionLog(predlog.sqlite_url(tmp_path / "log.sqlite"))
    writer = predlog.LogWriter(log)
    writer.start()

    async def clash() -> list[Any]:
        return await asyncio.gather(writer.write([row("x-0")]), writer.write([row("x-0")]), return_exceptions=True)

    outcomes = asyncio.run(clash())
    writer.stop()
    errors = [o for o in outcomes if isinstance(o, predlog.LogError)]
    assert errors and all("cannot write" in str(e) for e in errors)
    assert log.count() == outcomes.count(None)  # committed exactly for the requests told so


def test_a_stopped_writer_refuses(tmp_path: Path) -> None:
    writer = predlog.LogWriter(predlog.PredictionLog(predlog.sqlite_url(tmp_path / "log.sqlite")))
    with pytest.raises(predlog.LogError, match="not running"):
        asyncio.run(writer.write([row("a-0")]))
