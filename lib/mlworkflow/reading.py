"""Reading a CSV file with the params' reader options, and refusing what pandas would misread silently.

pandas renames a repeated column (`age.1`), takes the first column as the index when the rows are one
field wider than the header, fills a short row with missing values, leaves numbers written with
thousands separators as text, reads `inf` as a number and leaves a time it cannot parse as text. Each of
these is a DataError here, naming the file, the column and the line (line 1 is the header).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # type: ignore[import-not-found]  # pandas' default NA strings
from pandas.api.types import is_float_dtype, is_object_dtype, is_string_dtype

from mlworkflow.core.timestamps import parse_timestamps
from mlworkflow.errors import DataError
from mlworkflow.params import ReadOptions
from mlworkflow.records import ReadReport

SNIFF_CHARACTERS = 65_536  # text sampled to sniff the separator
SEPARATORS = ",;\t|"  # the separators the sniffer may choose
GROUPING_MARKS = (",", ".", " ", "'", "\u00a0", "\u202f")  # thousands separators a file may use
NUMBER_SHARE = 0.95  # a text column this often a (grouped) number holds numbers
QUOTE_AND_SPACE = '" '  # the csv reader's quote character, and the space its skipinitialspace drops
SepFrom = Literal["given", "sniffed", "extension", "default"]


@dataclass(frozen=True)
class Parsed:
    """A file read into a frame, how it was read, and each row's line in the file (0 when unknown)."""

    frame: pd.DataFrame
    report: ReadReport
    lines: np.ndarray


def missing_strings(options: ReadOptions) -> list[str]:
    """The cell texts read as missing: pandas' defaults (unless keep_default_na is false) and na_values."""
    defaults = sorted(STR_NA_VALUES) if options.keep_default_na else []
    return list(dict.fromkeys([*defaults, *options.na_values]))


# --- the text of a file --------------------------------------------------------------------------------------


def open_text(path: Path, encoding: str) -> IO[str]:
    """A (possibly compressed) CSV file as text, decompressed by its suffix as pandas does."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding=encoding, newline="")
    if name.endswith(".xz"):
        return lzma.open(path, "rt", encoding=encoding, newline="")
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        members = archive.namelist()
        if len(members) != 1:
            raise DataError(f"a .zip source must hold exactly one file, found {len(members)}", source=str(path))
        return _text(archive.open(members[0]), encoding)
    return path.open("r", encoding=encoding, newline="")


def _text(handle: IO[bytes], encoding: str) -> IO[str]:
    return io.TextIOWrapper(handle, encoding=encoding, newline="")


def separator(path: Path, options: ReadOptions) -> tuple[str, SepFrom]:
    """The separator: the given one, '\\t' for .tsv, else sniffed from the first lines (',' if that fails)."""
    if options.sep is not None:
        return options.sep, "given"
    if path.name.lower().endswith(".tsv"):
        return "\t", "extension"
    with open_text(path, options.encoding) as handle:
        return sniff(handle.read(SNIFF_CHARACTERS))


def sniff(sample: str) -> tuple[str, SepFrom]:
    """The separator csv.Sniffer finds in the whole lines of a sample (',' when it finds none)."""
    sample = sample[:SNIFF_CHARACTERS]
    whole_lines = sample[: sample.rfind("\n")] if "\n" in sample else sample
    try:
        return csv.Sniffer().sniff(whole_lines, delimiters=SEPARATORS).delimiter, "sniffed"
    except csv.Error:
        return ",", "default"


# --- the shape of every row ----------------------------------------------------------------------------------


def records(handle: IO[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the line it starts on (quoted fields may span lines)."""
    reader = csv.reader(handle, delimiter=sep, skipinitialspace=True, strict=True)
    start = 1
    for cells in reader:
        if cells and cells != [""]:
            yield start, cells
        start = reader.line_num + 1


def check_header(names: Sequence[str], source: str) -> None:
    """Every column name once: pandas would rename the second 'age' to 'age.1'."""
    counts = Counter(name.strip() for name in names)
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        name = repeated[0]
        places = [str(i + 1) for i, other in enumerate(names) if other.strip() == name]
        reason = (f"appears {counts[name]} times in the header (columns {', '.join(places)}); "
                  "each column needs its own name")
        raise DataError(reason, name, source)


def row_lines(path: Path, sep: str, options: ReadOptions) -> np.ndarray:
    """The line each data row starts on; a row wider or narrower than the header is a DataError naming it."""
    with open_text(path, options.encoding) as handle:
        text = handle.read()
    data = plain_bytes(text, sep)
    if data is None:  # quotes, a lone carriage return or a NUL: the csv module reads it record by record
        return walked_lines(io.StringIO(text, newline=""), sep, str(path))
    return counted_lines(data, sep, str(path))


def walked_lines(handle: IO[str], sep: str, source: str) -> np.ndarray:
    """`row_lines` by the csv module's reader, one record at a time (quoted fields may span lines)."""
    lines = array("q")
    try:
        rows = records(handle, sep)
        first = next(rows, None)
        if first is None:
            raise DataError("file has no columns", source=source)
        header = first[1]
        check_header(header, source)
        for line, cells in rows:
            if len(cells) != len(header):
                raise DataError(width_reason(line, len(cells), len(header), sep), source=source)
            lines.append(line)
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", source=source) from None
    return np.asarray(lines, dtype=np.int64)


def plain_bytes(text: str, sep: str) -> np.ndarray | None:
    """The text as UTF-8 bytes with "\\n" line ends when every newline ends a record and every separator splits
    fields as the csv module would (no quote, lone carriage return or NUL), else None."""
    if len(sep) != 1 or not sep.isascii() or sep in QUOTE_AND_SPACE or '"' in text or "\0" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def per_line(data: np.ndarray, ends: np.ndarray, character: str) -> np.ndarray:
    """How often an ASCII character occurs in each line (the lines ending at `ends`)."""
    return np.diff(np.searchsorted(np.flatnonzero(data == ord(character)), ends), prepend=0)


def counted_lines(data: np.ndarray, sep: str, source: str) -> np.ndarray:
    """`row_lines` of plain text (`plain_bytes`), counted with NumPy: lines of spaces only skipped as the csv
    reader skips them, each other line's separators counted and checked against the header's."""
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and data[-1] != ord("\n"):  # a last line without its newline
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    filled = np.flatnonzero(ends - starts > per_line(data, ends, " "))
    if not len(filled):
        raise DataError("file has no columns", source=source)
    first = data[starts[filled[0]]:ends[filled[0]]].tobytes().decode("utf-8")
    header = next(csv.reader([first], delimiter=sep, skipinitialspace=True))
    check_header(header, source)
    widths = (per_line(data, ends, sep) + 1)[filled[1:]]
    if len(wrong := np.flatnonzero(widths != len(header))):
        line, found = int(filled[1:][wrong[0]]) + 1, int(widths[wrong[0]])
        raise DataError(width_reason(line, found, len(header), sep), source=source)
    return (filled[1:] + 1).astype(np.int64)


def width_reason(line: int, found: int, expected: int, sep: str) -> str:
    """Why a row's width is refused: its fields would shift into other columns, or be filled as missing."""
    what = "a value would shift into the next column" if found > expected else "pandas would fill the rest as missing"
    shown = {"\t": "'\\t'"}.get(sep, repr(sep))
    return (f"line {line} has {found} fields but the header has {expected} ({what}); "
            f"quote values holding the separator {shown}, or set data.read.sep")


# --- pandas --------------------------------------------------------------------------------------------------


def pandas_options(options: ReadOptions, sep: str) -> dict[str, Any]:
    """The keyword arguments of pandas.read_csv for these options (pandas' defaults where none is set)."""
    return {
        "sep": sep, "skipinitialspace": True, "index_col": False, "encoding": options.encoding,
        "na_values": list(options.na_values) or None, "keep_default_na": options.keep_default_na,
        "thousands": options.thousands, "decimal": options.decimal,
    }  # parse_dates and date_format: parsed after reading, by the one timestamp rule (parse_dates below)


def read_csv(path: Path, options: ReadOptions) -> Parsed:
    """Read a CSV file with the options, after checking its shape; then refuse silent misreads."""
    sep, sep_from = separator(path, options)
    lines = row_lines(path, sep, options)
    frame = parse_dates(pd.read_csv(path, **pandas_options(options, sep)), options, lines, str(path))
    check_frame(frame, options, lines, str(path))
    report = ReadReport(format="csv", sep=sep, sep_from=sep_from, encoding=options.encoding,
                        missing=missing_strings(options), thousands=options.thousands, decimal=options.decimal,
                        dates=date_formats(options), options=options)
    return Parsed(frame, report, lines)


def parse_dates(frame: pd.DataFrame, options: ReadOptions, lines: np.ndarray, source: str) -> pd.DataFrame:
    """The parse_dates columns parsed by core.timestamps' rule (naive UTC; date_format when given);
    a missing column or a value that does not parse is a DataError naming it."""
    if not options.parse_dates:
        return frame
    frame = frame.copy()
    for name in options.parse_dates:
        if name not in frame.columns:
            raise DataError("is named in data.read.parse_dates but is not a column of the source", name, source)
        parsed = parse_timestamps(frame[name], options.date_format)
        check_dates_parsed(frame[name], parsed, lines, options, source)
        frame[name] = parsed
    return frame


def date_formats(options: ReadOptions) -> dict[str, str]:
    """Each parse_dates column with its format ("inferred" without date_format)."""
    return {name: options.date_format or "inferred" for name in options.parse_dates}


def typed_source(frame: pd.DataFrame, options: ReadOptions, kind: Literal["parquet", "sql"], source: str) -> Parsed:
    """A Parquet or SQL frame: its parse_dates columns parsed, then the same checks as a CSV's."""
    lines = np.zeros(len(frame), dtype=np.int64)
    frame = parse_dates(frame, options, lines, source)
    check_frame(frame, options, lines, source)
    return Parsed(frame, ReadReport(format=kind, dates=date_formats(options), options=options), lines)


# --- silent misreads -----------------------------------------------------------------------------------------


def where(lines: np.ndarray, position: int) -> str:
    """'line 7' when the row's line is known, else 'row 6' (counting from 1)."""
    line = int(lines[position]) if position < len(lines) else 0
    return f"line {line}" if line else f"row {position + 1}"


def check_frame(frame: pd.DataFrame, options: ReadOptions, lines: np.ndarray, source: str) -> None:
    """Refuse infinities and numbers left as text for their thousands separator or decimal comma."""
    for column in frame.columns:
        values = frame[column]
        if is_float_dtype(values):
            check_finite(values, lines, source)
        elif is_object_dtype(values) or is_string_dtype(values):
            check_grouped_numbers(values, lines, options, source)


def check_dates_parsed(
    values: pd.Series, parsed: pd.Series, lines: np.ndarray, options: ReadOptions, source: str
) -> None:
    """Every present value of a parse_dates column parsed as a time."""
    failed = np.flatnonzero((values.notna() & parsed.isna()).to_numpy())
    if len(failed):
        position = int(failed[0])
        how = f"with date_format {options.date_format!r}" if options.date_format else "as a date or time"
        reason = f"is in data.read.parse_dates but {str(values.iloc[position])!r:.60} ({where(lines, position)}) does not parse {how}"
        raise DataError(reason, str(values.name), source)


def check_finite(values: pd.Series, lines: np.ndarray, source: str) -> None:
    """No infinite value: models and statistics need finite numbers (write a missing value instead)."""
    infinite = np.flatnonzero(np.isinf(values.to_numpy(dtype=float)))
    if len(infinite):
        position = int(infinite[0])
        reason = (f"holds {len(infinite)} infinite value(s), e.g. {values.iloc[position]} on {where(lines, position)}; "
                  "write a missing value or a finite number instead")
        raise DataError(reason, str(values.name), source)


def check_grouped_numbers(values: pd.Series, lines: np.ndarray, options: ReadOptions, source: str) -> None:
    """A text column of numbers with thousands separators or a decimal comma: a DataError naming the option."""
    counts = distinct_texts(values)
    distinct = counts.index.to_series()
    if distinct.empty or not distinct.str.contains(r"\d").any():
        return
    plain = distinct.str.fullmatch(rf"[+-]?\d+(?:{re.escape(options.decimal)}\d*)?").to_numpy()
    weights = counts.to_numpy(dtype=float) / counts.sum()
    for mark, pattern in number_patterns(options):
        matched = distinct.str.fullmatch(pattern).to_numpy()
        if matched.any() and float(weights[matched | plain].sum()) >= NUMBER_SHARE:
            example = str(distinct[matched].iloc[0])
            raise DataError(number_reason(mark, example, where(lines, first_row(values, example))), str(values.name), source)


def distinct_texts(values: pd.Series) -> pd.Series:
    """How many rows hold each present, non-blank text (stripped), most first; each distinct value is converted and
    stripped once, not each row (a category column has few)."""
    raw = values.value_counts()
    texts = pd.Series(raw.to_numpy(), index=raw.index.astype(str).str.strip())
    merged = texts[texts.index != ""].groupby(level=0, sort=False).sum()
    return merged.sort_values(ascending=False, kind="stable")


def first_row(values: pd.Series, text: str) -> int:
    """The position of the first row whose present value reads `text` once stripped."""
    same = values.astype(str).str.strip().to_numpy() == text
    return int(np.flatnonzero(same & values.notna().to_numpy())[0])


def number_patterns(options: ReadOptions) -> list[tuple[str, str]]:
    """(mark, regular expression) of numbers pandas leaves as text with these options: grouped digits, and
    a decimal comma while the decimal mark is '.'."""
    decimal = re.escape(options.decimal)
    patterns = [(mark, rf"[+-]?\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+(?:{decimal}\d*)?")
                for mark in GROUPING_MARKS if mark not in (options.decimal, options.thousands)]
    if options.decimal == "." and options.thousands != ",":
        patterns.append(("decimal ,", r"[+-]?\d*,\d+"))
    return patterns


def number_reason(mark: str, example: str, place: str) -> str:
    """The message for numbers read as text because of a thousands separator or a decimal comma."""
    if mark == "decimal ,":
        return (f"holds numbers written with a decimal comma (e.g. {example!r} on {place}), read as text; "
                "set data.read.decimal: ',' to read them as numbers")
    shown = {" ": "' '", "\u00a0": "'\\u00a0'", "\u202f": "'\\u202f'"}.get(mark, repr(mark))
    return (f"holds numbers written with the thousands separator {shown} (e.g. {example!r} on {place}), read as "
            f"text; set data.read.thousands: {shown} to read them as numbers (or data.read.decimal: {shown} if it "
            "marks decimals)")
