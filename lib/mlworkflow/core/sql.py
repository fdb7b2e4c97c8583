"""What a SQL source may be: one query (SELECT, or WITH … SELECT), or a bare table name; nothing that writes."""

from __future__ import annotations

import sqlparse


def is_table_name(query: str) -> bool:
    """A bare, optionally schema-qualified, table name (read as SELECT * FROM it)."""
    parts = query.strip().split(".")
    return len(parts) <= 2 and all(part.replace("_", "").isalnum() for part in parts)


def table_query(query: str) -> str:
    """A bare table name as SELECT * FROM it (each part quoted, so keywords work); anything else unchanged."""
    if is_table_name(query):
        return "SELECT * FROM " + ".".join(f'"{part}"' for part in query.strip().split("."))
    return query


def statement_problem(query: str) -> str | None:
    """Why `query` is not a single read-only query, or None (sqlparse classifies the statement type)."""
    if is_table_name(query):
        return None
    statements = [s for s in sqlparse.parse(query) if s.token_first(skip_cm=True, skip_ws=True) is not None]
    if len(statements) != 1:
        return f"one query (SELECT or WITH … SELECT), found {len(statements)} statements"
    kind = statements[0].get_type()
    if kind != "SELECT":
        shown = f"a {kind} statement" if kind != "UNKNOWN" else repr(str(statements[0]).strip()[:40])
        return f"one query (SELECT or WITH … SELECT), found {shown}; the data stage only reads its source"
    return None
