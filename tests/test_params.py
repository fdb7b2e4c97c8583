"""The params schema: loading, overrides, and one error template for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlworkflow.errors import ParamsError
from mlworkflow.params import (
    RUN_NAMES,
    STAGES,
    Params,
    load_params,
    section_class,
    section_from_namespace,
    stage_parameters,
)


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,0\n2,1\n", encoding="utf-8")
    return path


def minimal(extra: str = "") -> str:
    return f"run:\n  name: t\ndata:\n  path: d.csv\n  target: y\n{extra}"


def test_shipped_params_files_are_valid(root: Path) -> None:
    for path in sorted((root / "params").glob("*.yaml")):
        params = load_params(path)
        assert isinstance(params, Params)


def test_relative_paths_resolve_against_the_params_file(tmp_path: Path, csv: Path) -> None:
    params = load_params(write(tmp_path, minimal()))
    assert params.data.path == str(csv.resolve())
    assert params.run.seed == 42


def test_unknown_key_names_file_key_and_suggests(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal("  tagret: y\n"))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    message = str(caught.value)
    assert str(path) in message
    assert "key 'data.tagret'" in message
    assert "Did you mean 'target'?" in message


def test_unknown_section_suggests(tmp_path: Path, csv: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'preproces'.*Did you mean 'preprocess'\?"):
        load_params(write(tmp_path, minimal("preproces:\n  drop: []\n")))


def test_wrong_type_names_expected_and_found(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal("preprocess:\n  test_size: lots\n"))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    issue = caught.value.issues[0]
    assert issue.key == "preprocess.test_size"
    assert "number" in issue.expected
    assert issue.found == "'lots'"


def test_out_of_range(tmp_path: Path, csv: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'preprocess.test_size': expected less than 1, found 1.5"):
        load_params(write(tmp_path, minimal("preprocess:\n  test_size: 1.5\n")))


def test_missing_data_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert caught.value.issues[0].key == "data.path"
    assert str(tmp_path / "d.csv") in str(caught.value)


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'data': expected a value \(the key is required\), found nothing"):
        load_params(write(tmp_path, "run:\n  name: t\n"))


def test_every_issue_is_reported_at_once(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal("preprocess:\n  test_size: 2\n  scale: maybe\n"))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert {i.key for i in caught.value.issues} == {"preprocess.test_size", "preprocess.scale"}


def test_source_must_be_path_or_sql(tmp_path: Path) -> None:
    text = "run:\n  name: t\ndata:\n  target: y\n"
    with pytest.raises(ParamsError, match=r"key 'data': expected either 'path' or both"):
        load_params(write(tmp_path, text))


def test_sqlite_url_resolves_relative_file(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite").write_bytes(b"")
    text = "run:\n  name: t\ndata:\n  sql_url: sqlite:///db.sqlite\n  sql_query: t\n  target: y\n"
    params = load_params(write(tmp_path, text))
    assert params.data.sql_url == f"sqlite:///{(tmp_path / 'db.sqlite').resolve()}"


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="expected valid YAML"):
        load_params(write(tmp_path, "run: [unclosed\n"))
    with pytest.raises(ParamsError, match="expected an existing params file"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ParamsError, match="expected a mapping of sections, found a list"):
        load_params(write(tmp_path, "- a\n- b\n"))


def test_a_duplicate_key_at_any_depth_names_the_file_the_key_and_both_lines(tmp_path: Path, csv: Path) -> None:
    twice = write(tmp_path, minimal("data:\n  path: d.csv\n  target: a\n"))  # a second data: section
    with pytest.raises(ParamsError) as raised:
        load_params(twice)
    assert str(raised.value) == f"{twice}: key 'data': expected each key once, found it twice (lines 3 and 6)."
    nested = write(tmp_path, minimal("train:\n  spaces:\n    forest: {max_depth: [2], max_depth: [3]}\n"), "n.yaml")
    with pytest.raises(ParamsError, match=r"n\.yaml: key 'train\.spaces\.forest\.max_depth': expected each key once, "
                       r"found it twice \(lines 8 and 8\)"):
        load_params(nested)


def test_a_params_file_that_is_not_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("run:\n  name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ParamsError) as raised:
        load_params(path)
    assert str(raised.value) == f"{path}: key '(file)': expected UTF-8 text, found byte 0xe9 at offset 16, which is not UTF-8."
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + minimal().encode())
    (tmp_path / "d.csv").write_text("a,y\n1,0\n", encoding="utf-8")
    assert load_params(bom).run.name == "t"  # a byte-order mark is UTF-8 too


def test_a_yaml_error_is_one_line_with_its_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as raised:
        load_params(write(tmp_path, "run:\n  name: [x\n"))
    assert "\n" not in str(raised.value) and "at line 3, column 1" in str(raised.value)
    with pytest.raises(ParamsError, match="unacceptable character #x0000") as raised:
        load_params(write(tmp_path, "run:\n  name: x\x00\n", "nul.yaml"))
    assert "\n" not in str(raised.value)


def test_a_duplicate_key_inside_an_override_value_is_an_error(tmp_path: Path, csv: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'train\.spaces\.forest': expected each key once \(set by --set\)"):
        load_params(write(tmp_path, minimal()), ["train.spaces={forest: {}, forest: {}}"])


def test_overrides_are_parsed_as_yaml_and_marked(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal())
    params = load_params(path, ["run.seed=7", "preprocess.drop=[a]", "preprocess.scale=false"])
    assert params.run.seed == 7
    assert params.preprocess.drop == ("a",)
    assert params.preprocess.scale is False
    with pytest.raises(ParamsError, match=r"found an unknown key \(set by --set\)"):
        load_params(path, ["data.tagret=y"])
    with pytest.raises(ParamsError, match=r"key '--set': expected section.key=value"):
        load_params(path, ["seed"])


def test_run_name_must_be_a_folder_name(tmp_path: Path, csv: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'run\.name'"):
        load_params(write(tmp_path, minimal().replace("name: t", "name: ../escape")))


def test_run_cluster_is_a_dask_scheduler_address(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal())
    assert load_params(path).run.cluster is None
    for address in ("tcp://10.0.0.5:8786", "tls://scheduler.example.org:8786", "tcp://[::1]:8786"):
        assert load_params(path, [f"run.cluster={address}"]).run.cluster == address
    for bad in ("10.0.0.5:8786", "http://10.0.0.5:8786", "tcp://10.0.0.5"):
        with pytest.raises(ParamsError, match=r"key 'run\.cluster': expected a Dask scheduler address tcp://HOST:PORT"):
            load_params(path, [f"run.cluster={bad}"])


def test_stage_parameters_are_flat_and_literal(tmp_path: Path, csv: Path) -> None:
    params = load_params(write(tmp_path, minimal()))
    injected = stage_parameters(params, "preprocess", tmp_path / "artifacts", "params/p.yaml")
    assert injected["seed"] == 42
    assert injected["artifacts"] == str(tmp_path / "artifacts")
    assert injected["params_file"] == "params/p.yaml"
    assert injected["missing_markers"] == ["?"]
    assert set(injected) == set(section_class("preprocess").model_fields) | set(RUN_NAMES)


def test_section_from_namespace_validates(tmp_path: Path, csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    section = section_from_namespace("data", {"path": "d.csv", "target": "y", "seed": 1, "other": 2})
    assert section.model_dump()["target"] == "y"
    with pytest.raises(ParamsError, match=r"notebook 'data' parameters: key 'data\.sample_rows'"):
        section_from_namespace("data", {"path": "d.csv", "target": "y", "sample_rows": 1})


def test_a_notebook_params_error_names_the_params_file_like_check(tmp_path: Path, csv: Path) -> None:
    path = write(tmp_path, minimal() + "train:\n  n_iter: 0\n")
    with pytest.raises(ParamsError) as checked:
        load_params(path)
    namespace = {**load_params(write(tmp_path, minimal(), "ok.yaml")).train.model_dump(), "n_iter": 0}
    with pytest.raises(ParamsError) as in_notebook:
        section_from_namespace("train", {**namespace, "params_file": str(path)})
    assert str(in_notebook.value) == str(checked.value)
    assert str(in_notebook.value).startswith(f"{path}: key 'train.n_iter': expected ")


def test_stages_follow_the_schema_order() -> None:
    assert STAGES[:2] == ("data", "preprocess")
    assert all(section_class(stage).__name__ == f"{stage.capitalize()}Params" for stage in STAGES)


def test_formulas_outside_the_grammar_name_the_key_and_position_without_data(tmp_path: Path, csv: Path) -> None:
    extra = "  target_expression: 'a >'\npreprocess:\n  features:\n    ok: log1p(a)\n    bad: __import__('os')\n"
    path = write(tmp_path, minimal(extra))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    issues = {issue.key: issue for issue in caught.value.issues}
    assert set(issues) == {"data.target_expression", "preprocess.features.bad"}
    assert "a syntax error" in issues["data.target_expression"].expected
    assert "unknown function '__import__'" in issues["preprocess.features.bad"].expected
    assert "at position 1" in issues["preprocess.features.bad"].expected


def test_formulas_of_the_grammar_are_kept_as_written(tmp_path: Path, csv: Path) -> None:
    extra = "  target_expression: a > 1\npreprocess:\n  features: {twice: '2 * `a`'}\n"
    params = load_params(write(tmp_path, minimal(extra)))
    assert params.data.target_expression == "a > 1"
    assert params.preprocess.features == {"twice": "2 * `a`"}


def test_reader_options_are_typed_and_reach_the_data_stage(tmp_path: Path, csv: Path) -> None:
    text = minimal().replace("  target: y\n", "  target: y\n  read:\n    sep: ';'\n    na_values: [none]\n"
                             "    keep_default_na: false\n    thousands: ' '\n    decimal: ','\n    parse_dates: [a]\n")
    params = load_params(write(tmp_path, text))
    assert params.data.read.sep == ";" and params.data.read.na_values == ("none",)
    injected = stage_parameters(params, "data", tmp_path / "artifacts", "p.yaml")
    assert injected["read"]["thousands"] == " " and injected["read"]["parse_dates"] == ["a"]
    assert section_from_namespace("data", {**injected, "path": str(csv)}).read == params.data.read


@pytest.mark.parametrize(
    ("read", "key", "expected"),
    [
        ("sep: ';;'", "data.read.sep", "one character other than a quote or a line break"),
        ("encoding: klingon", "data.read.encoding", "a Python codec name"),
        ("decimal: ','\n    thousands: ','", "data.read", "'thousands' and 'decimal' must differ"),
        ("date_format: YYYY-MM-DD", "data.read.date_format", "a strftime format"),
        ("seperator: ';'", "data.read.seperator", "one of sep, encoding"),
        ("na_values: NA", "data.read.na_values", "a valid tuple"),
    ],
)
def test_a_bad_reader_option_names_its_key(tmp_path: Path, csv: Path, read: str, key: str, expected: str) -> None:
    with pytest.raises(ParamsError) as caught:
        load_params(write(tmp_path, minimal().replace("  target: y\n", f"  target: y\n  read:\n    {read}\n")))
    issue = caught.value.issues[0]
    assert issue.key == key and expected in issue.expected


def test_roles_and_text_settings_are_checked_before_any_data_is_read(tmp_path: Path, csv: Path) -> None:
    ok = load_params(write(tmp_path, minimal("preprocess:\n  roles: {a: text}\n  text_char_ngrams: null\n")))
    assert ok.preprocess.roles == {"a": "text"} and ok.preprocess.text_char_ngrams is None
    with pytest.raises(ParamsError, match=r"key 'preprocess.roles.a': expected 'numeric', 'categorical', .*found 'words'"):
        load_params(write(tmp_path, minimal("preprocess:\n  roles: {a: words}\n")))
    with pytest.raises(ParamsError, match=r"key 'preprocess.text_ngrams': expected an n-gram range"):
        load_params(write(tmp_path, minimal("preprocess:\n  text_ngrams: [3, 1]\n")))
