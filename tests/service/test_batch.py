"""Tests of batch scoring and `mlworkflow predict`: line numbers, stop or skip, passthrough columns."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlworkflow.bundle.contract import ContractError
from mlworkflow.errors import DataError
from mlworkflow.service import batch
from mlworkflow.service.predictor import Predictor
from mlworkflow.workflow import cli
from tests import servekit as kit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def predictor(tiny: kit.Tiny) -> Predictor:
    return Predictor(tiny.model.pipeline, tiny.model.metadata, tiny.contract, fast_path_rows=0)


def write_csv(path: Path, tiny: kit.Tiny, n: int, **columns: Any) -> Path:
    """n valid rows as CSV (missing values as empty fields), with extra or replaced columns."""
    frame = pd.DataFrame(tiny.records(n))
    for name, values in columns.items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def test_parse_csv_tracks_the_first_line_of_each_row() -> None:
    table = batch.parse_csv('a,b\n1,"two\nlines"\n\n3,x\n')
    assert table.header == ["a", "b"]
    assert table.rows == [["1", "two\nlines"], ["3", "x"]]
    assert table.lines == [2, 5]


def test_parse_csv_refuses_empty_and_malformed_text() -> None:
    with pytest.raises(ContractError, match="the CSV is empty"):
        batch.parse_csv("")
    with pytest.raises(ContractError, match="malformed CSV"):
        batch.parse_csv('a,b\n1,"x"y\n')


def test_a_good_file_is_scored_row_by_row(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 30)
    result = batch.score_file(predictor, source, tmp_path / "out" / "p.csv", "reject")
    out = pd.read_csv(tmp_path / "out" / "p.csv", keep_default_na=False)
    assert (result.rows, result.scored, result.issues) == (30, 30, [])
    assert list(out.columns) == ["line", "prediction", "proba_<=50K", "proba_>50K", "flags"]
    assert list(out["line"]) == list(range(2, 32))
    frame = pd.read_csv(source, keep_default_na=False)
    expected = tiny.model.pipeline.predict_proba(batch_frame(frame, tiny))[:, 1]
    assert out["proba_>50K"].tolist() == pytest.approx(expected.tolist(), abs=1e-12)


def batch_frame(frame: pd.DataFrame, tiny: kit.Tiny) -> pd.DataFrame:
    """The CSV rows as the model's frame (empty text means missing)."""
    from mlworkflow.bundle.contract import Validator, to_frame

    checked = Validator(tiny.contract, "reject").text_rows(list(frame.columns), frame.astype(str).values.tolist(),
                                                            list(range(2, 2 + len(frame))))
    return to_frame(tiny.contract, checked.rows)


def bad_file(tmp_path: Path, tiny: kit.Tiny) -> Path:
    """Ten rows; line 4 has a text age, line 7 an unseen category."""
    path = write_csv(tmp_path / "in.csv", tiny, 10)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[2, "age"] = "forty"
    frame.loc[5, "workclass"] = "Astronaut"
    frame.to_csv(path, index=False)
    return path


def test_bad_rows_stop_the_job_and_name_their_lines(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    with pytest.raises(ContractError) as caught:
        batch.score_file(predictor, bad_file(tmp_path, tiny), tmp_path / "p.csv", "reject")
    assert [(i.line, i.field, i.rule) for i in caught.value.issues] == [(4, "age", "type"), (7, "workclass", "category")]
    assert not (tmp_path / "p.csv").exists()


def test_bad_rows_can_be_skipped(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    result = batch.score_file(predictor, bad_file(tmp_path, tiny), tmp_path / "p.csv", "reject", on_error="skip")
    assert (result.rows, result.scored, result.bad_lines) == (10, 8, [4, 7])
    assert 4 not in pd.read_csv(tmp_path / "p.csv")["line"].tolist()


def test_flag_policy_scores_unseen_categories_with_a_flag(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 3, workclass=["Astronaut", "Private", "Private"])
    batch.score_file(predictor, source, tmp_path / "p.csv", "flag")
    flags = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)["flags"].tolist()
    assert flags == ["workclass: unseen category 'Astronaut'", "", ""]


def test_passthrough_columns_are_copied_and_others_refused(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 3, customer=["a", "b", "c"], income=["x", "y", "z"])
    with pytest.raises(ContractError) as caught:
        batch.score_file(predictor, source, tmp_path / "p.csv", "reject", passthrough=["customer"])
    assert [(i.field, i.rule, i.line) for i in caught.value.issues] == [("income", "unknown_field", 1)]
    batch.score_file(predictor, source, tmp_path / "p.csv", "reject", passthrough=["customer", "income"])
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns[:3]) == ["line", "customer", "income"] and out["customer"].tolist() == ["a", "b", "c"]


def test_header_problems_are_reported_at_line_1(tiny: kit.Tiny) -> None:
    header = [*tiny.contract.names[1:], "race"]
    with pytest.raises(ContractError) as caught:
        batch.check_header(header, tiny.contract, ())
    assert {(i.field, i.rule, i.line) for i in caught.value.issues} == {("age", "required", 1), ("race", "duplicate", 1)}


def test_gzip_input_and_missing_files(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    plain = write_csv(tmp_path / "in.csv", tiny, 4)
    packed = tmp_path / "in.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert batch.score_file(predictor, packed, tmp_path / "p.csv", "reject").scored == 4
    with pytest.raises(DataError, match="file not found"):
        batch.read_text(tmp_path / "nope.csv")


def test_every_row_bad_writes_a_header_only(tmp_path: Path, tiny: kit.Tiny, predictor: Predictor) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 2, age=["x", "y"])
    result = batch.score_file(predictor, source, tmp_path / "p.csv", "reject", on_error="skip")
    assert result.scored == 0
    assert list(pd.read_csv(tmp_path / "p.csv").columns) == ["line", "prediction", "proba_<=50K", "proba_>50K", "flags"]


# --- the command ----------------------------------------------------------------------------------------


def predict(tmp_path: Path, tiny: kit.Tiny, source: Path, *extra: str) -> int:
    return cli.main(["predict", "--model", "tiny@champion", "--input", str(source), "--output", str(tmp_path / "p.csv"),
                     "--registry", str(tiny.registry.root), *extra])


def test_predict_command(tmp_path: Path, tiny: kit.Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 5)
    assert predict(tmp_path, tiny, source) == 0
    assert capsys.readouterr().out.strip() == f"scored 5 of 5 rows with tiny@1 → {tmp_path / 'p.csv'}"


def test_predict_command_stops_on_bad_rows(tmp_path: Path, tiny: kit.Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    source = bad_file(tmp_path, tiny)
    assert predict(tmp_path, tiny, source) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("line 4, field 'age': expected a number, found 'forty'")
    assert "line 7, field 'workclass'" in err[1] and "nothing written" in err[-1]
    assert predict(tmp_path, tiny, source, "--on-error", "skip", "--errors", str(tmp_path / "bad.csv")) == 0
    captured = capsys.readouterr()
    assert "scored 8 of 10 rows" in captured.out and "2 bad row(s) skipped" in captured.out
    assert pd.read_csv(tmp_path / "bad.csv")["line"].tolist() == [4, 7]


def test_predict_command_names_a_missing_model(tmp_path: Path, tiny: kit.Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", tiny, 1)
    code = cli.main(["predict", "--model", "tiny@challenger", "--input", str(source), "--output", str(tmp_path / "p.csv"),
                     "--registry", str(tiny.registry.root)])
    assert code == 2 and "no version or alias 'challenger'" in capsys.readouterr().err


def test_a_file_is_read_with_the_reader_options_the_model_kept(tmp_path: Path, tiny: kit.Tiny) -> None:
    from mlworkflow.params import ReadOptions

    contract = tiny.contract.model_copy(update={"read": ReadOptions(sep=";", encoding="latin-1")})
    predictor = Predictor(tiny.model.pipeline, tiny.model.metadata, contract, fast_path_rows=0)
    frame = pd.DataFrame(tiny.records(4))
    path = tmp_path / "in.csv"
    path.write_bytes(frame.to_csv(index=False, sep=";").encode("latin-1"))
    result = batch.score_file(predictor, path, tmp_path / "out.csv", "reject")
    assert (result.rows, result.scored, result.issues) == (4, 4, [])


def test_the_separator_is_sniffed_when_the_model_kept_none() -> None:
    from mlworkflow.params import ReadOptions

    assert batch.text_separator("a;b\n1;2\n", ReadOptions()) == ";"
    assert batch.text_separator("a,b\n1,2\n", ReadOptions(), "x.tsv") == "\t"
    assert batch.text_separator("a;b\n", ReadOptions(sep="|")) == "|"
