"""Batch scoring: `mlworkflow predict --model NAME@ALIAS --input file.csv --output predictions.csv`.

Rows are checked against the model's contract like the service checks requests; a bad row is
reported with its line number in the file (line 1 is the header). `on_error="stop"` refuses the
file if any row is bad (nothing is written); `"skip"` scores the good rows and reports the others.
`passthrough` columns (e.g. an id or the true label) are copied to the output unchecked; any other
column the model does not take is an error. The output has one line per scored row: its input
line, the passthrough columns, the prediction, one score column per class, and the flags.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlworkflow import reading
from mlworkflow.bundle.contract import (
    MAX_ISSUES,
    Contract,
    ContractError,
    Issue,
    Policy,
    Validator,
    short_name,
    unknown_issues,
    width_issue,
)
from mlworkflow.errors import DataError
from mlworkflow.params import ReadOptions
from mlworkflow.service.predictor import Labelling, Outputs, Predictor

OnError = Literal["stop", "skip"]
CHUNK_ROWS = 20_000  # rows scored per call, to bound memory


@dataclass(frozen=True)
class Table:
    """CSV text split into a header, rows of text and each row's first line number."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did: rows read and scored, the bad rows' issues, the output file."""

    rows: int
    scored: int
    issues: list[Issue] = field(default_factory=list)
    output: Path | None = None

    @property
    def bad_lines(self) -> list[int]:
        """Line numbers of rejected rows."""
        return sorted({i.line for i in self.issues if i.line is not None})


def text_separator(text: str, read: ReadOptions, name: str = "") -> str:
    """The separator of CSV text read as training read its file: data.read.sep, '\\t' for .tsv, else sniffed."""
    if read.sep is not None:
        return read.sep
    return "\t" if name.lower().endswith(".tsv") else reading.sniff(text)[0]


def parse_csv(text: str, sep: str = ",") -> Table:
    """Split CSV text; blank lines are skipped; malformed CSV is a ContractError naming the line."""
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for cells in reader:
            if cells:
                rows.append(cells)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ContractError([Issue("csv", f"malformed CSV: {exc}", line=reader.line_num)]) from None
    if not rows:
        raise ContractError([Issue("csv", "the CSV is empty: a header line naming the columns is needed", line=1)])
    return Table(rows[0], rows[1:], lines[1:])


def check_header(header: Sequence[str], contract: Contract, passthrough: Sequence[str]) -> None:
    """Every contract column present, each once; no other column unless it is passed through (linear time)."""
    too_wide = width_issue(len(header), len(contract.names), len(passthrough), line=1)
    if too_wide is not None:
        raise ContractError([too_wide])
    counts = Counter(header)
    issues = [Issue("required", "is missing from the header", n, None, 1) for n in contract.names if n not in counts]
    allowed = set(contract.names) | set(passthrough)
    unknown = [name for name in header if name not in allowed]
    issues += unknown_issues(unknown, contract.names, "is not an input of the model (pass it through to keep it).", line=1)
    duplicated = sorted(short_name(n) for n, count in counts.items() if count > 1)
    issues += [Issue("duplicate", "appears more than once in the header", n, None, 1) for n in duplicated]
    if issues:
        raise ContractError(issues)


def answers_frame(lines: Sequence[int], answers: Sequence[Mapping[str, Any]], labelling: Labelling) -> pd.DataFrame:
    """The service's CSV answer: line, id, prediction, per-class scores, flags."""
    table = pd.DataFrame({"line": list(lines), "id": [a["id"] for a in answers], "prediction": [a["prediction"] for a in answers]})
    key = labelling.score_key
    for name in answers[0].get(key, {}) if answers else {}:
        table[f"{'proba' if key == 'probabilities' else 'score'}_{name}"] = [a[key][name] for a in answers]
    table["flags"] = ["; ".join(a["flags"]) for a in answers]
    return table


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """A CSV file's text in its encoding (gzip-compressed when it ends in .gz); a DataError names the file."""
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return data.decode("utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the CSV: {exc}", source=str(path)) from None


def score_table(
    table: Table, predictor: Predictor, validator: Validator, passthrough: Sequence[str], on_error: OnError
) -> tuple[pd.DataFrame, list[Issue]]:
    """Check and score every row; the output frame and the bad rows' issues."""
    check_header(table.header, predictor.contract, passthrough)
    checked = validator.text_rows(table.header, table.rows, table.lines)
    if checked.issues and on_error == "stop":
        raise ContractError(checked.issues[:MAX_ISSUES])
    parts = []
    for start in range(0, len(checked.rows), CHUNK_ROWS):
        outputs = predictor.predict(checked.rows[start : start + CHUNK_ROWS])
        parts.append(predictor.frame(outputs))
    scored = pd.concat(parts, ignore_index=True) if parts else predictor.frame(empty_outputs(predictor))
    return with_context(scored, table, checked.positions, checked.flags, passthrough), checked.issues


def empty_outputs(predictor: Predictor) -> Outputs:
    """Outputs for no rows (every row was bad)."""
    width = len(predictor.target.classes) if predictor.target.task != "regression" else 0
    return Outputs([], np.empty((0, width)) if width else None, "sklearn")


def with_context(
    scored: pd.DataFrame, table: Table, positions: Sequence[int], flags: Sequence[Sequence[str]], passthrough: Sequence[str]
) -> pd.DataFrame:
    """Prefix the line number and passthrough columns; append the flags."""
    context = pd.DataFrame({"line": [table.lines[i] for i in positions]})
    for name in passthrough:
        if name in table.header:
            column = table.header.index(name)
            context[name] = [table.rows[i][column] for i in positions]
    out = pd.concat([context, scored.reset_index(drop=True)], axis=1)
    out["flags"] = ["; ".join(f) for f in flags]
    return out


def score_file(
    predictor: Predictor, input_path: Path, output_path: Path, policy: Policy,
    on_error: OnError = "stop", passthrough: Sequence[str] = (),
) -> BatchResult:
    """Score a CSV file into a predictions CSV (written only when the run is not stopped)."""
    read = predictor.contract.read  # the file is read as training read its own
    text = read_text(input_path, read.encoding)
    table = parse_csv(text, text_separator(text, read, input_path.name))
    validator = Validator(predictor.contract, policy)
    frame, issues = score_table(table, predictor, validator, passthrough, on_error)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output_path, index=False)
    return BatchResult(len(table.rows), len(frame), issues, output_path)


def issues_frame(issues: Sequence[Issue]) -> pd.DataFrame:
    """Issues as a table: line, field, rule, message."""
    return pd.DataFrame([{"line": i.line, "field": i.field, "rule": i.rule, "message": i.message} for i in issues],
                        columns=["line", "field", "rule", "message"])
