"""A catalogue of hostile data: each bad file or SQL source is an error naming the file and the column or
line, and neither the source nor anything outside the run's own folders changes (issues 10.6, 10.8, 10.9)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import load_params
from mlworkflow.stages import data

pytestmark = pytest.mark.e2e

ROWS = [f"{i},{'ab'[i % 2]},{i % 2}\n" for i in range(40)]

# (case, file name, content, what the message must name, a data.read option the message must name or "")
FILES = [
    ("duplicate columns", "dup.csv", "age,kind,age,y\n" + "".join(f"{i},a,{i},{i % 2}\n" for i in range(40)),
     "column 'age': appears 2 times in the header (columns 1, 3)", ""),
    ("extra field", "wide.csv", "x,kind,y\n" + "".join(ROWS[:30]) + "7,a,1,extra\n" + "".join(ROWS[30:]),
     "line 32 has 4 fields but the header has 3", "data.read.sep"),
    ("every row one wider", "index.csv", "x,kind,y\n" + "".join(f"{i},{i},a,{i % 2}\n" for i in range(40)),
     "line 2 has 4 fields but the header has 3", ""),
    ("missing field", "short.csv", "x,kind,y\n" + "".join(ROWS[:20]) + "5,1\n", "line 22 has 2 fields but the header has 3", ""),
    ("thousands separators", "money.csv", "gain,kind,y\n" + "".join(f'"{i},516",a,{i % 2}\n' for i in range(1, 41)),
     "column 'gain': holds numbers written with the thousands separator ','", "data.read.thousands"),
    ("decimal comma", "comma.csv", "w;kind;y\n" + "".join(f"{i},5;a;{i % 2}\n" for i in range(40)),
     "column 'w': holds numbers written with a decimal comma (e.g. '0,5' on line 2)", "data.read.decimal"),
    ("inf", "inf.csv", "x,kind,y\n" + "".join(f"{i}.5,a,{i % 2}\n" for i in range(39)) + "inf,b,1\n",
     "column 'x': holds 1 infinite value(s), e.g. inf on line 41", ""),
    ("-inf", "ninf.csv", "x,kind,y\n-inf,b,1\n" + "".join(f"{i}.5,a,{i % 2}\n" for i in range(39)),
     "column 'x': holds 1 infinite value(s), e.g. -inf on line 2", ""),
    ("not utf-8", "latin.csv", "x,kind,y\n" + "".join(f"{i},caf\xe9,{i % 2}\n" for i in range(40)),
     "is not utf-8 text", "data.read.encoding"),
]


def tree(root: Path) -> dict[str, str]:
    """Every file under root with its SHA-256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def write_case(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_bytes(content.encode("latin-1" if name == "latin.csv" else "utf-8"))
    return path


def params_file(folder: Path, source: str) -> Path:
    path = folder / "p.yaml"
    path.write_text(f"run:\n  name: hostile\ndata:\n{source}  target: y\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "name", "content", "named", "option"), FILES, ids=[f[0] for f in FILES])
def test_a_hostile_file_is_a_data_error_naming_it_and_is_left_as_it_was(
    tmp_path: Path, case: str, name: str, content: str, named: str, option: str
) -> None:
    path = write_case(tmp_path, name, content)
    params = load_params(params_file(tmp_path, f"  path: {name}\n"))
    before = tree(tmp_path)
    with pytest.raises(DataError) as caught:
        data.read_source(params.data)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and named in message and "\n" not in message, case
    assert option in message
    assert tree(tmp_path) == before


def people_db(folder: Path) -> Path:
    path = folder / "people.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (x INTEGER, kind TEXT, y INTEGER)")
        connection.executemany("INSERT INTO people VALUES (?, ?, ?)", [(i, "ab"[i % 2], i % 2) for i in range(40)])
    connection.close()
    return path


SQL = [
    ("DROP TABLE people", "found a DROP statement"),
    ("DELETE FROM people", "found a DELETE statement"),
    ("SELECT * FROM people; DROP TABLE people", "found 2 statements"),
    ("UPDATE people SET y = 1", "found a UPDATE statement"),
    ("ATTACH DATABASE 'other.db' AS other", "found \"ATTACH DATABASE 'other.db' AS other\""),
]


@pytest.mark.parametrize(("query", "named"), SQL, ids=[q for q, _ in SQL])
def test_a_statement_that_writes_is_refused_before_any_kernel_and_the_database_is_unchanged(
    tmp_path: Path, query: str, named: str
) -> None:
    db = people_db(tmp_path)
    path = params_file(tmp_path, f"  sql_url: sqlite:///people.db\n  sql_query: \"{query}\"\n")
    before = tree(tmp_path)
    with pytest.raises(ParamsError, match=r"key 'data\.sql_query': expected one query") as caught:
        load_params(path)
    assert named in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(DataError, match=r"data\.sql_query: expected one query"):
        data.read_source(load_params(path, ["data.sql_query=people"]).data.model_copy(update={"sql_query": query}))
    assert tree(tmp_path) == before and db.is_file()


def mlworkflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)


def test_the_command_exits_2_for_a_writing_query_and_1_for_a_misread_file_changing_only_its_run(tmp_path: Path) -> None:
    people_db(tmp_path)
    refused = mlworkflow("run", str(params_file(tmp_path, '  sql_url: sqlite:///people.db\n  sql_query: "DROP TABLE people"\n')),
                         "--stages", "data", "--root", str(tmp_path / "out"), cwd=tmp_path)
    assert refused.returncode == 2 and "data.sql_query" in refused.stderr and "DROP" in refused.stderr
    assert not (tmp_path / "out").exists()
    write_case(tmp_path, "money.csv", FILES[4][2])
    before = tree(tmp_path)
    failed = mlworkflow("run", str(params_file(tmp_path, "  path: money.csv\n")), "--stages", "data",
                        "--root", str(tmp_path / "out"), cwd=tmp_path)
    line = failed.stderr.strip().splitlines()[-1]
    assert failed.returncode == 1 and "DataError" in line and "money.csv" in line and "column 'gain'" in line
    everything = tree(tmp_path)
    assert [k for k in everything if k.startswith("out/cache/")] == ["out/cache/imports.json"], "a failed stage is not stored"
    after = {k: v for k, v in everything.items() if not k.startswith(("out/runs/hostile-", "out/reports/", "out/cache/"))}
    assert after == {k: v for k, v in before.items() if k != "p.yaml"} | {"p.yaml": after["p.yaml"]}
