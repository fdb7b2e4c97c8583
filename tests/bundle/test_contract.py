"""Tests of the input contract: learning it, checking JSON records and CSV text, its pydantic schema."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlworkflow.bundle import contract as ct
from mlworkflow.errors import MlwError


def train_frame() -> pd.DataFrame:
    """Integers, floats with gaps, a boolean, text with gaps."""
    return pd.DataFrame({
        "age": pd.Series([20, 35, 50, 65], dtype="int64"),
        "income": [1.5, np.nan, 3.25, 4.0],
        "member": [True, False, True, True],
        "city": pd.Series(["north", " south", None, "east"], dtype="str"),
        "plan": ["a", "b", "a", "b"],
    })


@pytest.fixture()
def contract() -> ct.Contract:
    return ct.learn_contract(train_frame(), ["age", "income", "member"], ["city", "plan"], markers=["?"])


def good(**changes: Any) -> dict[str, Any]:
    """A valid record with some fields changed."""
    return {"age": 30, "income": 2.0, "member": True, "city": "north", "plan": "a", **changes}


def issues_of(contract: ct.Contract, record: Any, policy: ct.Policy = "reject") -> list[ct.Issue]:
    return ct.Validator(contract, policy).records([record]).issues


# --- learning ----------------------------------------------------------------------------------------


def test_learns_kinds_missing_categories_and_ranges(contract: ct.Contract) -> None:
    columns = {c.name: c for c in contract.columns}
    assert contract.names == ("age", "income", "member", "city", "plan")
    assert (columns["age"].kind, columns["age"].nullable, columns["age"].minimum, columns["age"].maximum) == (
        "integer", False, 20.0, 65.0)
    assert (columns["income"].kind, columns["income"].nullable) == ("number", True)
    assert columns["member"].kind == "boolean"
    assert columns["city"].categories == ("east", "north", "south")  # stripped, sorted
    assert columns["city"].nullable and not columns["plan"].nullable
    assert contract.missing_markers == ("?",)


def test_contract_round_trips_through_json(contract: ct.Contract) -> None:
    assert ct.Contract.model_validate_json(contract.model_dump_json()) == contract


def test_learning_names_a_column_missing_from_the_frame() -> None:
    with pytest.raises(MlwError, match="column 'ghost'"):
        ct.learn_contract(train_frame(), ["age", "ghost"], [])


def test_contract_table_lists_every_column(contract: ct.Contract) -> None:
    table = ct.contract_table(contract)
    assert list(table.index) == list(contract.names)
    assert table.loc["age", "seen"] == "20 to 65"
    assert table.loc["city", "seen"] == "east, north, south"


# --- JSON records --------------------------------------------------------------------------------------


def test_a_valid_record_passes_with_values_in_contract_order(contract: ct.Contract) -> None:
    checked = ct.Validator(contract, "reject").records([good(), good(income=None, city=None)])
    assert not checked.issues
    assert checked.rows == [[30.0, 2.0, 1.0, "north", "a"], [30.0, None, 1.0, None, "a"]]
    assert checked.flags == [[], []]
    assert checked.positions == [0, 1]


@pytest.mark.parametrize(
    ("record", "rule", "field"),
    [
        ({k: v for k, v in good().items() if k != "age"}, "required", "age"),
        (good(colour="red"), "unknown_field", "colour"),
        (good(age="forty"), "type", "age"),
        (good(age=True), "type", "age"),
        (good(age=30.5), "integer", "age"),
        (good(age=math.nan), "nullable", "age"),
        (good(plan=math.nan), "nullable", "plan"),
        (good(income=math.inf), "finite", "income"),
        (good(income=10**400), "finite", "income"),
        (good(age=None), "nullable", "age"),
        (good(plan=None), "nullable", "plan"),
        (good(member=1), "type", "member"),
        (good(city=5), "type", "city"),
        (good(city="west"), "category", "city"),
        (good(plan=["a"]), "type", "plan"),
    ],
)
def test_each_broken_rule_names_the_field_and_the_rule(
    contract: ct.Contract, record: dict[str, Any], rule: str, field: str
) -> None:
    issues = issues_of(contract, record)
    assert [(i.rule, i.field, i.row) for i in issues] == [(rule, field, 0)]
    assert issues[0].message.startswith(f"row 0, field '{field}': ")


def test_nan_means_missing_where_the_contract_allows_it(contract: ct.Contract) -> None:
    checked = ct.Validator(contract, "reject").records([good(income=math.nan, city=math.nan), good(city=float("nan"))])
    assert not checked.issues
    assert checked.rows == [[30.0, None, 1.0, None, "a"], [30.0, 2.0, 1.0, None, "a"]]


def test_nan_where_never_missing_is_refused_naming_the_field(contract: ct.Contract) -> None:
    (issue,) = issues_of(contract, good(plan=math.nan))
    assert (issue.rule, issue.field) == ("nullable", "plan")
    assert issue.message == "row 0, field 'plan': is required: it was never missing in training (NaN means missing)"
    (infinite,) = issues_of(contract, good(income=-math.inf))
    assert (infinite.rule, infinite.field) == ("finite", "income")


def test_the_text_nan_in_json_is_a_string_not_a_missing_value(contract: ct.Contract) -> None:
    (issue,) = issues_of(contract, good(city="NaN"))
    assert (issue.rule, issue.field) == ("category", "city")


def test_a_misspelt_field_is_missing_and_unknown_with_a_hint(contract: ct.Contract) -> None:
    record = {**{k: v for k, v in good().items() if k != "plan"}, "plann": "a"}
    required, unknown = issues_of(contract, record)
    assert (required.rule, required.field) == ("required", "plan")
    assert (unknown.rule, unknown.field) == ("unknown_field", "plann")
    assert unknown.message.endswith("Did you mean 'plan'?")


def test_every_problem_of_a_record_is_reported(contract: ct.Contract) -> None:
    issues = issues_of(contract, good(age="x", income=math.inf, city="west"))
    assert {(i.field, i.rule) for i in issues} == {("age", "type"), ("income", "finite"), ("city", "category")}


def test_a_record_must_be_an_object(contract: ct.Contract) -> None:
    (issue,) = issues_of(contract, [1, 2])
    assert (issue.rule, issue.field) == ("type", None)
    assert "a record is an object" in issue.message


def test_unseen_categories_are_flagged_under_the_flag_policy(contract: ct.Contract) -> None:
    checked = ct.Validator(contract, "flag").records([good(city="west")])
    assert not checked.issues
    assert checked.flags == [["city: unseen category 'west'"]]


def test_numbers_outside_the_training_range_are_flagged_not_refused(contract: ct.Contract) -> None:
    checked = ct.Validator(contract, "reject").records([good(age=99)])
    assert not checked.issues
    assert checked.flags == [["age: 99 is outside the training range 20 to 65"]]


def test_issues_are_capped(contract: ct.Contract) -> None:
    checked = ct.Validator(contract, "reject").records([good(age="x")] * 500)
    assert ct.MAX_ISSUES <= len(checked.issues) < ct.MAX_ISSUES + 5
    with pytest.raises(ct.ContractError) as caught:
        checked.raise_issues()
    assert len(caught.value.issues) == ct.MAX_ISSUES
    assert "(and 47 more)" in str(caught.value)


def test_issue_as_json_leaves_out_what_does_not_apply() -> None:
    issue = ct.Issue("type", "expected a number", "age", 2)
    assert issue.to_json() == {"row": 2, "field": "age", "rule": "type", "message": "row 2, field 'age': expected a number"}
    assert ct.Issue("csv", "bad", line=4).to_json() == {"line": 4, "rule": "csv", "message": "line 4: bad"}


# --- CSV text ----------------------------------------------------------------------------------------------


def csv_check(contract: ct.Contract, rows: list[list[str]], header: list[str] | None = None) -> ct.Checked:
    header = header or list(contract.names)
    return ct.Validator(contract, "reject").text_rows(header, rows, list(range(2, 2 + len(rows))))


def test_csv_text_is_cleaned_like_training_data(contract: ct.Contract) -> None:
    checked = csv_check(contract, [[" 30 ", "", "yes", " north ", "a"], ["40", "2.5", "0", "?", "b"]])
    assert not checked.issues
    assert checked.rows == [[30.0, None, 1.0, "north", "a"], [40.0, 2.5, 0.0, None, "b"]]


def test_csv_nan_and_null_mean_missing_where_allowed(contract: ct.Contract) -> None:
    rows = [["30", text, "true", text, "a"] for text in ("NaN", "nan", " null ", "NULL", "Null")]
    checked = csv_check(contract, [*rows, ["30", "-nan", "true", "north", "a"]])
    assert not checked.issues
    assert checked.rows == [[30.0, None, 1.0, None, "a"]] * 5 + [[30.0, None, 1.0, "north", "a"]]


def test_csv_null_stays_a_category_that_training_saw() -> None:
    frame = train_frame().assign(plan=["null", "b", "null", None])
    contract = ct.learn_contract(frame, ["age"], ["plan"])
    checked = ct.Validator(contract, "reject").text_rows(["age", "plan"], [["30", "null"], ["31", "NaN"]], [2, 3])
    assert not checked.issues
    assert checked.rows == [[30.0, "null"], [31.0, None]]


def test_csv_columns_may_come_in_any_order_with_extra_columns(contract: ct.Contract) -> None:
    header = ["id", "plan", "city", "member", "income", "age"]
    checked = csv_check(contract, [["7", "a", "east", "true", "1", "25"]], header)
    assert checked.rows == [[25.0, 1.0, 1.0, "east", "a"]]


@pytest.mark.parametrize(
    ("cells", "rule", "field"),
    [
        (["abc", "1", "true", "north", "a"], "type", "age"),
        (["nan", "1", "true", "north", "a"], "nullable", "age"),
        (["30", "1", "true", "north", "NULL"], "nullable", "plan"),
        (["30", "inf", "true", "north", "a"], "finite", "income"),
        (["30", "1", "maybe", "north", "a"], "type", "member"),
        (["", "1", "true", "north", "a"], "nullable", "age"),
        (["30", "1", "true", "west", "a"], "category", "city"),
        (["30", "1", "true", "north"], "shape", None),
    ],
)
def test_bad_csv_rows_are_reported_by_line(contract: ct.Contract, cells: list[str], rule: str, field: str | None) -> None:
    checked = csv_check(contract, [["30", "1", "true", "north", "a"], cells])
    assert checked.positions == [0]
    (issue,) = checked.issues
    assert (issue.rule, issue.field, issue.line) == (rule, field, 3)
    assert issue.message.startswith("line 3")


def test_a_header_without_a_contract_column_is_refused(contract: ct.Contract) -> None:
    with pytest.raises(ct.ContractError) as caught:
        csv_check(contract, [], ["age", "income"])
    assert [(i.field, i.rule, i.line) for i in caught.value.issues] == [
        ("member", "required", 1), ("city", "required", 1), ("plan", "required", 1)]


# --- the model's input, examples, the schema --------------------------------------------------------------


def test_to_frame_gives_floats_and_object_text(contract: ct.Contract) -> None:
    frame = ct.to_frame(contract, [[30.0, None, 1.0, None, "a"]])
    assert list(frame.columns) == list(contract.names)
    assert frame["income"].dtype == np.float64 and math.isnan(frame.loc[0, "income"])
    assert frame["city"].dtype == object and frame.loc[0, "city"] is np.nan


def test_example_records_satisfy_the_contract(contract: ct.Contract) -> None:
    records = ct.example_records(contract, 20)
    checked = ct.Validator(contract, "reject").records(records)
    assert not checked.issues and len(checked.rows) == 20
    assert any(r["income"] is None for r in records)


def test_record_schema_follows_the_contract_and_policy(contract: ct.Contract) -> None:
    schema = ct.record_model(contract, "reject").model_json_schema()
    properties = schema["properties"]
    assert set(schema["required"]) == set(contract.names)
    assert schema["additionalProperties"] is False
    assert properties["age"]["type"] == "integer"
    assert {"type": "null"} in properties["income"]["anyOf"]
    assert properties["plan"]["enum"] == ["a", "b"]
    assert "seen in training: 20 to 65" in properties["age"]["description"]
    flagged = ct.record_model(contract, "flag").model_json_schema()["properties"]
    assert flagged["plan"]["type"] == "string"


def test_pydantic_model_and_validator_agree(contract: ct.Contract) -> None:
    model = ct.record_model(contract, "reject")
    validator = ct.Validator(contract, "reject")
    cases = [good(), good(income=None), good(age="x"), good(city="west"), good(extra=1), good(age=None), good(member=2)]
    for record in cases:
        accepted = not validator.records([record]).issues
        try:
            model.model_validate(record)
            valid = True
        except ValidationError:
            valid = False
        assert accepted == valid, record


def test_a_free_text_column_takes_any_string_and_is_not_a_category() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "message": ["win a prize", None, "see you at lunch"]})
    contract = ct.learn_contract(train, ["x"], [], text=["message"])
    column = contract.columns[1]
    assert (column.kind, column.free_text, column.categories, column.nullable) == ("string", True, (), True)
    assert ct.seen_text(column) == "free text"
    assert ct.value_check(column, "reject")("a message never seen") == ("a message never seen", None)
    with pytest.raises(ct.Invalid, match="expected a string, found a number 3"):
        ct.value_check(column, "reject")(3)
    assert "free_text" not in contract.columns[0].model_dump(mode="json")  # other columns' JSON as before
    assert ct.Contract.model_validate(contract.model_dump(mode="json")) == contract


# --- timestamps ------------------------------------------------------------------------------------------


def timestamp_contract() -> ct.Contract:
    """A contract with a distance and two timestamp columns (one with gaps)."""
    train = pd.DataFrame({
        "distance": [1.5, 2.0, 3.0],
        "pickup": ["2019-03-01 10:00:00", "2019-03-02 11:00:00", "2019-03-03 12:00:00"],
        "dropoff": ["2019-03-01 10:20:00", None, "2019-03-03 12:30:00"],
    })
    return ct.learn_contract(train, ["distance"], [], datetime=["pickup", "dropoff"])


def test_timestamp_columns_are_strings_with_the_range_seen() -> None:
    contract = timestamp_contract()
    pickup = contract.columns[1]
    assert (pickup.name, pickup.kind, pickup.timestamp, pickup.nullable) == ("pickup", "string", True, False)
    assert pickup.minimum == pd.Timestamp("2019-03-01 10:00").timestamp()
    assert ct.seen_text(pickup) == "dates or times, 2019-03-01 10:00:00 to 2019-03-03 12:00:00"
    assert contract.columns[2].nullable
    assert "timestamp" not in contract.columns[0].model_dump(mode="json")  # old bundles' contracts read unchanged


def test_any_parseable_time_is_accepted_and_other_values_are_refused() -> None:
    validator = ct.Validator(timestamp_contract(), "reject")
    good = {"distance": 2.0, "pickup": "2020-07-01T08:00:00Z", "dropoff": None}
    checked = validator.records([good, {**good, "pickup": "soon"}, {**good, "pickup": 1_551_434_400}])
    assert checked.rows == [[2.0, "2020-07-01T08:00:00Z", None]]
    assert [(issue.row, issue.rule, issue.field) for issue in checked.issues] == [(1, "datetime", "pickup"), (2, "type", "pickup")]


def test_example_records_of_a_timestamp_contract_are_valid() -> None:
    contract = timestamp_contract()
    checked = ct.Validator(contract, "reject").records(ct.example_records(contract, 10))
    assert not checked.issues and len(checked.rows) == 10
    assert all(isinstance(value, str) for value in ct.to_frame(contract, checked.rows)["pickup"])


def day_first_contract() -> ct.Contract:
    """A contract learned from a file read with data.read.date_format '%d/%m/%Y' for `day` (not for `when`)."""
    from mlworkflow.params import ReadOptions

    read = ReadOptions(parse_dates=("day",), date_format="%d/%m/%Y")
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "day": pd.to_datetime(["03/04/2024", "13/04/2024", "30/05/2024"],
                                                                       format="%d/%m/%Y"),
                          "when": ["2024-04-03 10:00", "2024-04-13 11:00", "2024-05-30 12:00"]})
    return ct.learn_contract(train, ["x"], [], datetime=["day", "when"], read=read)


def test_a_date_format_travels_into_the_contract_and_parses_served_strings_as_training_did() -> None:
    contract = day_first_contract()
    day, when = contract.columns[1], contract.columns[2]
    assert (day.date_format, when.date_format) == ("%d/%m/%Y", None)  # only data.read.parse_dates columns
    assert ct.seen_text(day) == "dates or times in the format '%d/%m/%Y', 2024-04-03 00:00:00 to 2024-05-30 00:00:00"
    assert ct.Contract.model_validate(contract.model_dump(mode="json")) == contract
    assert "date_format" not in when.model_dump(mode="json")  # contracts without one read and write unchanged
    validator = ct.Validator(contract, "reject")
    good = {"x": 1.0, "day": "03/04/2024", "when": "2024-04-03 10:00"}
    checked = validator.records([good, {**good, "day": "2024-04-03"}])
    assert [(i.rule, i.field, i.reason) for i in checked.issues] == [
        ("datetime", "day", "expected a date or time in the format '%d/%m/%Y', found '2024-04-03'")]
    frame = ct.to_frame(contract, checked.rows)
    assert frame.loc[0, "day"] == pd.Timestamp("2024-04-03")  # 3 April, day first, not 4 March
    assert frame.loc[0, "when"] == "2024-04-03 10:00"  # parsed by the pipeline's one rule, as in training


def test_example_records_follow_the_date_format() -> None:
    contract = day_first_contract()
    records = ct.example_records(contract, 6)
    assert all(pd.to_datetime(r["day"], format="%d/%m/%Y") is not pd.NaT for r in records if r["day"] is not None)
    checked = ct.Validator(contract, "reject").records(records)
    assert not checked.issues and len(checked.rows) == 6


def test_parsed_training_times_are_sent_as_text_in_the_columns_format() -> None:
    contract = day_first_contract()
    day, when = contract.columns[1], contract.columns[2]
    assert ct.as_sent(day, pd.Timestamp("2024-04-03")) == "03/04/2024"
    assert ct.as_sent(when, pd.Timestamp("2024-04-03 10:00")) == "2024-04-03 10:00:00"  # ISO without a format
    assert ct.as_sent(day, pd.NaT) is None
    assert ct.as_sent(contract.columns[0], 2.5) == 2.5


# --- the reader options travel with the model (data.read) ----------------------------------------------------


def test_the_reader_options_parse_csv_text_as_training_read_its_file() -> None:
    from mlworkflow.params import ReadOptions

    read = ReadOptions(thousands=".", decimal=",", na_values=("none",), keep_default_na=False)
    learned = ct.learn_contract(train_frame(), ["age", "income", "member"], ["city", "plan"], read=read)
    header = ["age", "income", "member", "city", "plan"]
    checked = ct.Validator(learned, "flag").text_rows(header, [["30", "1.234,5", "true", "none", "NA"]], [2])
    assert checked.issues == [] and checked.rows[0][:2] == [30.0, 1234.5]
    assert checked.rows[0][3] is None and checked.rows[0][4] == "NA"  # NA is a value when keep_default_na is false


def test_by_default_the_pandas_missing_text_is_missing_in_csv_too(contract: ct.Contract) -> None:
    header = ["age", "income", "member", "city", "plan"]
    checked = ct.Validator(contract, "reject").text_rows(header, [["30", "N/A", "true", "NA", "a"]], [2])
    assert checked.issues == [] and checked.rows[0][1] is None and checked.rows[0][3] is None


def test_a_contract_keeps_its_reader_options_and_an_old_one_reads_with_the_defaults(contract: ct.Contract) -> None:
    from mlworkflow.params import ReadOptions

    assert '"read"' not in contract.model_dump_json()  # a default contract.json is as before
    assert ct.Contract.model_validate_json(contract.model_dump_json()).read == ReadOptions()
    custom = contract.model_copy(update={"read": ReadOptions(sep=";", encoding="latin-1")})
    assert ct.Contract.model_validate_json(custom.model_dump_json()).read.sep == ";"


def test_a_record_wider_than_the_limit_is_one_issue_found_before_any_name_is_compared(contract: ct.Contract) -> None:
    validator = ct.Validator(contract, "reject")
    record = {**{name: None for name in contract.names}, **{f"k{i}": i for i in range(32_768)}}
    (issue,) = validator.records([record]).issues
    limit = ct.max_fields(len(contract.names))
    assert (issue.rule, issue.row, issue.field) == ("max_fields", 0, None)
    assert f"{len(record)} fields, over the limit of {limit}" in issue.message


def test_unknown_names_are_reported_at_most_max_issues_times_and_shortened(contract: ct.Contract) -> None:
    names = ["x" * 10_000, *(f"k{i}" for i in range(ct.MAX_ISSUES + 10))]
    issues = ct.unknown_issues(iter(names), contract.names, "is not an input.", line=1)
    assert len(issues) == ct.MAX_ISSUES and {i.rule for i in issues} == {"unknown_field"}
    assert issues[0].field == "x" * ct.SHOWN_NAME + "…" and issues[0].line == 1


def test_a_header_within_the_limit_passes_the_width_check(contract: ct.Contract) -> None:
    inputs = len(contract.names)
    assert ct.width_issue(ct.max_fields(inputs, 2), inputs, 2, line=1) is None
    wide = ct.width_issue(ct.max_fields(inputs, 2) + 1, inputs, 2, line=1)
    assert wide is not None and wide.line == 1 and "2 passed through" in wide.message
