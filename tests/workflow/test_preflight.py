"""Formulas in params are checked against the data file's header before any kernel starts."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlworkflow.errors import ParamsError
from mlworkflow.params import validate
from mlworkflow.workflow import preflight


def checked(tmp_path: Path, data: dict[str, Any], features: dict[str, str]) -> None:
    """Write a small CSV, validate params naming it, and run the header check."""
    path = tmp_path / "trips.csv"
    pd.DataFrame({"pickup": ["2019-03-01 10:00"], "dropoff": ["2019-03-01 10:20"], "fare": [7.0], "num": [1]}).to_csv(
        path, index=False
    )
    raw = {"run": {"name": "t"}, "data": {"path": str(path), "target": "fare", **data}, "preprocess": {"features": features}}
    preflight.check_columns(validate(raw, "p.yaml", tmp_path), "p.yaml")


def test_formulas_of_known_columns_pass(tmp_path: Path) -> None:
    checked(tmp_path, {}, {"trip_minutes": "minutes(dropoff - pickup)", "busy": "`num` > 0"})


def test_an_unknown_column_names_the_key_the_position_and_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as caught:
        checked(tmp_path, {}, {"trip_minutes": "minutes(dropof - pickup)"})
    assert str(caught.value) == (
        "p.yaml: key 'preprocess.features.trip_minutes': expected columns of the data, found 'dropof' at "
        "position 9 of 'minutes(dropof - pickup)'. Did you mean 'dropoff'?"
    )


def test_features_may_not_read_the_target_or_the_target_formula_inputs(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as caught:
        checked(tmp_path, {"target": "sick", "target_expression": "num > 0"}, {"a": "num * 2", "fare": "1"})
    message = str(caught.value)
    assert "key 'preprocess.features.a'" in message and "'num' at position 1, an input of data.target_expression" in message
    assert "key 'preprocess.features.fare': expected a name that is not a column of the data" in message


def test_an_unknown_column_in_the_target_formula(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"key 'data.target_expression': expected columns of the data, found 'nmu'"):
        checked(tmp_path, {"target": "sick", "target_expression": "nmu > 0"}, {})


def test_a_sql_source_is_left_to_the_stages(tmp_path: Path) -> None:
    raw = {"run": {"name": "t"}, "data": {"sql_url": "sqlite://", "sql_query": "select 1", "target": "y"},
           "preprocess": {"features": {"a": "nope * 2"}}}
    preflight.check_columns(validate(raw, "p.yaml", tmp_path), "p.yaml")


def test_the_header_is_read_with_the_files_separator(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("width;height;fare\n1;2;3\n4;5;6\n", encoding="utf-8")
    raw = {"run": {"name": "t"}, "data": {"path": str(path), "target": "fare", "read": {"sep": ";"}},
           "preprocess": {"features": {"area": "width * height"}}}
    preflight.check_columns(validate(raw, "p.yaml", tmp_path), "p.yaml")
    raw["preprocess"] = {"features": {"area": "width * depth"}}
    with pytest.raises(ParamsError, match="found 'depth' at position 9"):
        preflight.check_columns(validate(raw, "p.yaml", tmp_path), "p.yaml")


def cluster_params(tmp_path: Path, cluster: str | None) -> Any:
    """Valid params naming a small CSV and, when given, a Dask scheduler with a one-second connection check."""
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}).to_csv(path, index=False)
    run = {"name": "t", "cluster": cluster, "cluster_timeout_s": 1}
    return validate({"run": run, "data": {"path": str(path), "target": "y"}}, "p.yaml", tmp_path)


def test_no_cluster_means_no_connection_check(tmp_path: Path) -> None:
    preflight.check_cluster(cluster_params(tmp_path, None), "p.yaml")


def test_an_unreachable_cluster_names_the_key_the_address_and_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ParamsError) as caught:
        preflight.check_cluster(cluster_params(tmp_path, address), "p.yaml")
    message = str(caught.value)
    assert message.startswith("p.yaml: key 'run.cluster': expected a Dask scheduler with at least one worker")
    assert f"found no answer from {address} within 1 s" in message and "(run.cluster_timeout_s)" in message
