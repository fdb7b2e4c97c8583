"""All file and database I/O: reading sources, and the run's artifact folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from mlworkflow import legacy
from mlworkflow.core import sql
from mlworkflow.errors import ArtifactError, DataError, RecordError
from mlworkflow.params import ReadOptions
from mlworkflow.records import MODEL, Artifact, artifact_of

if TYPE_CHECKING:  # pandas and the reader are imported where a frame is read: reading a record needs neither
    import pandas as pd
    from sqlalchemy.engine import URL, Engine

    from mlworkflow import reading

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
R = TypeVar("R", bound=BaseModel)
DEFAULT_READ = ReadOptions()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content (values, index and column names)."""
    import pandas as pd

    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()


def _source_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataError(f"unknown file type; expected one of {CSV_SUFFIXES + PARQUET_SUFFIXES}", source=str(path))


def read_header(path: Path | str, options: ReadOptions = DEFAULT_READ) -> list[str]:
    """A CSV or Parquet file's column names, read without its rows (params name columns: a cheap check)."""
    import pandas as pd

    from mlworkflow import reading

    path = Path(path)
    try:
        if _source_kind(path) == "parquet":
            import pyarrow.parquet as pq

            return [str(column) for column in pq.read_schema(path).names]
        sep, _how = reading.separator(path, options)
        frame = pd.read_csv(path, sep=sep, skipinitialspace=True, nrows=0, encoding=options.encoding)
        return [str(column) for column in frame.columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"cannot read the header: {type(exc).__name__}: {str(exc).strip()}", source=str(path)) from exc


def read_table(path: Path | str, options: ReadOptions = DEFAULT_READ) -> reading.Parsed:
    """Read a CSV or Parquet file with the reader options: the frame, how it was read, each row's line."""
    import pandas as pd

    from mlworkflow import reading

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    if path.stat().st_size == 0:
        raise DataError("file is empty", source=str(path))
    try:
        if _source_kind(path) == "parquet":
            parsed = reading.typed_source(pd.read_parquet(path), options, "parquet", str(path))
        else:
            parsed = reading.read_csv(path, options)
    except pd.errors.EmptyDataError as exc:
        raise DataError("file has no columns", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        reason = f"is not {options.encoding} text ({exc.reason} at byte {exc.start})"
        hint = "; set data.read.encoding to the file's encoding, e.g. 'latin-1' or 'cp1252'"
        raise DataError(reason + hint, source=str(path)) from None
    except (pd.errors.ParserError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"cannot parse file: {type(exc).__name__}: {str(exc).strip()}", source=str(path)) from exc
    if parsed.frame.empty:
        raise DataError("file has a header but no rows", source=str(path))
    return parsed


def read_file(path: Path | str, options: ReadOptions = DEFAULT_READ) -> pd.DataFrame:
    """Read a CSV or Parquet file with the reader options, every failure a DataError naming the file."""
    return read_table(path, options).frame


def _missing_sqlite_file(url: URL) -> bool:
    """SQLite would silently create a missing database file; treat it as missing instead."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not database.startswith("file:") and not Path(database).is_file()


def read_only_engine(url: URL) -> Engine:
    """An engine that cannot change its database: SQLite opened read-only (mode=ro), PostgreSQL in
    read-only transactions; any other database relies on the query check and a rolled-back transaction."""
    import sqlite3

    import sqlalchemy

    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        engine = sqlalchemy.create_engine(url)
        return engine.execution_options(postgresql_readonly=True) if url.get_backend_name() == "postgresql" else engine
    if database.startswith("file:"):
        return sqlalchemy.create_engine(url.update_query_dict({"mode": "ro", "uri": "true"}))
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    return sqlalchemy.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def read_sql_table(url: str, query: str, options: ReadOptions = DEFAULT_READ) -> reading.Parsed:
    """Run one query (or read a whole table by name) through a read-only SQLAlchemy connection."""
    import pandas as pd
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from mlworkflow import reading

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except ArgumentError as exc:
        raise DataError(f"not a SQLAlchemy URL: {exc}", source=url) from exc
    source = parsed.render_as_string(hide_password=True)
    if (problem := sql.statement_problem(query)) is not None:
        raise DataError(f"data.sql_query: expected {problem}", source=source)
    if _missing_sqlite_file(parsed):
        raise DataError("database file not found", source=source)
    engine = None
    try:
        engine = read_only_engine(parsed)
        with engine.connect() as connection:
            frame = pd.read_sql_query(sqlalchemy.text(sql.table_query(query)), connection)
            connection.rollback()  # nothing the query did is ever committed
    except (SQLAlchemyError, pd.errors.DatabaseError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"SQL query failed: {type(exc).__name__}: {first}", source=source) from exc
    finally:
        if engine is not None:
            engine.dispose()
    if frame.empty:
        raise DataError("query returned no rows", source=source)
    return reading.typed_source(frame, options, "sql", source)


def read_sql(url: str, query: str, options: ReadOptions = DEFAULT_READ) -> pd.DataFrame:
    """Run one query (or read a whole table by name) through a read-only connection: the frame."""
    return read_sql_table(url, query, options).frame


def _json_default(value: Any) -> Any:
    """NumPy scalars become numbers (not strings); anything else unknown becomes its str()."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", None) == 0 else str(value)


@dataclass(frozen=True)
class Artifacts:
    """A run's artifact folder, the only channel between stages: every file is an entry of the catalogue."""

    root: Path

    def path(self, entry: Artifact) -> Path:
        """Absolute path of an artifact file."""
        return Path(self.root) / entry.name

    def write_frame(self, entry: Artifact, frame: pd.DataFrame) -> Path:
        """Write a frame as Parquet."""
        target = self._prepare(entry)
        frame.to_parquet(target, index=False)
        return target

    def read_frame(self, entry: Artifact) -> pd.DataFrame:
        """Read a Parquet artifact; an ArtifactError names the stage to run when it is missing."""
        import pandas as pd

        return pd.read_parquet(self._existing(entry))

    def write(self, record: BaseModel) -> Path:
        """Write a stage's record as JSON (sorted keys, so reruns diff cleanly) under its catalogue name."""
        target = self._prepare(artifact_of(type(record)))
        text = json.dumps(record.model_dump(), indent=2, sort_keys=True, default=_json_default)
        target.write_text(text + "\n", encoding="utf-8")
        return target

    def read(self, kind: type[R]) -> R:
        """Read a stage's record; a missing file is an ArtifactError, a field that does not fit a RecordError."""
        entry = artifact_of(kind)
        return parse_record(self._existing(entry), kind, entry.stage)

    def find(self, kind: type[R]) -> R | None:
        """A stage's record, or None when the stage has not written it (yet)."""
        return self.read(kind) if self.path(artifact_of(kind)).is_file() else None

    def write_model(self, estimator: Any) -> Path:
        """Save the fitted pipeline as model.skops."""
        return write_model(self._prepare(MODEL), estimator)

    def read_model(self) -> Any:
        """Load model.skops (the types skops lists for it are trusted: this run wrote it)."""
        return read_model(self._existing(MODEL))

    def _prepare(self, entry: Artifact) -> Path:
        target = self.path(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _existing(self, entry: Artifact) -> Path:
        target = self.path(entry)
        if not target.is_file():
            raise ArtifactError(str(target), entry.stage)
        return target


def _field(error: Mapping[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top)"


def record_error(path: Path, stage: str, exc: ValidationError) -> RecordError:
    """The first problem of a record as a RecordError: a missing field first (with any unknown ones beside it)."""
    errors = exc.errors()
    missing = [e for e in errors if e["type"] == "missing"]
    unknown = [_field(e) for e in errors if e["type"] == "extra_forbidden"]
    if missing:
        besides = f" (the file has {', '.join(repr(u) for u in unknown)} instead)" if unknown else ""
        return RecordError(str(path), stage, _field(missing[0]), f"is missing{besides}")
    first = errors[0]
    if first["type"] == "extra_forbidden":
        return RecordError(str(path), stage, _field(first), "is not a field of the record")
    return RecordError(str(path), stage, _field(first), f"is not valid: {first['msg']}")


def parse_record(path: Path, kind: type[R], stage: str) -> R:
    """A record file parsed into its model, every failure a RecordError naming the file, field and stage."""
    return record_from(path.read_bytes(), path, kind, stage)


def record_from(data: bytes, path: Path, kind: type[R], stage: str) -> R:
    """A record's bytes, read from `path`, parsed into its model; every failure a RecordError as parse_record's."""
    try:
        content = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(str(path), stage, "(file)", f"is not valid JSON: {exc}") from None
    try:
        return kind.model_validate(content)
    except ValidationError as exc:
        raise record_error(path, stage, exc) from None


def write_model(path: Path, estimator: Any) -> Path:
    """Save a fitted estimator as a skops file (never a pickle)."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(estimator, path)
    return path


def read_model(path: Path, trusted: list[str] | None = None) -> Any:
    """Load a skops file this run wrote; `trusted` defaults to the types skops lists for it."""
    import skops.io as sio

    if not path.is_file():
        raise ArtifactError(str(path), MODEL.stage)
    data = legacy.modernize(path.read_bytes())  # a model an older version wrote records names since moved
    types = sio.get_untrusted_types(data=data) if trusted is None else legacy.current_names(trusted)
    return sio.loads(data, trusted=types)
