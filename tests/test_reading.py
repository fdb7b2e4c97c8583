"""reading: the separator, each row's width and line, and the checks against pandas' silent misreads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlworkflow import reading
from mlworkflow.errors import DataError
from mlworkflow.params import ReadOptions


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text", "options", "expected"),
    [
        ("a.csv", "a;b\n1;2\n", ReadOptions(), (";", "sniffed")),
        ("a.csv", "a|b\n1|2\n", ReadOptions(), ("|", "sniffed")),
        ("a.tsv", "a,b\n1,2\n", ReadOptions(), ("\t", "extension")),
        ("a.csv", "a;b\n1;2\n", ReadOptions(sep=","), (",", "given")),
        ("a.csv", "text\nhello there\n", ReadOptions(), (",", "default")),
    ],
)
def test_the_separator_is_given_by_extension_sniffed_or_the_default(
    tmp_path: Path, name: str, text: str, options: ReadOptions, expected: tuple[str, str]
) -> None:
    assert reading.separator(write(tmp_path / name, text), options) == expected


def test_row_lines_count_quoted_line_breaks_and_skip_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'a,b\n1,"two\nlines"\n\n3,4\n')
    assert reading.row_lines(path, ",", ReadOptions()).tolist() == [2, 5]


@pytest.mark.parametrize(("text", "found"), [("a,b\n1,2,3\n", "line 2 has 3 fields but the header has 2"),
                                             ("a,b\n1\n", "line 2 has 1 fields but the header has 2")])
def test_a_row_of_another_width_is_refused_with_its_line(tmp_path: Path, text: str, found: str) -> None:
    with pytest.raises(DataError, match=found):
        reading.row_lines(write(tmp_path / "w.csv", text), ",", ReadOptions())


PLAIN_TEXTS = [
    "a,b\n1,2\n3,4\n", "a,b\n1,2\n3,4", "a,b\r\n1,2\r\n\r\n3,4\r\n", "\n\n a , b\n1,2\n   \n\n3,4\n",
    "a,b\n1,2\n , \n", "a\tb\n1\t2\n \t \n", "héllo,wörld\n€,✓\n", "a,b\n1,2,3\n", "a,b\n1,2\n\n4\n", "",
    "\n  \n", "a,a\n1,2\n", "a;b;c\n1;2;3\n",
]


def walked(text: str, sep: str) -> np.ndarray | str:
    """The csv module's row lines of a text, or the DataError's message."""
    try:
        return reading.walked_lines(io.StringIO(text, newline=""), sep, "t.csv")
    except DataError as exc:
        return str(exc)


@pytest.mark.parametrize("text", PLAIN_TEXTS)
def test_plain_text_is_counted_with_numpy_exactly_as_the_csv_reader_reads_it(text: str) -> None:
    sep = ";" if ";" in text else "\t" if "\t" in text else ","
    data = reading.plain_bytes(text, sep)
    assert data is not None
    try:
        counted: np.ndarray | str = reading.counted_lines(data, sep, "t.csv")
    except DataError as exc:
        counted = str(exc)
    expected = walked(text, sep)
    assert counted == expected if isinstance(expected, str) else counted.tolist() == expected.tolist()


@pytest.mark.parametrize(("text", "sep"), [('a,b\n"1",2\n', ","), ("a,b\r1,2\r", ","), ("a,b\n1\x00,2\n", ","),
                                           ("a b\n1 2\n", " "), ("a::b\n1::2\n", "::")])
def test_quotes_lone_carriage_returns_nul_and_odd_separators_go_to_the_csv_reader(text: str, sep: str) -> None:
    assert reading.plain_bytes(text, sep) is None


def test_a_quoted_file_still_reads_through_the_csv_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'a,b\r1,"x\r\ny"\r3,4\r')
    assert reading.row_lines(path, ",", ReadOptions()).tolist() == [2, 4]


def test_a_repeated_header_name_is_refused_after_stripping_spaces() -> None:
    with pytest.raises(DataError, match=r"column 'age': appears 2 times in the header \(columns 1, 2\)"):
        reading.check_header(["age", " age"], "f.csv")


def test_missing_strings_follow_keep_default_na_and_na_values() -> None:
    assert "NA" in reading.missing_strings(ReadOptions()) and "" in reading.missing_strings(ReadOptions())
    assert reading.missing_strings(ReadOptions(keep_default_na=False, na_values=("-",))) == ["-"]


def test_grouped_numbers_under_the_threshold_share_are_text() -> None:
    values = pd.Series(["1,000"] + ["word"] * 99, name="c")
    reading.check_grouped_numbers(values, np.arange(2, 102), ReadOptions(), "f.csv")  # a mostly-text column


def test_grouped_numbers_with_a_space_name_that_separator() -> None:
    values = pd.Series(["12 500", "3 000 000", "7"], name="price")
    with pytest.raises(DataError, match=r"thousands separator ' ' \(e\.g\. '12 500' on line 2\)"):
        reading.check_grouped_numbers(values, np.array([2, 3, 4]), ReadOptions(), "f.csv")


def test_distinct_texts_count_each_stripped_text_over_its_spellings_most_first() -> None:
    values = pd.Series([" 1,5", "a", None, "1,5 ", "1,5", "  ", 7, "7"], dtype=object)
    counts = reading.distinct_texts(values)
    assert counts.to_dict() == {"1,5": 3, "7": 2, "a": 1} and list(counts) == [3, 2, 1]


def test_grouped_numbers_name_the_line_of_the_first_row_holding_the_example() -> None:
    values = pd.Series([None, "3,25", " 2,5", "2,5", "4,5"], dtype=object, name="rate")
    with pytest.raises(DataError, match=r"decimal comma \(e\.g\. '2,5' on line 4\)"):
        reading.check_grouped_numbers(values, np.arange(2, 7), ReadOptions(), "f.csv")


def test_the_pandas_keywords_are_pandas_defaults_when_nothing_is_set() -> None:
    keywords = reading.pandas_options(ReadOptions(), ",")
    assert keywords["na_values"] is None and keywords["thousands"] is None and "parse_dates" not in keywords
    assert keywords["index_col"] is False and keywords["skipinitialspace"] is True


def test_parse_dates_follow_the_one_timestamp_rule_naive_utc() -> None:
    frame = pd.DataFrame({"when": ["2026-01-31T10:00:00+01:00", "2026-02-01T00:00:00Z", None]})
    parsed = reading.parse_dates(frame, ReadOptions(parse_dates=("when",)), np.array([2, 3, 4]), "f.csv")
    assert parsed["when"].dt.tz is None and parsed["when"][0].hour == 9 and pd.isna(parsed["when"][2])
