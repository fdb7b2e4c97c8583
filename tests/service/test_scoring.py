"""Scoring: the row-count limits, and one log row per prediction."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlworkflow.bundle.predlog import sqlite_url
from mlworkflow.service import scoring, state
from mlworkflow.service.problems import Problem
from tests import servekit as kit


def test_a_request_needs_one_to_max_rows_records(tiny: kit.Tiny, tmp_path: Path) -> None:
    service = state.build(tiny.model, kit.params(max_rows=3), sqlite_url(tmp_path / "log.sqlite"), None)
    scoring.check_count(service, 3)
    for rows, rule in ((0, "min_rows"), (4, "max_rows")):
        with pytest.raises(Problem) as error:
            scoring.check_count(service, rows)
        assert (error.value.status, error.value.issues[0].rule) == (422, rule)
    service.log.close()


def test_a_log_row_names_the_model_and_keeps_the_class_scores(tiny: kit.Tiny) -> None:
    answer = {"id": "r-0", "prediction": ">50K", "probabilities": {"<=50K": 0.25, ">50K": 0.75}, "flags": ["f"]}
    row = scoring.log_row(tiny.entry, answer, {"age": 40}, "r", "now", "fast")
    assert row == {
        "id": "r-0", "request_id": "r", "created_at": "now", "model_name": "tiny", "model_version": "1",
        "inputs": {"age": 40}, "prediction": ">50K", "scores": {"<=50K": 0.25, ">50K": 0.75}, "flags": ["f"],
        "path": "fast",
    }
    regression = scoring.log_row(tiny.entry, {"id": "r-1", "prediction": 3.5, "flags": []}, {}, "r", "now", "sklearn")
    assert regression["scores"] is None
