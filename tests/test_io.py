"""All file and database I/O: reading sources (and every way that fails), artifacts, hashes."""

from __future__ import annotations

import gzip
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from mlworkflow import io
from mlworkflow.errors import ArtifactError, DataError, RecordError
from mlworkflow.records import (
    DEPLOY,
    MODEL,
    RAW,
    TRAIN,
    DataRecord,
    DeployRecord,
    EvaluateRecord,
    MonitorRecord,
    PreprocessRecord,
    SelectRecord,
    TrainRecord,
)

FRAME = pd.DataFrame({"x": [1, 2, 3], "colour": ["red", "blue", None], "y": ["a", "b", "a"]})


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def sqlite_file(tmp_path: Path, frame: pd.DataFrame = FRAME, table: str = "people") -> str:
    """A real SQLite database file with one table, made through SQLAlchemy."""
    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sqlalchemy.create_engine(url)
    frame.to_sql(table, engine, index=False)
    engine.dispose()
    return url


# --- read_file -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.tsv", "d.parquet", "d.pq"])
def test_read_file_round_trips_every_format(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith((".parquet", ".pq")):
        FRAME.to_parquet(path, index=False)
    else:
        FRAME.to_csv(path, index=False, sep="\t" if name.endswith(".tsv") else ",")
    frame = io.read_file(path)
    assert list(frame.columns) == ["x", "colour", "y"]
    assert frame["x"].tolist() == [1, 2, 3]
    assert frame["colour"].isna().tolist() == [False, False, True]


def test_read_file_accepts_a_string_path_and_strips_spaces_after_commas(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "a, b\n1, x\n2, y\n")
    frame = io.read_file(str(path))
    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == ["x", "y"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="file not found") as caught:
        io.read_file(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        io.read_file(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", "", "file is empty"),
        ("blank.csv", "\n\n\n", "file has no columns"),
        ("header.csv", "a,b\n", "file has a header but no rows"),
        ("ragged.csv", "a,b\n1,2\n3,4,5,6\n", "line 3 has 4 fields but the header has 2"),
        ("short.csv", "a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields but the header has 3"),
        ("binary.csv", bytes(range(256)) * 4, "is not utf-8 text"),
        ("latin1.csv", "name\ncaf\xe9\n".encode("latin-1"), "is not utf-8 text (invalid continuation byte at byte 8); set data.read.encoding"),
        ("plain.csv.gz", b"a,b\n1,2\n", "cannot parse file: BadGzipFile"),
        ("cut.csv.gz", gzip.compress(b"a,b\n1,2\n" * 2000, mtime=0)[:60], "cannot parse file"),
        ("bad.parquet", b"PAR1 certainly not parquet", "cannot parse file: ArrowInvalid"),
        ("table.json", "{}", "unknown file type"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 and value.isprintable() else "content",
)
def test_unreadable_files_raise_data_error_naming_file_and_reason(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as caught:
        io.read_file(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)


def test_header_only_parquet_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    FRAME.head(0).to_parquet(path)
    with pytest.raises(DataError, match="header but no rows"):
        io.read_file(path)


# --- read_sql ------------------------------------------------------------------------------------


def test_read_sql_runs_a_query_on_a_real_sqlite_file(tmp_path: Path) -> None:
    url = sqlite_file(tmp_path)
    frame = io.read_sql(url, "SELECT x, y FROM people WHERE x > 1 ORDER BY x")
    assert frame.to_dict("list") == {"x": [2, 3], "y": ["b", "a"]}


@pytest.mark.parametrize("query", ["people", "  people  ", "main.people"])
def test_read_sql_reads_a_whole_table_by_name(tmp_path: Path, query: str) -> None:
    frame = io.read_sql(sqlite_file(tmp_path), query)
    assert frame.shape == (3, 3)
    assert frame["colour"].isna().sum() == 1


def test_read_sql_quotes_table_names_that_are_keywords(tmp_path: Path) -> None:
    assert io.read_sql(sqlite_file(tmp_path, table="select"), "select").shape == (3, 3)


def test_bad_sql_is_a_data_error_with_the_database_reason(tmp_path: Path) -> None:
    url = sqlite_file(tmp_path)
    with pytest.raises(DataError, match=r"SQL query failed: .*syntax error") as caught:
        io.read_sql(url, "SELECT x FROM people WHERE x = = 1")
    assert caught.value.source == url
    assert "\n" not in str(caught.value)


def test_unknown_table_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such table: nobody"):
        io.read_sql(sqlite_file(tmp_path), "nobody")


def test_query_without_rows_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="query returned no rows"):
        io.read_sql(sqlite_file(tmp_path), "SELECT * FROM people WHERE x > 10")


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(DataError, match="database file not found"):
        io.read_sql(f"sqlite:///{path}", "people")
    assert not path.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [("not a url", "not a SQLAlchemy URL"), ("nosuchdialect://host/db", "NoSuchModuleError")],
)
def test_bad_urls_are_data_errors(url: str, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        io.read_sql(url, "t")


def test_sql_errors_never_show_the_password() -> None:
    with pytest.raises(DataError) as caught:
        io.read_sql("nosuchdialect://me:s3cret@host/db", "t")
    assert "s3cret" not in str(caught.value)
    assert "me:***@host" in str(caught.value)


def test_in_memory_sqlite_is_allowed() -> None:
    assert io.read_sql("sqlite://", "SELECT 1 AS one").to_dict("list") == {"one": [1]}


# --- hashes --------------------------------------------------------------------------------------


def test_file_sha256_is_the_sha_of_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "f.bin", b"abc")
    assert io.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_frame_sha256_depends_on_values_index_and_names() -> None:
    base = io.frame_sha256(FRAME)
    assert base == io.frame_sha256(FRAME.copy())
    assert len(base) == 64
    assert base != io.frame_sha256(FRAME.assign(x=[1, 2, 4]))
    assert base != io.frame_sha256(FRAME.rename(columns={"x": "z"}))
    assert base != io.frame_sha256(FRAME.iloc[::-1])


# --- Artifacts -----------------------------------------------------------------------------------


RECORDS = Path(__file__).parent / "fixtures" / "records"


def test_artifacts_round_trip_frames_and_records(tmp_path: Path) -> None:
    store = io.Artifacts(tmp_path / "run" / "artifacts")
    written = store.write_frame(RAW, FRAME)
    assert written == tmp_path / "run" / "artifacts" / "raw.parquet"
    pd.testing.assert_frame_equal(store.read_frame(RAW), FRAME)
    record = DeployRecord.model_validate_json((RECORDS / "deploy.json").read_text(encoding="utf-8"))
    assert store.write(record) == store.path(DEPLOY) and store.read(DeployRecord) == record
    assert store.path(DEPLOY).read_text(encoding="utf-8").startswith('{\n  "aliases"')
    assert store.find(EvaluateRecord) is None and store.find(DeployRecord) == record


def test_records_keep_numpy_numbers_as_numbers(tmp_path: Path) -> None:
    store = io.Artifacts(tmp_path)
    content = json.loads((RECORDS / "train.json").read_text(encoding="utf-8"))
    content["trials"] = [{"trial": np.int64(3), "score": np.float64(0.25), "path": Path("a")}]
    store.write(TrainRecord.model_validate(content))
    written = json.loads(store.path(TRAIN).read_text(encoding="utf-8"))
    assert written["trials"] == [{"trial": 3, "score": 0.25, "path": "a"}]


def test_missing_artifact_names_the_producing_stage(tmp_path: Path) -> None:
    store = io.Artifacts(tmp_path)
    with pytest.raises(ArtifactError, match="run stage 'data' first") as caught:
        store.read_frame(RAW)
    assert caught.value.path == str(tmp_path / "raw.parquet")
    with pytest.raises(ArtifactError, match="run stage 'data' first"):
        store.read(DataRecord)
    with pytest.raises(ArtifactError, match="run stage 'train' first"):
        store.read_model()


def damaged(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> io.Artifacts:
    content = json.loads((RECORDS / name).read_text(encoding="utf-8"))
    change(content)
    (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    return io.Artifacts(tmp_path)


def test_a_missing_field_names_the_file_the_field_and_the_stage(tmp_path: Path) -> None:
    store = damaged(tmp_path, "evaluate.json", lambda c: c.pop("threshold_rule"))
    with pytest.raises(RecordError, match=r"evaluate\.json: field 'threshold_rule' is missing; .*stage 'evaluate'") as caught:
        store.read(EvaluateRecord)
    error = caught.value
    assert (error.path, error.field, error.producer) == (str(tmp_path / "evaluate.json"), "threshold_rule", "evaluate")
    assert isinstance(error, ArtifactError)


def test_a_renamed_field_names_the_old_name_and_the_new(tmp_path: Path) -> None:
    store = damaged(tmp_path, "select.json", lambda c: c.update(chosen_families=c.pop("chosen")))
    with pytest.raises(RecordError, match=r"select\.json: field 'chosen' is missing \(the file has 'chosen_families' instead\)"):
        store.read(SelectRecord)
    nested = damaged(tmp_path, "monitor.json", lambda c: c["performance"].update(basis_name=c["performance"].pop("basis")))
    with pytest.raises(RecordError, match=r"field 'performance\.basis' is missing.*stage 'monitor'"):
        nested.read(MonitorRecord)


def test_an_unknown_field_or_a_wrong_value_is_a_record_error(tmp_path: Path) -> None:
    store = damaged(tmp_path, "deploy.json", lambda c: c.update(colour="blue"))
    with pytest.raises(RecordError, match=r"field 'colour' is not a field of the record; .*stage 'deploy'"):
        store.read(DeployRecord)
    wrong = damaged(tmp_path, "monitor.json", lambda c: c.update(verdict="MAYBE"))
    with pytest.raises(RecordError, match=r"field 'verdict' is not valid: Input should be 'OK', 'WARN' or 'RETRAIN'"):
        wrong.read(MonitorRecord)
    (tmp_path / "data.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RecordError, match=r"data\.json: field '\(file\)' is not valid JSON"):
        store.read(DataRecord)


def test_a_preprocess_record_without_features_names_the_rule(tmp_path: Path) -> None:
    store = damaged(tmp_path, "preprocess.json", lambda c: c.update(numeric=[], categorical=[]))
    with pytest.raises(RecordError, match=r"preprocess\.json: .*at least one numeric, categorical or text feature; .*'preprocess'"):
        store.read(PreprocessRecord)


def test_a_record_error_survives_pickle(tmp_path: Path) -> None:
    error = RecordError(str(tmp_path / "train.json"), "train", "family", "is missing")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and (again.path, again.producer, again.field, again.problem) == (
        error.path, "train", "family", "is missing"
    )


def test_the_model_file_round_trips(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    store = io.Artifacts(tmp_path)
    assert store.write_model(model) == store.path(MODEL)
    assert store.read_model().predict([[3.0]]).tolist() == [1]


def test_importing_io_creates_nothing(tmp_path: Path) -> None:
    io.Artifacts(tmp_path / "never")
    assert not (tmp_path / "never").exists()


# --- read-only SQL (issue 10.6) ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def people_db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database holding table `people` (FRAME): a SQLite file, or a PostgreSQL schema (skipped without a server)."""
    import os

    from tests import servekit as kit

    if request.param == "sqlite":
        yield sqlite_file(tmp_path)
        return
    url = os.environ.get(kit.POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {kit.POSTGRES_ENV} to a PostgreSQL URL (.ci/run starts a server and sets it)")
    with kit.postgres_schema(url) as schema_url:
        engine = sqlalchemy.create_engine(schema_url)
        FRAME.to_sql("people", engine, index=False)
        engine.dispose()
        yield schema_url


def people_rows(url: str) -> list[tuple[Any, ...]]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(r) for r in connection.execute(sqlalchemy.text("SELECT * FROM people ORDER BY x"))]
    engine.dispose()
    return rows


@pytest.mark.parametrize("query", ["DROP TABLE people", "DELETE FROM people", "UPDATE people SET x = 0",
                                   "SELECT 1; DROP TABLE people", "INSERT INTO people VALUES (9, 'x', 'y')",
                                   "CREATE TABLE other AS SELECT * FROM people", "PRAGMA writable_schema = 1"])
def test_a_statement_that_is_not_a_query_is_refused_and_changes_nothing(people_db: str, query: str) -> None:
    before = people_rows(people_db)
    with pytest.raises(DataError, match=r"data\.sql_query: expected one query \(SELECT or WITH … SELECT\)"):
        io.read_sql(people_db, query)
    assert people_rows(people_db) == before == [(1, "red", "a"), (2, "blue", "b"), (3, None, "a")]


def test_a_write_hidden_in_a_query_fails_on_the_read_only_connection(people_db: str) -> None:
    if people_db.startswith("sqlite"):
        engine = io.read_only_engine(sqlalchemy.engine.make_url(people_db))  # SQLite has no writing CTE: go direct
        with engine.connect() as connection, pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"):
            connection.execute(sqlalchemy.text("DELETE FROM people"))
        engine.dispose()
    else:
        with pytest.raises(DataError, match="read-only transaction"):
            io.read_sql(people_db, "WITH gone AS (DELETE FROM people RETURNING *) SELECT * FROM gone")
    assert len(people_rows(people_db)) == 3


def test_reading_a_sqlite_file_leaves_its_bytes_unchanged(tmp_path: Path) -> None:
    url = sqlite_file(tmp_path)
    before = io.file_sha256(tmp_path / "data.db")
    assert io.read_sql(url, "people").shape == (3, 3)
    assert io.file_sha256(tmp_path / "data.db") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.db"]


def test_the_params_refuse_a_sql_query_that_is_not_a_query(tmp_path: Path) -> None:
    from mlworkflow.errors import ParamsError
    from mlworkflow.params import validate

    raw = {"run": {"name": "x"}, "data": {"sql_url": sqlite_file(tmp_path), "sql_query": "DROP TABLE people", "target": "y"}}
    with pytest.raises(ParamsError, match=r"key 'data\.sql_query': expected one query .* found a DROP statement"):
        validate(raw, "p.yaml", tmp_path)


# --- reader options and silent misreads (issues 10.8, 10.9, 11.1) ------------------------------------------


def test_the_separator_is_sniffed_and_reported(tmp_path: Path) -> None:
    parsed = io.read_table(write(tmp_path / "semi.csv", "a;b;y\n1;x;0\n2;z;1\n"))
    assert parsed.frame.to_dict("list") == {"a": [1, 2], "b": ["x", "z"], "y": [0, 1]}
    assert (parsed.report.sep, parsed.report.sep_from, parsed.report.format) == (";", "sniffed", "csv")
    assert parsed.lines.tolist() == [2, 3]


def test_reader_options_are_applied_as_pandas_names_them(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    text = "when|amount|alley|y\n31/01/2026|1.234,5|NA|0\n01/02/2026|7,25|none|1\n"
    path = write(tmp_path / "eu.txt", text.encode("cp1252").decode("cp1252"))
    options = ReadOptions(sep="|", thousands=".", decimal=",", keep_default_na=False, na_values=("none",),
                          parse_dates=("when",), date_format="%d/%m/%Y")
    parsed = io.read_table(path, options)
    assert parsed.frame["amount"].tolist() == [1234.5, 7.25]
    assert parsed.frame["alley"].tolist()[0] == "NA" and pd.isna(parsed.frame["alley"].tolist()[1])
    assert str(parsed.frame["when"].dtype).startswith("datetime64") and parsed.frame["when"][0].month == 1
    assert parsed.report.dates == {"when": "%d/%m/%Y"} and parsed.report.missing == ["none"]
    assert parsed.report.sep_from == "given"


def test_a_latin1_file_reads_with_its_encoding(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    path = write(tmp_path / "l.csv", "name,y\ncafé,1\nthé,0\n".encode("latin-1"))
    assert io.read_file(path, ReadOptions(encoding="latin-1"))["name"].tolist() == ["café", "thé"]


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("age,x,age\n1,2,3\n", "age", "appears 2 times in the header (columns 1, 3)"),
        ("a,b\n1,2\n3,4\n", None, None),
        ('a,b,y\n1,"77,516",0\n2,"1,000",1\n3,12,0\n', "b", "thousands separator ',' (e.g. '77,516' on line 2)"),
        ("a;b;y\n1;0,5;0\n2;1,25;1\n", "b", "decimal comma (e.g. '0,5' on line 2)"),
        ("a,b,y\n1,2.5,0\n2,inf,1\n", "b", "infinite value(s), e.g. inf on line 3"),
        ("a,b,y\n1,2.5,0\n2,-inf,1\n", "b", "e.g. -inf on line 3"),
    ],
)
def test_silent_misreads_are_data_errors_naming_the_column_and_line(
    tmp_path: Path, text: str, column: str | None, reason: str | None
) -> None:
    path = write(tmp_path / "bad.csv", text)
    if reason is None:
        assert io.read_file(path).shape == (2, 2)
        return
    with pytest.raises(DataError) as caught:
        io.read_file(path)
    assert caught.value.column == column and caught.value.source == str(path)
    assert reason in caught.value.reason


def test_the_thousands_hint_names_the_option_and_the_option_reads_the_numbers(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    path = write(tmp_path / "t.csv", 'fnlwgt,y\n"77,516",0\n"83,311",1\n')
    with pytest.raises(DataError, match=r"set data\.read\.thousands: ','"):
        io.read_file(path)
    assert io.read_file(path, ReadOptions(thousands=","))["fnlwgt"].tolist() == [77516, 83311]


def test_a_time_that_does_not_parse_names_the_value_and_line(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    path = write(tmp_path / "d.csv", "when,y\n2026-01-31,0\nsoon,1\n")
    with pytest.raises(DataError, match=r"column 'when': .*'soon' \(line 3\) does not parse") as caught:
        io.read_file(path, ReadOptions(parse_dates=("when",), date_format="%Y-%m-%d"))
    assert caught.value.column == "when"
    with pytest.raises(DataError, match=r"column 'then': is named in data\.read\.parse_dates"):
        io.read_file(path, ReadOptions(parse_dates=("then",)))


def test_parquet_and_sql_sources_take_parse_dates_and_refuse_infinities(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    frame = pd.DataFrame({"when": ["2026-01-31", "2026-02-01"], "v": [1.0, np.inf]})
    frame.to_parquet(tmp_path / "f.parquet")
    with pytest.raises(DataError, match=r"column 'v': holds 1 infinite value\(s\), e.g. inf on row 2"):
        io.read_file(tmp_path / "f.parquet", ReadOptions(parse_dates=("when",)))
    url = sqlite_file(tmp_path, frame.assign(v=[1.0, 2.0]), "times")
    parsed = io.read_sql_table(url, "times", ReadOptions(parse_dates=("when",)))
    assert str(parsed.frame["when"].dtype).startswith("datetime64") and parsed.report.format == "sql"
