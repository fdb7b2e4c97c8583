"""The prediction log: every prediction and every feedback label, written transactionally via SQLAlchemy.

Two tables, read later by monitoring: `predictions` (one row per predicted record: its id, the
request id, time, model name and version, inputs, prediction, class scores, flags, and the path
that computed it) and `feedback` (the true label for an earlier prediction id, at most one each).
A SQLite file by default; any SQLAlchemy URL otherwise (PostgreSQL: `postgresql+psycopg://…`).

The service writes through `LogWriter`: requests hand their rows to one background thread, which
commits whatever has queued up in one transaction and only then lets the requests answer. Under
load, many requests share a commit; a request never answers before its rows are stored, and a
failed commit fails every request in it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from mlworkflow.errors import MlwError

METADATA = sa.MetaData()
PREDICTIONS = sa.Table(
    "predictions",
    METADATA,
    sa.Column("id", sa.String(48), primary_key=True),  # <request id>-<row>
    sa.Column("request_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_name", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(16), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("scores", sa.JSON, nullable=True),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Column("path", sa.String(16), nullable=False),
)
FEEDBACK = sa.Table(
    "feedback",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(48), sa.ForeignKey("predictions.id"), nullable=False, unique=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_id", sa.String(32), nullable=False),
)
MAX_BATCH = 1024  # rows queued by many requests, committed together


class LogError(MlwError):
    """The prediction log cannot be reached or written."""


class UnknownPrediction(MlwError):
    """Feedback names a prediction id the log does not hold."""


class DuplicateFeedback(MlwError):
    """Feedback for a prediction that already has a label."""


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve()}"


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL (readers never block the writer), durable enough commits, waits instead of 'database is locked'."""
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for the URL; a SQLite file's folder is created, and its connections tuned."""
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError as exc:
        raise LogError(f"log_url is not a SQLAlchemy URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(parsed)
    except (ImportError, ArgumentError) as exc:
        raise LogError(f"cannot use {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class PredictionLog:
    """The log's tables in one database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.where = self.engine.url.render_as_string(hide_password=True)
        try:
            METADATA.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise LogError(f"cannot create the log tables in {self.where}: {first_line(exc)}") from None

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert prediction rows in one transaction."""
        if not rows:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(PREDICTIONS.insert(), list(rows))
        except SQLAlchemyError as exc:
            raise LogError(f"cannot write {len(rows)} prediction(s) to {self.where}: {first_line(exc)}") from None

    def add_feedback(self, prediction_id: str, label: Any, request_id: str) -> int:
        """Record the true label of a prediction; returns the feedback id."""
        row = {"prediction_id": prediction_id, "label": label, "created_at": now(), "request_id": request_id}
        try:
            with self.engine.begin() as connection:
                known = connection.execute(sa.select(PREDICTIONS.c.id).where(PREDICTIONS.c.id == prediction_id))
                if known.first() is None:
                    raise UnknownPrediction("no prediction with this id in the log")
                result = connection.execute(FEEDBACK.insert().returning(FEEDBACK.c.id), row)
                return int(result.scalar_one())
        except IntegrityError:
            raise DuplicateFeedback("this prediction already has feedback (one label per prediction)") from None
        except SQLAlchemyError as exc:
            raise LogError(f"cannot write feedback to {self.where}: {first_line(exc)}") from None

    def probe(self) -> None:
        """Check that the log takes a prediction row: insert one and roll it back (LogError if it cannot)."""
        row = {"id": f"probe-{uuid.uuid4().hex}", "request_id": "probe", "created_at": now(), "model_name": "probe",
               "model_version": "0", "inputs": {}, "prediction": 0, "scores": None, "flags": [], "path": "probe"}
        try:
            with self.engine.connect() as connection, connection.begin() as transaction:
                connection.execute(PREDICTIONS.insert(), [row])
                transaction.rollback()
        except SQLAlchemyError as exc:
            raise LogError(f"cannot write to {self.where}: {first_line(exc)}") from None

    def count(self, table: str = "predictions") -> int:
        """Rows in the predictions or feedback table."""
        chosen = PREDICTIONS if table == "predictions" else FEEDBACK
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(chosen)).scalar_one())

    def frame(self, table: str = "predictions", limit: int | None = None) -> pd.DataFrame:
        """A table's rows, oldest first."""
        chosen = PREDICTIONS if table == "predictions" else FEEDBACK
        query = sa.select(chosen).order_by(chosen.c.created_at, chosen.c.id).limit(limit)
        with self.engine.connect() as connection:
            return pd.DataFrame(connection.execute(query).mappings().all(), columns=list(chosen.c.keys()))

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (database errors run over many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the group-committing writer ---------------------------------------------------------------------


@dataclass
class Pending:
    """Rows waiting for a commit, and how to tell the waiting request."""

    rows: Sequence[Mapping[str, Any]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None] = field(repr=False)


def settle(futures: Sequence[asyncio.Future[None]], error: LogError | None) -> None:
    """Resolve the futures of one commit (in their event loop); a request that gave up is skipped."""
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class LogWriter:
    """Commits log rows from many requests together, in one background thread."""

    def __init__(self, log: PredictionLog) -> None:
        self.log = log
        self.queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.run, name="mlw-prediction-log", daemon=True)
        self.last_error: LogError | None = None  # the latest commit's outcome (readiness, while a probe waits)

    def start(self) -> None:
        """Start the writer thread."""
        self.thread.start()

    async def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue rows and wait until they are committed (LogError if the commit failed)."""
        if not self.thread.is_alive():
            raise LogError("the prediction log writer is not running")
        loop = asyncio.get_running_loop()
        pending = Pending(rows, loop, loop.create_future())
        self.queue.put(pending)
        await pending.future

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def run(self) -> None:
        """The thread: take everything queued, commit it in one transaction, tell the requests."""
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch, stop = self.drain(first)
            self.commit(batch)
            if stop:
                return

    def drain(self, first: Pending) -> tuple[list[Pending], bool]:
        """The first pending item and whatever else is queued (up to MAX_BATCH rows); whether to stop."""
        batch, size = [first], len(first.rows)
        while size < MAX_BATCH:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return batch, False
            if item is None:
                return batch, True
            batch.append(item)
            size += len(item.rows)
        return batch, False

    def commit(self, batch: Sequence[Pending]) -> None:
        """One transaction for the batch; every request in it learns the outcome."""
        error: LogError | None = LogError("the prediction log writer failed")  # until the commit succeeds
        try:
            self.log.write([row for pending in batch for row in pending.rows])
            error = None
        except LogError as exc:
            error = exc
        finally:
            self.last_error = error
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for pending in batch:
                by_loop.setdefault(pending.loop, []).append(pending.future)
            for loop, futures in by_loop.items():
                if not loop.is_closed():
                    loop.call_soon_threadsafe(settle, futures, error)


# --- reading a time window back (monitoring) ---------------------------------------------------------


def read_window(
    log: PredictionLog,
    since: datetime | None = None,
    until: datetime | None = None,
    name: str | None = None,
    version: str | None = None,
) -> pd.DataFrame:
    """Predictions made in [since, until) (of one model name and version, if given), oldest first.

    One row per prediction: the `predictions` columns plus `label` and `label_at` from its
    feedback (missing where no label came back). Times are compared in UTC.
    """
    joined = PREDICTIONS.outerjoin(FEEDBACK, FEEDBACK.c.prediction_id == PREDICTIONS.c.id)
    query = sa.select(PREDICTIONS, FEEDBACK.c.label, FEEDBACK.c.created_at.label("label_at")).select_from(joined)
    conditions = [
        PREDICTIONS.c.created_at >= since if since is not None else None,
        PREDICTIONS.c.created_at < until if until is not None else None,
        PREDICTIONS.c.model_name == name if name is not None else None,
        PREDICTIONS.c.model_version == version if version is not None else None,
    ]
    query = query.where(*[c for c in conditions if c is not None]).order_by(PREDICTIONS.c.created_at, PREDICTIONS.c.id)
    columns = [*PREDICTIONS.c.keys(), "label", "label_at"]
    try:
        with log.engine.connect() as connection:
            return pd.DataFrame(connection.execute(query).mappings().all(), columns=columns)
    except SQLAlchemyError as exc:
        raise LogError(f"cannot read the prediction log {log.where}: {first_line(exc)}") from None
