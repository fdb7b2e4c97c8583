"""The input contract of a deployed model, learned from its training data, and the checks against it.

A contract lists each input column with its kind (integer, number, boolean, string), whether it
may be missing (it was missing somewhere in training), the categories seen (string columns) and
the range seen (numeric columns). Records are checked against it; every problem becomes an
`Issue` naming the row, the field and the rule broken. In JSON records null and NaN mean missing
(pandas and MLflow's client send a DataFrame's gaps as the bare token NaN), which is accepted only
where the contract lets the field be missing; infinities are never accepted. CSV text is cleaned like
the training file was: surrounding spaces stripped, empty fields, the missing markers and the text
NaN or null (any case, unless it is a category training saw) mean missing.

Unseen categories follow a policy: "reject" makes them issues, "flag" accepts the row and flags
it. Numbers outside the training range are always accepted and flagged.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from mlworkflow.core.timestamps import parse_timestamps
from mlworkflow.errors import MlwError, did_you_mean
from mlworkflow.params import ReadOptions
from mlworkflow.reading import missing_strings

Kind = Literal["integer", "number", "boolean", "string"]
Policy = Literal["reject", "flag"]
MAX_ISSUES = 50  # a response lists at most this many problems
SHOWN_NAME = 60  # characters of a field name a message repeats
SHOWN_CATEGORIES = 8
MISSING_TEXT = frozenset({"nan", "null"})  # compared lower case: NaN, nan, NULL, null, …
TRUE_TEXT = frozenset({"true", "1", "yes"})
FALSE_TEXT = frozenset({"false", "0", "no"})


class Column(BaseModel):
    """One input column: its kind, whether it may be missing, and what training saw."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    nullable: bool
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    free_text: bool = Field(False, exclude_if=lambda value: not value)  # any string: a text feature, not a category
    timestamp: bool = Field(False, exclude_if=lambda value: not value)  # a string that parses as a date or time
    # data.read.date_format of a parse_dates column: served strings are parsed with it, as training read its file
    date_format: str | None = Field(None, exclude_if=lambda value: value is None)


class Contract(BaseModel):
    """Every input column, in the order the model takes them, and the text that means missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[Column, ...]
    missing_markers: tuple[str, ...] = ()
    # how training read its file (data.read): predict, monitor and the CSV route read theirs the same way
    read: ReadOptions = Field(ReadOptions(), exclude_if=lambda value: value == ReadOptions())

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class Issue:
    """One broken rule: which row (and CSV line), which field, which rule, and why."""

    rule: str
    reason: str
    field: str | None = None
    row: int | None = None
    line: int | None = None

    @property
    def message(self) -> str:
        """The issue in one sentence, e.g. "row 2, field 'age': expected a number, found 'x'"."""
        where = [f"line {self.line}" if self.line is not None else f"row {self.row}" if self.row is not None else ""]
        where.append(f"field '{self.field}'" if self.field is not None else "")
        prefix = ", ".join(part for part in where if part)
        return f"{prefix}: {self.reason}" if prefix else self.reason

    def to_json(self) -> dict[str, Any]:
        """The issue as a JSON object (keys that do not apply are left out)."""
        keys = ("row", "line", "field", "rule")
        return {**{key: getattr(self, key) for key in keys if getattr(self, key) is not None}, "message": self.message}


class ContractError(MlwError):
    """Input breaks the contract: carries every issue found (at most MAX_ISSUES)."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        shown = "; ".join(issue.message for issue in self.issues[:3])
        more = f" (and {len(self.issues) - 3} more)" if len(self.issues) > 3 else ""
        super().__init__(f"input breaks the contract: {shown}{more}")


class Invalid(Exception):
    """A value breaks a rule (internal: becomes an Issue with the row and field)."""

    def __init__(self, rule: str, reason: str) -> None:
        self.rule, self.reason = rule, reason
        super().__init__(reason)


# --- learning ------------------------------------------------------------------------------------


def column_kind(series: pd.Series) -> Kind:
    """The kind of a numeric column: boolean, integer or number."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    return "integer" if pd.api.types.is_integer_dtype(series.dtype) else "number"


def learn_numeric(series: pd.Series, name: str) -> Column:
    """A numeric column: kind, nullable, and the range seen."""
    kind = column_kind(series)
    values = series.dropna().astype(float)
    low, high = (float(values.min()), float(values.max())) if len(values) and kind != "boolean" else (None, None)
    return Column(name=name, kind=kind, nullable=bool(series.isna().any()), minimum=low, maximum=high)


def learn_categorical(series: pd.Series, name: str) -> Column:
    """A string column: nullable, and the sorted categories seen."""
    present = series.dropna()
    categories = sorted({str(value).strip() for value in present} - {""})
    return Column(name=name, kind="string", nullable=bool(series.isna().any()), categories=tuple(categories))


def learn_text(series: pd.Series, name: str) -> Column:
    """A free-text column: any string, nullable when training had gaps (no categories: every message is new)."""
    return Column(name=name, kind="string", nullable=bool(series.isna().any()), free_text=True)


def learn_timestamp(series: pd.Series, name: str, read: ReadOptions | None = None) -> Column:
    """A timestamp column (sent as a string): nullable, the range seen in POSIX seconds (UTC), and the
    format training read it with (`read.date_format`, for a `read.parse_dates` column)."""
    parsed = parse_timestamps(series).dropna()
    seconds = parsed.astype("datetime64[ns]").astype("int64") / 1e9
    low, high = (float(seconds.min()), float(seconds.max())) if len(seconds) else (None, None)
    date_format = read.date_format if read is not None and name in read.parse_dates else None
    return Column(name=name, kind="string", nullable=bool(series.isna().any()), minimum=low, maximum=high,
                  timestamp=True, date_format=date_format)


def learn_contract(
    train: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], markers: Sequence[str] = (),
    text: Sequence[str] = (), datetime: Sequence[str] = (), read: ReadOptions | None = None,
) -> Contract:
    """Learn the contract from the training frame; columns in the pipeline's order (numeric first, text, timestamps last)."""
    missing = [name for name in (*numeric, *categorical, *text, *datetime) if name not in train.columns]
    if missing:
        raise MlwError(f"column '{missing[0]}' of the feature spec is not in the training frame")
    columns = [learn_numeric(train[name], name) for name in numeric]
    columns += [learn_categorical(train[name], name) for name in categorical]
    columns += [learn_text(train[name], name) for name in text]
    columns += [learn_timestamp(train[name], name, read) for name in datetime]
    return Contract(columns=tuple(columns), missing_markers=tuple(markers), read=read or ReadOptions())


def contract_table(contract: Contract) -> pd.DataFrame:
    """One row per column: kind, may be missing, and the range or categories seen."""
    rows = [
        {"column": c.name, "kind": c.kind, "may be missing": c.nullable, "seen": seen_text(c)}
        for c in contract.columns
    ]
    return pd.DataFrame(rows).set_index("column")


def number_text(value: float | None) -> str:
    """A number as short text (integers without a decimal point)."""
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def time_text(seconds: float | None) -> str:
    """POSIX seconds as an ISO time (UTC), or '?'."""
    return "?" if seconds is None else pd.Timestamp(seconds, unit="s").isoformat(sep=" ")


def seen_text(column: Column) -> str:
    """What training saw in a column, as short text."""
    if column.free_text:
        return "free text"
    if column.timestamp:
        shape = f" in the format {column.date_format!r}" if column.date_format else ""
        return f"dates or times{shape}, {time_text(column.minimum)} to {time_text(column.maximum)}"
    if column.kind == "string":
        shown = ", ".join(column.categories[:SHOWN_CATEGORIES])
        more = f", … ({len(column.categories)} in all)" if len(column.categories) > SHOWN_CATEGORIES else ""
        return shown + more
    if column.kind == "boolean":
        return "true, false"
    return f"{number_text(column.minimum)} to {number_text(column.maximum)}"


# --- one value -----------------------------------------------------------------------------------


def type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def is_missing(value: Any) -> bool:
    """None or a float NaN: a missing JSON value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_missing(column: Column, value: Any) -> None:
    """A missing value is fine only where training had missing values."""
    if not column.nullable:
        found = "" if value is None else " (NaN means missing)"
        raise Invalid("nullable", f"is required: it was never missing in training{found}")


def check_number(column: Column, value: Any) -> tuple[float, str | None]:
    """A finite number (integral for integer columns); a flag when outside the training range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("type", f"expected a number, found {type_name(value)} {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:
        raise Invalid("finite", "is too large for a 64-bit float") from None
    if not math.isfinite(number):
        raise Invalid("finite", f"must be a finite number, found {value}; send null for a missing value")
    if column.kind == "integer" and not number.is_integer():
        raise Invalid("integer", f"expected an integer, found {value}")
    low, high = column.minimum, column.maximum
    if low is not None and high is not None and not low <= number <= high:
        return number, f"{column.name}: {number_text(number)} is outside the training range {seen_text(column)}"
    return number, None


def check_boolean(column: Column, value: Any) -> tuple[float, str | None]:
    """true or false, passed on as 1.0 or 0.0."""
    if not isinstance(value, bool):
        raise Invalid("type", f"expected true or false, found {type_name(value)} {value!r:.40}")
    return float(value), None


def category_rule(column: Column, value: str, policy: Policy) -> str | None:
    """Reject or flag a category training never saw; None for a seen one."""
    hint = did_you_mean(value, column.categories)
    if policy == "reject":
        listed = seen_text(column)
        raise Invalid("category", f"{value!r:.60} was never seen in training (seen: {listed}).{hint}")
    return f"{column.name}: unseen category {value!r:.60}"


def check_string(column: Column, value: Any, policy: Policy, seen: frozenset[str]) -> tuple[str, str | None]:
    """A string; unseen categories are rejected or flagged by the policy."""
    if not isinstance(value, str):
        raise Invalid("type", f"expected a string, found {type_name(value)} {value!r:.40}")
    return value, None if value in seen else category_rule(column, value, policy)


def check_text(value: Any) -> tuple[str, str | None]:
    """Any string (a free-text column has no categories to check)."""
    if not isinstance(value, str):
        raise Invalid("type", f"expected a string, found {type_name(value)} {value!r:.40}")
    return value, None


def check_timestamp(value: Any, date_format: str | None = None) -> tuple[str, str | None]:
    """A string that parses as a date or time by the rule training used (timestamps.parse_timestamps, with the
    column's date_format when training read it with one)."""
    if not isinstance(value, str):
        raise Invalid("type", f"expected a date or time as a string, found {type_name(value)} {value!r:.40}")
    if parse_timestamps(pd.Series([value], dtype=object), date_format).isna().iloc[0]:
        expected = f"in the format {date_format!r}" if date_format else "(e.g. 2019-03-23 20:21:09)"
        raise Invalid("datetime", f"expected a date or time {expected}, found {value!r:.40}")
    return value, None


ValueCheck = Callable[[Any], tuple[Any, str | None]]


def value_check(column: Column, policy: Policy) -> ValueCheck:
    """The check of one column's non-missing JSON values."""
    if column.free_text:
        return check_text
    if column.timestamp:
        return lambda value: check_timestamp(value, column.date_format)
    if column.kind == "string":
        seen = frozenset(column.categories)
        return lambda value: check_string(column, value, policy, seen)
    if column.kind == "boolean":
        return lambda value: check_boolean(column, value)
    return lambda value: check_number(column, value)


def parse_text(column: Column, text: str, markers: frozenset[str], read: ReadOptions | None = None,
               missing: frozenset[str] = frozenset()) -> Any:
    """CSV text as a JSON-like value: None when missing, a float, a bool or the stripped string; `read`'s
    missing text (`missing`) and number marks apply as when training read its file."""
    stripped = text.strip()
    if stripped == "" or (column.kind == "string" and stripped in markers) or missing_text(column, stripped):
        return None
    if stripped in missing and stripped not in column.categories:
        return None
    if read is not None and column.kind in ("integer", "number"):
        stripped = plain_number(stripped, read)
    if column.kind == "string":
        return stripped
    if column.kind == "boolean":
        return boolean_text(stripped)
    try:
        return float(stripped)
    except ValueError:
        raise Invalid("type", f"expected a number, found {stripped!r:.40}") from None


def plain_number(text: str, read: ReadOptions) -> str:
    """Number text without its thousands separator and with '.' for its decimal mark."""
    if read.thousands is not None:
        text = text.replace(read.thousands, "")
    return text.replace(read.decimal, ".") if read.decimal != "." else text


def missing_text(column: Column, text: str) -> bool:
    """NaN or null in any case, unless training saw it as a category of this column."""
    return text.lower() in MISSING_TEXT and text not in column.categories


def boolean_text(text: str) -> bool:
    """true/false, 1/0 or yes/no (any case) as a bool."""
    lowered = text.lower()
    if lowered in TRUE_TEXT or lowered in FALSE_TEXT:
        return lowered in TRUE_TEXT
    raise Invalid("type", f"expected true or false, found {text!r:.40}")


# --- records -------------------------------------------------------------------------------------


@dataclass
class Checked:
    """Checked rows: values in contract order (None = missing), flags, and the rows' issues."""

    rows: list[list[Any]] = field(default_factory=list)
    flags: list[list[str]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # each kept row's index in the input
    issues: list[Issue] = field(default_factory=list)

    def raise_issues(self) -> None:
        """Raise ContractError if any row broke the contract."""
        if self.issues:
            raise ContractError(self.issues[:MAX_ISSUES])


def max_fields(inputs: int, allowed: int = 0) -> int:
    """The widest record or CSV header read: the model's inputs, the columns allowed besides, MAX_ISSUES others."""
    return inputs + allowed + MAX_ISSUES


def width_issue(found: int, inputs: int, allowed: int = 0, row: int | None = None, line: int | None = None) -> Issue | None:
    """A record or header wider than max_fields, checked before any name is compared (so in linear time)."""
    limit = max_fields(inputs, allowed)
    if found <= limit:
        return None
    what = "the header names" if line is not None else "the record has"
    besides = f", {allowed} passed through" if allowed else ""
    reason = f"{what} {found} fields, over the limit of {limit} (the model's {inputs} inputs{besides} and {MAX_ISSUES} others)"
    return Issue("max_fields", reason, None, row, line)


def short_name(name: str) -> str:
    """A field name as a message repeats it: at most SHOWN_NAME characters."""
    return name if len(name) <= SHOWN_NAME else f"{name[:SHOWN_NAME]}…"


def unknown_issues(names: Iterable[str], known: Sequence[str], reason: str, row: int | None = None,
                   line: int | None = None) -> list[Issue]:
    """One unknown_field issue (with a did-you-mean hint) for each of the first MAX_ISSUES names."""
    shown = [short_name(name) for name in itertools.islice(names, MAX_ISSUES)]
    return [Issue("unknown_field", f"{reason}{did_you_mean(name, known)}", name, row, line) for name in shown]


class Validator:
    """Checks records or CSV rows against a contract, with an unseen-category policy."""

    def __init__(self, contract: Contract, policy: Policy) -> None:
        self.contract, self.policy = contract, policy
        self.names = contract.names
        self.expected = frozenset(self.names)
        self.checks = [(c, value_check(c, policy)) for c in contract.columns]
        self.markers = frozenset(contract.missing_markers)
        self.missing = frozenset(missing_strings(contract.read))

    def records(self, records: Sequence[Any]) -> Checked:
        """Check JSON records (objects of column: value); every row's issues are collected."""
        checked = Checked()
        for row, record in enumerate(records):
            if len(checked.issues) >= MAX_ISSUES:
                break
            self.add(checked, row, None, self.record_issues(record, row) or self.values(record, row))
        return checked

    def add(self, checked: Checked, row: int, line: int | None, outcome: list[Issue] | tuple[list[Any], list[str]]) -> None:
        """Keep a good row, or collect a bad row's issues (with its CSV line)."""
        if isinstance(outcome, list):
            checked.issues.extend(Issue(i.rule, i.reason, i.field, i.row, line) for i in outcome)
            return
        checked.rows.append(outcome[0])
        checked.flags.append(outcome[1])
        checked.positions.append(row)

    def record_issues(self, record: Any, row: int) -> list[Issue]:
        """Problems of shape: not an object, missing fields, unknown fields."""
        if not isinstance(record, dict):
            return [Issue("type", f"a record is an object of column: value, found {type_name(record)}", None, row)]
        if record.keys() == self.expected:
            return []
        too_wide = width_issue(len(record), len(self.names), row=row)
        if too_wide is not None:
            return [too_wide]
        missing = [n for n in self.names if n not in record]
        issues = [Issue("required", "is missing", n, row) for n in missing]
        unknown = [str(key) for key in record if key not in self.expected]
        return issues + unknown_issues(unknown, self.names, "is not an input of the model.", row)

    def values(self, record: Mapping[str, Any], row: int) -> list[Issue] | tuple[list[Any], list[str]]:
        """Check every field of a well-shaped record: its values and flags, or its issues."""
        values: list[Any] = []
        flags: list[str] = []
        issues: list[Issue] = []
        for column, check in self.checks:
            value = record[column.name]
            try:
                if is_missing(value):
                    check_missing(column, value)
                    values.append(None)
                    continue
                value, flag = check(value)
            except Invalid as exc:
                issues.append(Issue(exc.rule, exc.reason, column.name, row))
                continue
            values.append(value)
            if flag is not None:
                flags.append(flag)
        return issues or (values, flags)

    def text_rows(self, header: Sequence[str], rows: Iterable[Sequence[str]], lines: Sequence[int]) -> Checked:
        """Check CSV rows (text, cleaned like training data); issues carry the CSV line number."""
        self.check_header(header)
        first: dict[str, int] = {}
        for position, name in enumerate(header):
            first.setdefault(name, position)
        positions = [first[name] for name in self.names]
        checked = Checked()
        for row, (cells, line) in enumerate(zip(rows, lines, strict=True)):
            outcome = self.text_values(cells, positions, row, len(header))
            self.add(checked, row, line, outcome)
        return checked

    def check_header(self, header: Sequence[str]) -> None:
        """The CSV header must name every contract column (extra columns are for the caller to allow)."""
        present = frozenset(header)
        missing = [name for name in self.names if name not in present]
        issues = [Issue("required", "is missing from the header", n, None, 1) for n in missing]
        if issues:
            raise ContractError(issues)

    def text_values(
        self, cells: Sequence[str], positions: Sequence[int], row: int, width: int
    ) -> list[Issue] | tuple[list[Any], list[str]]:
        """Parse and check one CSV row."""
        if len(cells) != width:
            return [Issue("shape", f"expected {width} fields, found {len(cells)}", None, row)]
        record: dict[str, Any] = {}
        issues: list[Issue] = []
        for column, position in zip(self.contract.columns, positions, strict=True):
            try:
                record[column.name] = parse_text(column, cells[position], self.markers, self.contract.read, self.missing)
            except Invalid as exc:
                issues.append(Issue(exc.rule, exc.reason, column.name, row))
        return issues or self.values(record, row)


# --- model input ---------------------------------------------------------------------------------


def to_frame(contract: Contract, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Checked rows as the model's input frame: floats (NaN when missing), object text, and timestamps that
    training read with a date_format parsed with it (so a day-first '03/04/2024' is 3 April, as in training)."""
    data: dict[str, Any] = {}
    for index, column in enumerate(contract.columns):
        values = [row[index] for row in rows]
        if column.date_format is not None:
            data[column.name] = parse_timestamps(pd.Series(values, dtype=object), column.date_format).to_numpy()
        elif column.kind == "string":
            data[column.name] = np.array([np.nan if v is None else v for v in values], dtype=object)
        else:
            data[column.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.DataFrame(data, columns=list(contract.names))


# --- the schema ------------------------------------------------------------------------------------


def describe(column: Column) -> str:
    """The column's rule in words, for the OpenAPI schema."""
    missing = "may be null" if column.nullable else "required, never null"
    return f"{column.kind}; {missing}; seen in training: {seen_text(column)}"


def annotation(column: Column, policy: Policy) -> Any:
    """The pydantic type of one column under a policy."""
    base: Any
    if column.kind == "string":
        base = Literal[column.categories] if policy == "reject" and column.categories else str  # type: ignore[valid-type]
    else:
        base = {"integer": int, "number": float, "boolean": bool}[column.kind]
    return base | None if column.nullable else base


def record_model(contract: Contract, policy: Policy) -> type[BaseModel]:
    """A pydantic model of one record (fields aliased to the column names): the OpenAPI schema's source."""
    fields: dict[str, Any] = {}
    for index, column in enumerate(contract.columns):
        extra: dict[str, Any] = {"examples": list(column.categories[:3])} if column.categories else {}
        info = Field(alias=column.name, description=describe(column), json_schema_extra=extra or None)
        fields[f"field_{index}"] = (annotation(column, policy), info)
    config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    return create_model("Record", __config__=config, **fields)


# --- examples --------------------------------------------------------------------------------------


def example_value(column: Column, i: int) -> Any:
    """A valid value for row i: categories in turn, numbers across the range, some missing."""
    if column.nullable and i % 5 == 4:
        return None
    if column.free_text:
        return f"an example message, number {i}"
    if column.timestamp:
        start, end = column.minimum or 0.0, column.maximum if column.maximum is not None else 86_400.0
        return timestamp_text(column, pd.Timestamp(float(np.floor(start + (end - start) * ((i * 0.37) % 1.0))), unit="s"))
    if column.kind == "string":
        return column.categories[(i * 7) % len(column.categories)] if column.categories else "?"
    if column.kind == "boolean":
        return i % 2 == 0
    low, high = column.minimum or 0.0, column.maximum if column.maximum is not None else 1.0
    value = low + (high - low) * ((i * 0.37) % 1.0)
    return float(round(value)) if column.kind == "integer" else value


def timestamp_text(column: Column, value: pd.Timestamp) -> str:
    """A time as a client sends it: in the column's date_format (a strftime one), else ISO."""
    strftime = column.date_format is not None and "%" in column.date_format  # not pandas' 'ISO8601' or 'mixed'
    return value.strftime(str(column.date_format)) if strftime else value.isoformat(sep=" ")


def as_sent(column: Column, value: Any) -> Any:
    """A training frame's value as a client sends it: a parsed timestamp as text (`timestamp_text`), NaT as None."""
    if not (column.timestamp and isinstance(value, datetime)):
        return value
    return None if value is pd.NaT else timestamp_text(column, pd.Timestamp(value))


def example_records(contract: Contract, n: int) -> list[dict[str, Any]]:
    """n valid JSON records spanning the contract (deterministic)."""
    return [{c.name: example_value(c, i + j) for j, c in enumerate(contract.columns)} for i in range(n)]
