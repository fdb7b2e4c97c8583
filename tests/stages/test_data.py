"""Stage `data`: collect, check the target, profile, flag identifiers and leaks, data.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from mlworkflow import io
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError
from mlworkflow.params import DataParams
from mlworkflow.stages import data

N = 200


def frame_for(task: str, n: int = N, seed: int = 0) -> pd.DataFrame:
    """A small frame with noise features, an id, free text, and a target of the given task."""
    rng = np.random.default_rng(seed)
    targets = {
        "binary": rng.choice(["no", "yes"], n, p=[0.7, 0.3]),
        "multiclass": rng.choice(["a", "b", "c"], n),
        "regression": rng.normal(100.0, 15.0, n),
    }
    return pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "note": [f"free text {i} {'x' * (i % 7)}" for i in range(n)],
            "y": targets[task],
        }
    )


def params(tmp_path: Path, frame: pd.DataFrame | None = None, **fields: object) -> DataParams:
    path = tmp_path / "d.csv"
    (frame if frame is not None else frame_for("binary")).to_csv(path, index=False)
    return DataParams(path=str(path), **{"target": "y", **fields})


def target_of(frame: pd.DataFrame, tmp_path: Path, **fields: object) -> Target:
    return data.check_target(frame, params(tmp_path, frame, **fields))[1]


# --- collect -------------------------------------------------------------------------------------


def test_source_label_is_the_file_name_or_the_url_without_password(tmp_path: Path) -> None:
    assert data.source_label(params(tmp_path)) == "d.csv"
    sql = DataParams(sql_url="postgresql://me:s3cret@host/db", sql_query="t", target="y")
    assert data.source_label(sql) == "postgresql://me:***@host/db"


def test_read_source_hashes_the_file_bytes(tmp_path: Path) -> None:
    p = params(tmp_path)
    frame, sha = data.read_source(p)
    assert frame.shape == (N, 6)
    assert sha == io.file_sha256(tmp_path / "d.csv")


def test_read_source_reads_a_sqlite_file_and_hashes_the_frame(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = sqlalchemy.create_engine(url)
    frame_for("binary").to_sql("rows", engine, index=False)
    engine.dispose()
    frame, sha = data.read_source(DataParams(sql_url=url, sql_query="SELECT * FROM rows LIMIT 50", target="y"))
    assert frame.shape == (50, 6)
    assert sha == io.frame_sha256(frame)


def test_read_source_of_a_corrupt_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot parse file") as caught:
        data.read_source(DataParams(path=str(path), target="y"))
    assert caught.value.source == str(path)


def test_sample_keeps_source_order_and_is_seeded() -> None:
    frame = frame_for("binary")
    first = data.sample(frame, 50, seed=1)
    assert len(first) == 50
    assert first["id"].is_monotonic_increasing
    assert list(first.index) == list(range(50))
    pd.testing.assert_frame_equal(first, data.sample(frame, 50, seed=1))
    assert not first.equals(data.sample(frame, 50, seed=2))


@pytest.mark.parametrize("rows", [None, N, N + 1])
def test_sample_keeps_everything_when_rows_is_none_or_large(rows: int | None) -> None:
    frame = frame_for("binary")
    assert data.sample(frame, rows, seed=0) is frame


def test_read_table_applies_the_reader_options_and_says_how(tmp_path: Path) -> None:
    from mlworkflow.params import ReadOptions

    frame = frame_for("binary").assign(when=pd.date_range("2026-01-01", periods=N, freq="h").strftime("%d.%m.%Y %H:%M"))
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    read = ReadOptions(decimal=",", parse_dates=("when",), date_format="%d.%m.%Y %H:%M")
    parsed, sha = data.read_table(DataParams(path=str(path), target="y", read=read))
    assert parsed.frame["x"].dtype == "float64" and parsed.frame["when"].dt.hour.tolist()[:3] == [0, 1, 2]
    assert (parsed.report.sep, parsed.report.sep_from, parsed.report.options) == (";", "sniffed", read)
    assert sha == io.file_sha256(path)


def test_the_summary_keeps_how_the_source_was_read_and_the_options_for_the_model(tmp_path: Path) -> None:
    p = params(tmp_path)
    parsed, sha = data.read_table(p)
    kept, target, dropped = data.check_target(parsed.frame, p)
    record = data.summary(p, sha, kept, target, data.profile(kept, target, 0.98, 0), N, dropped, reading=parsed.report)
    assert record.reading is not None and record.reading.sep == "," and record.reading.format == "csv"
    assert "reading" not in data.summary(p, sha, kept, target, data.profile(kept, target, 0.98, 0), N, 0).model_dump()


def test_a_misread_file_stops_the_stage_naming_the_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    frame_for("binary").assign(x=["inf"] + ["1.5"] * (N - 1)).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'x': holds 1 infinite value\(s\), e\.g\. inf on line 2"):
        data.read_source(DataParams(path=str(path), target="y"))


def test_collect_reads_and_samples(tmp_path: Path) -> None:
    frame, sha = data.collect(params(tmp_path, sample_rows=40), seed=3)
    assert len(frame) == 40
    assert sha == io.file_sha256(tmp_path / "d.csv")


# --- target --------------------------------------------------------------------------------------


def test_class_labels_are_sorted_strings_without_missing() -> None:
    assert data.class_labels(pd.Series([3, 1, None, 2, 1])) == ("1.0", "2.0", "3.0")
    assert data.class_labels(pd.Series(["b", "a", "b"])) == ("a", "b")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["no", "yes", "no"], "binary"),
        ([0, 1, 1], "binary"),
        ([True, False, True], "binary"),
        (["a", "b", "c"], "multiclass"),
        (list(range(20)), "multiclass"),
        (list(range(21)), "regression"),
        ([0.5, 1.5, 0.5], "regression"),
        ([1.0, 2.0, 3.0], "multiclass"),
    ],
)
def test_detect_task_infers_the_task(values: list[object], task: str) -> None:
    assert data.detect_task(pd.Series(values, name="y")) == task


@pytest.mark.parametrize(("requested", "values"), [("binary", [0, 1]), ("multiclass", [1, 2, 3]),
                                                   ("regression", [1, 2, 3])])
def test_detect_task_honours_a_valid_request(requested: str, values: list[int]) -> None:
    assert data.detect_task(pd.Series(values, name="y"), requested) == requested


@pytest.mark.parametrize(
    ("values", "requested", "reason"),
    [
        (["a", "a"], "auto", "target is constant (every row is 'a')"),
        ([], "auto", "target is constant (every row is 'nothing')"),
        (["a", "b"], "regression", "task 'regression' needs a numeric target, found dtype"),
        (["a", "b", "c"], "binary", "task 'binary' needs exactly 2 classes, found 3: 'a', 'b', 'c'"),
        (["a", "b"], "multiclass", "task 'multiclass' needs 3 or more classes"),
    ],
)
def test_detect_task_errors_name_column_and_reason(values: list[object], requested: str, reason: str) -> None:
    with pytest.raises(DataError) as caught:
        data.detect_task(pd.Series(values, name="y", dtype=object if values else float), requested)
    assert caught.value.column == "y"
    assert reason in caught.value.reason
    assert str(caught.value).startswith("column 'y': ")


def test_a_class_with_one_row_is_an_error() -> None:
    with pytest.raises(DataError, match=r"column 'y': class 'c' has only 1 row; every class needs 2"):
        data.check_class_sizes(pd.Series(["a", "a", "b", "b", "c"], name="y"))
    data.check_class_sizes(pd.Series(["a", "a", "b", "b"], name="y"))


def test_positive_class_is_the_minority_class_or_the_requested_one() -> None:
    y = pd.Series(["no", "no", "yes"], name="y")
    assert data.positive_class(y, None) == "yes"
    assert data.positive_class(y, "no") == "no"
    assert data.positive_class(pd.Series([0, 1, 0, 1], name="y"), None) == "1"  # a tie: the last label


def test_unknown_positive_class_names_column_classes_and_suggests() -> None:
    with pytest.raises(DataError) as caught:
        data.positive_class(pd.Series(["no", "yes"], name="y"), "Yes")
    assert caught.value.column == "y"
    assert "positive_class 'Yes' is not a class; classes are ['no', 'yes']. Did you mean 'yes'?" in str(caught.value)


def test_check_target_describes_a_binary_target(tmp_path: Path) -> None:
    frame = frame_for("binary")
    kept, target, dropped = data.check_target(frame, params(tmp_path, frame))
    assert (target, dropped) == (Target("y", "binary", ("no", "yes"), "yes"), 0)
    assert kept.shape == frame.shape
    assert data.describe_target(target) == "y (binary)"


def test_check_target_drops_rows_without_target_and_counts_them(tmp_path: Path) -> None:
    frame = frame_for("multiclass").astype({"y": object})
    frame.loc[[3, 7, 9], "y"] = None
    kept, target, dropped = data.check_target(frame, params(tmp_path, frame))
    assert (target.task, target.classes, target.positive) == ("multiclass", ("a", "b", "c"), None)
    assert dropped == 3
    assert len(kept) == N - 3
    assert kept["y"].notna().all()


def test_an_integer_target_with_gaps_keeps_integer_labels(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": range(6), "y": [0.0, 1.0, None, 1.0, 0.0, 1.0]})
    kept, target, _ = data.check_target(frame, params(tmp_path, frame))
    assert target.classes == ("0", "1")
    assert target.positive == "0"
    assert kept["y"].dtype == "int64"


def test_check_target_regression(tmp_path: Path) -> None:
    target = target_of(frame_for("regression"), tmp_path)
    assert target == Target("y", "regression", (), None)


def test_missing_target_names_column_source_and_suggests(tmp_path: Path) -> None:
    frame = frame_for("binary")
    with pytest.raises(DataError) as caught:
        data.check_target(frame, params(tmp_path, frame, target="colur"))
    message = str(caught.value)
    assert message.startswith("d.csv: column 'colur': target column not found among the 6 columns (id, x, k, ")
    assert message.endswith("Did you mean 'colour'?")


def test_target_missing_in_every_row(tmp_path: Path) -> None:
    frame = frame_for("binary").assign(y=None)
    p = params(tmp_path, frame_for("binary"))
    with pytest.raises(DataError, match=r"^d.csv: column 'y': target is missing in every row$"):
        data.check_target(frame, p)


def test_constant_target_names_the_source_column_and_value(tmp_path: Path) -> None:
    frame = frame_for("binary").assign(y="no")
    with pytest.raises(DataError, match=r"^d.csv: column 'y': target is constant \(every row is 'no'\)"):
        data.check_target(frame, params(tmp_path, frame))


def test_regression_on_text_is_an_error(tmp_path: Path) -> None:
    frame = frame_for("binary")
    with pytest.raises(DataError, match="column 'y': task 'regression' needs a numeric target"):
        data.check_target(frame, params(tmp_path, frame, task="regression"))


def test_positive_class_must_be_a_class_and_only_for_binary(tmp_path: Path) -> None:
    binary, multiclass = frame_for("binary"), frame_for("multiclass")
    assert target_of(binary, tmp_path, positive_class="no").positive == "no"
    with pytest.raises(DataError, match="column 'y': positive_class 'maybe' is not a class"):
        target_of(binary, tmp_path, positive_class="maybe")
    with pytest.raises(DataError, match="column 'y': positive_class 'a' is only used for a binary target"):
        target_of(multiclass, tmp_path, positive_class="a")


def test_a_numeric_positive_class_from_yaml_or_papermill_is_a_label(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": range(6), "y": [0, 1, 0, 1, 0, 0]})
    assert target_of(frame, tmp_path, positive_class=0).positive == "0"


# --- profile tables ------------------------------------------------------------------------------


def test_numeric_and_categorical_columns() -> None:
    frame = frame_for("binary").assign(flag=True, when=pd.Timestamp("2024-01-01"))
    assert data.numeric_columns(frame, ("y",)) == ["id", "x", "k"]
    assert data.categorical_columns(frame, ("y",)) == ["colour", "note", "flag"]


def test_column_table_counts_missing_and_distinct() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0, None], "b": ["x", "x", "y", "z"]})
    table = data.column_table(frame)
    assert table.loc["a", ["missing", "missing share", "distinct"]].tolist() == [2, 0.5, 2]
    assert table.loc["b", ["missing", "distinct"]].tolist() == [0, 3]


def test_balance_table_per_class_and_for_regression(tmp_path: Path) -> None:
    frame = pd.DataFrame({"y": ["a", "b", "b", "b"]})
    target = Target("y", "binary", ("a", "b"), "a")
    assert data.balance_table(frame, target).to_dict("index") == {"a": {"rows": 1, "share": 0.25},
                                                                 "b": {"rows": 3, "share": 0.75}}
    numbers = pd.DataFrame({"y": [1.0, 2.0, 3.0]})
    table = data.balance_table(numbers, Target("y", "regression"))
    assert table.loc["mean", "y"] == 2.0


def test_numeric_table_summarises_features_only() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "y": [0.1, 0.2, 0.3]})
    table = data.numeric_table(frame, Target("y", "regression"))
    assert list(table.index) == ["a"]
    assert table.loc["a", "mean"] == 2.0
    assert data.numeric_table(frame[["b", "y"]], Target("y", "regression")).empty


def test_category_table_keeps_the_top_levels_and_shows_missing() -> None:
    frame = pd.DataFrame({"c": ["a", "a", "b", None, "c", "a"], "y": [0, 1, 0, 1, 0, 1]})
    table = data.category_table(frame, Target("y", "binary", ("0", "1"), "1"), top=2)
    assert table[["level", "rows"]].values.tolist() == [["a", 3], ["b", 1]]
    assert set(table["levels"]) == {4}
    full = data.category_table(frame, Target("y", "binary", ("0", "1"), "1"))
    assert "(missing)" in set(full["level"])


def test_correlations_include_a_binary_target_as_positive_indicator() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 2.0, 1.0], "y": ["n", "n", "p", "p"]})
    target = Target("y", "binary", ("n", "p"), "p")
    pearson = data.correlations(frame, target, "pearson")
    assert list(pearson.columns) == ["a", "b", "y"]
    assert pearson.loc["a", "b"] == -1.0
    assert pearson.loc["a", "y"] > 0.8
    multiclass = Target("y", "multiclass", ("n", "p", "q"))
    assert list(data.correlations(frame, multiclass, "spearman").columns) == ["a", "b"]


# --- identifiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        ("id", "unique per row (200 distinct values in 200 rows)"),
        ("note", "unique per row (200 distinct values in 200 rows)"),
        ("ticket", "nearly unique codes (150 distinct values in 200 rows, 1.0 words per value)"),
    ],
)
def test_identifiers_are_flagged_with_a_reason(column: str, reason: str) -> None:
    frame = frame_for("binary").assign(ticket=[f"TK-{i % 150}" for i in range(N)])
    assert data.find_identifiers(frame, "y")[column] == reason


def test_features_are_not_identifiers() -> None:
    frame = frame_for("binary").assign(
        measure=np.linspace(0, 1, N),  # a float unique per row is a measurement
        number_text=[f"{v:.2f}" if v else " " for v in np.linspace(0, 50, N)],  # numbers stored as text
        flag=[True, False] * (N // 2),
    )
    flagged = data.find_identifiers(frame, "y")
    assert set(flagged) == {"id", "note"}


def test_the_target_and_tiny_frames_are_never_identifiers() -> None:
    frame = pd.DataFrame({"id": range(N), "y": [0, 1] * (N // 2)})
    assert data.find_identifiers(frame, "id") == {}
    assert data.find_identifiers(frame.head(10), "y") == {}


def test_a_mostly_filled_unique_column_is_an_identifier() -> None:
    codes = pd.Series([f"C{i}" for i in range(N)]).where(np.arange(N) % 20 != 0)
    assert data.identifier_reason(codes) == "unique per row (190 distinct values in 200 rows)"


# --- leaks ---------------------------------------------------------------------------------------


def test_group_codes_by_value_by_quantile_bin_and_missing_as_a_group() -> None:
    codes = data.group_codes(pd.Series(["a", "b", None, "a"]))
    assert codes.tolist() == [0, 1, 2, 0]
    binned = data.group_codes(pd.Series(np.arange(100.0)), bins=4)
    assert np.bincount(binned).tolist() == [25, 25, 25, 25]
    assert data.group_codes(pd.Series([1.0, None, 1.0])).tolist() == [0, 1, 0]


def test_out_of_fold_means_use_only_other_folds() -> None:
    codes = np.array([0, 0, 0, 1, 1, 2])
    folds = np.array([0, 1, 1, 0, 1, 0])
    y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [1.0]])
    means = data.out_of_fold_means(codes, folds, y)[:, 0]
    # row 0 (fold 0, group 0) sees rows 1 and 2; row 5's group is absent elsewhere: fold 1's mean (2/3)
    assert means.tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.0, 2 / 3])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_copy_of_the_target_is_a_leak_and_noise_is_not(tmp_path: Path, task: str) -> None:
    frame = frame_for(task, n=400)
    relabel = frame["y"] * 2 + 1 if task == "regression" else "code-" + frame["y"].astype(str)
    frame = frame.assign(copy=relabel)
    target = target_of(frame, tmp_path)
    scores = data.leak_scores(frame, target, seed=0)
    assert scores.index[0] == "copy"
    assert scores.loc["copy", "score"] >= 0.99
    assert scores.drop("copy")["score"].max() < 0.8
    assert set(data.find_leaks(scores, 0.98)) == {"copy"}


def test_a_near_perfect_numeric_threshold_is_a_leak(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = frame_for("binary", n=600).assign(after=lambda d: (d["y"] == "yes") * 5 + rng.normal(0, 0.5, 600))
    target = target_of(frame, tmp_path)
    leaks = data.find_leaks(data.leak_scores(frame, target, seed=0), 0.98)
    assert list(leaks) == ["after"]
    assert leaks["after"].startswith("alone predicts the target: ROC AUC 1.000")


def test_numbers_stored_as_text_are_scored_as_numbers(tmp_path: Path) -> None:
    frame = frame_for("regression").assign(text=lambda d: d["y"].map("{:.3f}".format))
    scores = data.leak_scores(frame, target_of(frame, tmp_path), seed=0)
    assert scores.loc["text", "score"] >= 0.99
    assert scores.loc["text", "metric"] == "R² (or |Spearman ρ|)"


def test_leak_scores_are_seeded(tmp_path: Path) -> None:
    frame = frame_for("binary")
    target = target_of(frame, tmp_path)
    pd.testing.assert_frame_equal(data.leak_scores(frame, target, 5), data.leak_scores(frame, target, 5))


def test_a_class_absent_from_the_sample_scores_nan() -> None:
    truth = np.array([[0.0], [0.0]])
    assert np.isnan(data._score(truth, truth, "binary"))


# --- profile and data.json -----------------------------------------------------------------------


def test_profile_is_json_serialisable(tmp_path: Path) -> None:
    frame = frame_for("binary")
    frame.loc[[1, 2], "x"] = np.nan
    target = target_of(frame, tmp_path)
    result = data.profile(frame, target, 0.98, seed=0)
    document = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert document["columns"]["x"]["missing"] == 2
    assert document["balance"]["yes"]["rows"] == int((frame["y"] == "yes").sum())
    assert set(document["identifiers"]) == {"id", "note"}
    assert document["leaks"] == {}
    assert document["leak_scores"]["x"]["metric"] == "ROC AUC"


def test_headline(tmp_path: Path) -> None:
    frame = frame_for("binary").assign(copy=lambda d: d["y"])
    target = target_of(frame, tmp_path)
    result = data.profile(frame, target, 0.98, seed=0)
    rate = f"{(frame['y'] == 'yes').mean():.1%}"
    assert data.headline(frame, target, result) == {
        "rows": N, "columns": 7, "target": "y (binary)", "positive rate": rate, "flags": "2 identifiers, 1 leaks"}


@pytest.mark.parametrize(("task", "key"), [("multiclass", "classes"), ("regression", "target mean")])
def test_headline_per_task(tmp_path: Path, task: str, key: str) -> None:
    frame = frame_for(task)
    target = target_of(frame, tmp_path)
    line = data.headline(frame, target, data.profile(frame, target, 0.98, 0))
    assert key in line
    assert 3 <= len(line) <= 6


def test_summary_follows_the_artifact_contract(tmp_path: Path) -> None:
    frame = frame_for("binary")
    p = params(tmp_path, frame)
    kept, target, dropped = data.check_target(frame, p)
    result = data.profile(kept, target, p.leak_threshold, 0)
    document = json.loads(json.dumps(data.summary(p, "ab" * 32, kept, target, result, 500, dropped).model_dump(), allow_nan=False))
    assert document["source"] == p.path
    assert (document["sha256"], document["rows"], document["columns"], document["source_rows"]) == (
        "ab" * 32, N, 6, 500)
    assert (document["target"], document["task"], document["classes"]) == ("y", "binary", ["no", "yes"])
    assert document["positive_class"] == "yes"
    assert (document["identifiers"], document["leaks"]) == (["id", "note"], [])
    assert document["headline"]["target"] == "y (binary)"


def test_summary_of_a_sql_source_hides_the_password() -> None:
    p = DataParams(sql_url="postgresql://me:s3cret@host/db", sql_query="t", target="y")
    frame = frame_for("multiclass")
    target = Target("y", "multiclass", ("a", "b", "c"))
    document = data.summary(p, "0" * 64, frame, target, data.profile(frame, target, 0.98, 0), N, 0)
    assert document.source == "postgresql://me:***@host/db"
    assert document.sql_query == "t"


# --- the shared real datasets --------------------------------------------------------------------


def shared_profile(shared_data: Path, name: str, target: str, rows: int | None = None) -> data.Profile:
    p = DataParams(path=str(shared_data / name), target=target, sample_rows=rows)
    frame, _ = data.collect(p, seed=42)
    frame, checked, _ = data.check_target(frame, p)
    return data.profile(frame, checked, p.leak_threshold, seed=42)


@pytest.mark.shared
def test_titanic_identifiers_are_flagged_and_names_are_text(shared_data: Path) -> None:
    result = shared_profile(shared_data, "titanic.csv", "Survived")
    assert set(result.identifiers) == {"PassengerId", "Ticket"}
    assert result.roles["Name"].role == "text"  # free text is a feature, not an identifier
    assert result.leaks == {}


def test_profile_correlates_a_seeded_sample_of_a_large_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = frame_for("binary", n=400)
    target = target_of(frame, tmp_path)
    monkeypatch.setattr(data, "CORRELATION_ROWS", 100)
    result = data.profile(frame, target, 0.98, seed=3)
    expected = data.correlations(data.sample(frame, 100, 3), target, "spearman")
    pd.testing.assert_frame_equal(result.spearman, expected)
    assert not result.spearman.equals(data.correlations(frame, target, "spearman"))
    assert result.columns.loc["x", "missing"] == 0 and int(result.balance["rows"].sum()) == 400  # the rest: every row


def test_profile_records_every_column_role_with_its_reason() -> None:
    templates = ["call now to win a cash prize", "see you at lunch tomorrow", "free entry in our weekly draw"]
    messages = [f"{templates[i % 3]} {i}" for i in range(N)]  # unique per row, but words repeat: free text
    frame = frame_for("binary").assign(message=messages)
    result = data.profile(frame, Target("y", "binary", ("no", "yes"), "yes"), 0.98, seed=0)
    assert {c: r.role for c, r in result.roles.items()} == {
        "id": "identifier", "x": "numeric", "k": "numeric", "colour": "categorical", "note": "identifier",
        "message": "text",
    }
    assert "message" not in result.identifiers
    assert result.to_json()["roles"]["colour"] == {"role": "categorical", "reason": "categories (3 levels)"}


@pytest.mark.shared
def test_telco_customer_id_is_flagged_but_not_total_charges(shared_data: Path) -> None:
    result = shared_profile(shared_data, "telco_churn.csv", "Churn")
    assert set(result.identifiers) == {"customerID"}
    assert result.leaks == {}


@pytest.mark.shared
@pytest.mark.parametrize("rows", [None, 2000])
def test_adult_has_no_flags(shared_data: Path, rows: int | None) -> None:
    result = shared_profile(shared_data, "adult_train.csv", "income", rows)
    assert result.identifiers == {}
    assert result.leaks == {}
    assert result.leak_scores["score"].max() < 0.85


@pytest.mark.shared
def test_adult_leak_scoring_finds_a_relabelled_target(shared_data: Path) -> None:
    frame = io.read_file(shared_data / "adult_train.csv")
    frame["rich"] = frame["income"].map({"<=50K": "no", ">50K": "yes"})
    target = Target("income", "binary", ("<=50K", ">50K"), ">50K")
    scores = data.leak_scores(frame, target, seed=42)  # no wall-clock assert: these machines are noisy
    assert list(data.find_leaks(scores, 0.98)) == ["rich"]


@pytest.mark.shared
def test_taxis_total_is_a_leak_at_the_default_threshold_and_california_has_none(shared_data: Path) -> None:
    taxis = shared_profile(shared_data, "taxis.csv", "fare")
    assert taxis.leak_scores.loc["total", "score"] < 0.98  # alone it predicts fare only about as well as distance
    assert list(taxis.leaks) == ["total"]  # tip and tolls complete it: fare = total - tip - tolls - surcharges
    assert taxis.leaks["total"].startswith("with tip and tolls recovers the target almost exactly: fare ≈ ")
    assert taxis.roles["total"].role == "leak"
    assert shared_profile(shared_data, "california_housing.csv", "median_house_value").leaks == {}


@pytest.mark.shared
def test_penguins_is_multiclass_without_flags(shared_data: Path) -> None:
    p = DataParams(path=str(shared_data / "penguins.csv"), target="species")
    frame, target, _ = data.check_target(data.collect(p, 42)[0], p)
    assert (target.task, target.classes) == ("multiclass", ("Adelie", "Chinstrap", "Gentoo"))
    result = data.profile(frame, target, p.leak_threshold, 42)
    assert (result.identifiers, result.leaks) == ({}, {})


# --- a derived target ----------------------------------------------------------------------------------


def test_target_expression_derives_the_target_and_removes_what_it_reads(tmp_path: Path) -> None:
    frame = pd.DataFrame({"num": [0, 1, 2, 0, 3, 0, None, 4], "x": range(8)})
    fields = {"target": "disease", "target_expression": "num > 0"}
    kept, target, dropped = data.check_target(frame, params(tmp_path, frame, **fields))
    assert list(kept.columns) == ["x", "disease"]  # `num` holds the target by construction: a perfect leak
    assert kept["disease"].tolist() == [0, 1, 1, 0, 1, 0, 1]
    assert (target.task, target.classes, dropped) == ("binary", ("0", "1"), 1)  # the row without `num`


def test_a_target_expression_the_data_cannot_compute_names_the_key_and_position(tmp_path: Path) -> None:
    frame = pd.DataFrame({"num": [0, 1, 2, 3], "kind": ["a", "b", "a", "b"]})
    with pytest.raises(DataError, match=r"data.target_expression: column 'y': column 'kind' holds text .* position 7"):
        data.check_target(frame, params(tmp_path, frame, target_expression="num + kind"))
    with pytest.raises(DataError, match=r"unknown column 'nm' at position 1"):
        data.check_target(frame, params(tmp_path, frame, target_expression="nm > 0"))


def test_free_text_is_not_counted_as_category_levels() -> None:
    templates = ["call now to win a cash prize", "see you at lunch tomorrow", "free entry in our weekly draw"]
    frame = frame_for("binary").assign(message=[f"{templates[i % 3]} {i}" for i in range(N)])
    result = data.profile(frame, Target("y", "binary", ("no", "yes"), "yes"), 0.98, seed=0)
    assert "message" not in set(result.categories["column"]) and "colour" in set(result.categories["column"])
