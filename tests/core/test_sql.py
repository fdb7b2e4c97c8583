"""core.sql: a SQL source is one query or a bare table name; anything else is named and refused."""

from __future__ import annotations

import pytest

from mlworkflow.core import sql


@pytest.mark.parametrize("query", ["people", " main.people ", "SELECT 1", "select * from people;",
                                   "-- a comment\nSELECT x FROM t", "WITH a AS (SELECT 1 AS x) SELECT x FROM a"])
def test_queries_and_table_names_are_accepted(query: str) -> None:
    assert sql.statement_problem(query) is None


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("DROP TABLE people", "a DROP statement"),
        ("delete from people", "a DELETE statement"),
        ("INSERT INTO p SELECT * FROM q", "a INSERT statement"),
        ("SELECT 1; DROP TABLE people", "2 statements"),
        ("", "0 statements"),
        ("PRAGMA journal_mode = WAL", "'PRAGMA journal_mode = WAL'"),
    ],
)
def test_anything_else_is_named(query: str, found: str) -> None:
    problem = sql.statement_problem(query)
    assert problem is not None and problem.startswith("one query (SELECT or WITH … SELECT), found " + found)


def test_a_bare_table_name_is_quoted_so_keywords_work() -> None:
    assert sql.table_query(" main.select ") == 'SELECT * FROM "main"."select"'
    assert sql.table_query("SELECT 1") == "SELECT 1"
