"""All file and database I/O: reading sources, and the run's artifact folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlworkflow.errors import ArtifactError, DataError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content (values, index and column names)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()


def _read_file(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return pd.read_parquet(path)
    if name.endswith(CSV_SUFFIXES):
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(path, sep=sep, skipinitialspace=True)
    raise DataError(f"unknown file type; expected one of {CSV_SUFFIXES + PARQUET_SUFFIXES}", source=str(path))


def read_file(path: Path | str) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every failure into a DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    if path.stat().st_size == 0:
        raise DataError("file is empty", source=str(path))
    try:
        frame = _read_file(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError("file has no columns", source=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"cannot parse file: {type(exc).__name__}: {str(exc).strip()}", source=str(path)) from exc
    if frame.empty:
        raise DataError("file has a header but no rows", source=str(path))
    return frame


def _sql_text(query: str) -> str:
    """A bare (optionally schema-qualified) table name becomes SELECT * FROM it; anything else is SQL."""
    parts = query.strip().split(".")
    if all(part.replace("_", "").isalnum() for part in parts) and len(parts) <= 2:
        return "SELECT * FROM " + ".".join(f'"{part}"' for part in parts)
    return query


def _missing_sqlite_file(url: URL) -> bool:
    """SQLite would silently create a missing database file; treat it as missing instead."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not database.startswith("file:") and not Path(database).is_file()


def read_sql(url: str, query: str) -> pd.DataFrame:
    """Run a SQL query (or read a whole table by name) through SQLAlchemy."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except ArgumentError as exc:
        raise DataError(f"not a SQLAlchemy URL: {exc}", source=url) from exc
    source = parsed.render_as_string(hide_password=True)
    if _missing_sqlite_file(parsed):
        raise DataError("database file not found", source=source)
    engine = None
    try:
        engine = sqlalchemy.create_engine(parsed)
        with engine.connect() as connection:
            frame = pd.read_sql_query(sqlalchemy.text(_sql_text(query)), connection)
    except (SQLAlchemyError, pd.errors.DatabaseError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"SQL query failed: {type(exc).__name__}: {first}", source=source) from exc
    finally:
        if engine is not None:
            engine.dispose()
    if frame.empty:
        raise DataError("query returned no rows", source=source)
    return frame


def _json_default(value: Any) -> Any:
    """NumPy scalars become numbers (not strings); anything else unknown becomes its str()."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", None) == 0 else str(value)


@dataclass(frozen=True)
class Artifacts:
    """A run's artifact folder: the only channel between stages."""

    root: Path

    def path(self, name: str) -> Path:
        """Absolute path of an artifact file."""
        return Path(self.root) / name

    def write_frame(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a frame as Parquet."""
        target = self._prepare(name)
        frame.to_parquet(target, index=False)
        return target

    def read_frame(self, name: str, producer: str) -> pd.DataFrame:
        """Read a Parquet artifact written by `producer`."""
        return pd.read_parquet(self._existing(name, producer))

    def write_json(self, name: str, value: Any) -> Path:
        """Write JSON (sorted keys, so reruns diff cleanly)."""
        target = self._prepare(name)
        text = json.dumps(value, indent=2, sort_keys=True, default=_json_default)
        target.write_text(text + "\n", encoding="utf-8")
        return target

    def read_json(self, name: str, producer: str) -> Any:
        """Read a JSON artifact written by `producer`."""
        return json.loads(self._existing(name, producer).read_text(encoding="utf-8"))

    def _prepare(self, name: str) -> Path:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _existing(self, name: str, producer: str) -> Path:
        target = self.path(name)
        if not target.is_file():
            raise ArtifactError(str(target), producer)
        return target


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
        raise ArtifactError(str(path), "train")
    types = sio.get_untrusted_types(file=path) if trusted is None else trusted
    return sio.load(path, trusted=types)
