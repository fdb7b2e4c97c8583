"""Presentation for stage `deploy`: the card as notebook sections, the bundle's checks, the service trials, the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlworkflow import io
from mlworkflow.records import DEMO_LOG
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy
from mlworkflow.views import deploy as view
from tests import servekit as kit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


def test_demoted_moves_every_heading_one_level_down() -> None:
    assert view.demoted("# Card\n\ntext\n## Data\n") == "## Card\n\ntext\n### Data\n"


def test_trial_requests_get_the_expected_answers(tmp_path: Path, tiny: kit.Tiny) -> None:
    url = deploy.demo_log_url(io.Artifacts(tmp_path))
    app = create_app(tiny.model, kit.params(max_body_bytes=4096), url)
    table = view.service_table(deploy.call_service(app, deploy.trials(tiny.records(5), tiny.contract, 4096)))
    expected = [200, 200, 200, 422, 422, 422, 422, 422, 400, 415, 413, 200, 200, 200, 201, 409, 404]
    assert table["status"].tolist() == expected
    assert table.loc["missing field", "answer"] == "required: row 0, field 'age': is missing"
    assert table.loc["CSV upload", "answer"].startswith("CSV, 5 rows: line,id,prediction")
    assert table.loc["health", "answer"].startswith("status ok; checks model loaded, prediction_log ")
    assert "{" not in table.loc["health", "answer"] and table.loc["feedback", "answer"] == "recorded"
    assert not table["answer"].str.contains("-0'").any()  # no prediction ids in the answers
    log = view.log_table(url)
    assert int(log["rows"].sum()) == 1 + 3 + 5 + 2 + 2 + 1  # predictions, plus one feedback label
    assert deploy.demo_log_url(io.Artifacts(tmp_path)) == url and not io.Artifacts(tmp_path).path(DEMO_LOG).exists()


def test_the_contract_reads_in_words_with_separated_ranges() -> None:
    from mlworkflow.bundle.contract import Column, Contract

    columns = [Column(name="fnlwgt", kind="integer", nullable=False, minimum=21626.0, maximum=972354.0),
               Column(name="rate", kind="number", nullable=True, minimum=0.25, maximum=1250.5),
               Column(name="city", kind="string", nullable=True, categories=("east", "north")),
               Column(name="note", kind="string", nullable=False, free_text=True)]
    table = view.contract_view(Contract(columns=columns))
    assert table["holds"].tolist() == ["whole number", "number", "category", "text"]
    assert table.loc["fnlwgt", "seen in training"] == "21,626 to 972,354"
    assert table.loc["rate", "seen in training"] == "0.250 to 1,250"
    assert table.loc["city", "seen in training"] == "east, north" and "string" not in table.to_string()
